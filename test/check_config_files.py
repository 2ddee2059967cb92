#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The shipped config files pass "critgate check-config" once private (and,
for the annotated sample, once its placeholder secrets are filled in), and
the same file readable by others is rejected, as "serve" would.  The
sample as shipped is rejected for its placeholders."""

import os
import shutil
import subprocess
import sys
import tempfile

CRITGATE = os.environ["CRITGATE"]
ETC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "etc")


def check(path):
    proc = subprocess.run([CRITGATE, "check-config", "--config", path],
                          capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout + proc.stderr


def main():
    count = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "shipped.conf")
        shutil.copy(os.path.join(ETC, "critgate.conf"), path)
        os.chmod(path, 0o600)
        rc, out = check(path)
        count += 1
        ok = rc == 1 and out.count("example config's placeholder") == 3
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {count} - the sample as shipped "
              "names its three placeholders")
        if not ok:
            print("# exit %d: %s" % (rc, out.strip()))
        for name in ("critgate.conf", "critgate-demo.conf"):
            path = os.path.join(tmp, name)
            with open(os.path.join(ETC, name)) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("replace-with-", "filled-in-"))
            for mode, want_rc, want_text in (
                    (0o600, 0, "configuration OK"),
                    (0o644, 1, "chmod 600")):
                os.chmod(path, mode)
                rc, out = check(path)
                count += 1
                ok = rc == want_rc and want_text in out
                failed += not ok
                print(f"{'ok' if ok else 'not ok'} {count} - {name} "
                      f"mode {mode:o} gives exit {want_rc}")
                if not ok:
                    print("# exit %d: %s" % (rc, out.strip()))
    print(f"1..{count}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
