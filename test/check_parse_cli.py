#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
""""critgate parse" shows the severity of the route a message takes, and
no severity for a message that no route takes.  It rejects an option
given twice, except --recipient, which lists, and so does serve."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

CRITGATE = os.environ["CRITGATE"]
ETC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "etc")
MESSAGE = (b"From: Dana <dana@customer.example.net>\r\n"
           b"To: critical@support.example.com\r\n"
           b"Subject: Checkout down\r\n"
           b"Message-ID: <parse-cli@customer.example.net>\r\n\r\n"
           b"Every payment fails.\r\n")


def parse(config, path, *extra):
    proc = subprocess.run([CRITGATE, "parse", "--config", config, *extra,
                           path], capture_output=True, text=True,
                          timeout=30)
    return proc.returncode, proc.stdout, proc.stderr


def main():
    checks = []
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "critgate.conf")
        shutil.copy(os.path.join(ETC, "critgate-demo.conf"), config)
        os.chmod(config, 0o600)
        routed = os.path.join(tmp, "routed.eml")
        with open(routed, "wb") as f:
            f.write(MESSAGE)
        empty = os.path.join(tmp, "empty.eml")
        open(empty, "wb").close()

        rc, out, err = parse(config, routed)
        checks.append((rc == 0 and "severity:    critical\n" in out,
                       "routed message shows its route's severity",
                       out + err))
        rc, out, err = parse(config, empty)
        checks.append((rc == 0 and
                       "severity:    - (no routed recipient)\n" in out,
                       "unrouted message shows no severity", out + err))
        rc, out, err = parse(config, empty, "--json")
        result = json.loads(out) if rc == 0 else {}
        checks.append((rc == 0 and "severity" in result and
                       result["severity"] is None,
                       "unrouted message has null severity in JSON",
                       out + err))
        rc, out, err = parse(config, routed, "--sender", "a@example.net",
                             "--sender", "b@example.net")
        checks.append((rc == 2 and "--sender is repeated" in err,
                       "a repeated --sender is rejected", out + err))
        rc, out, err = parse(config, routed, "-r",
                             "critical@support.example.com", "-r",
                             "high@support.example.com")
        checks.append((rc == 0 and "severity:    critical\n" in out,
                       "--recipient may repeat", out + err))
        # A group of short options counts each of them.
        proc = subprocess.run([CRITGATE, "serve", "-vc", config, "-c",
                               config], capture_output=True, text=True,
                              timeout=30)
        checks.append((proc.returncode == 2 and
                       "--config is repeated" in proc.stderr,
                       "serve rejects -c in -vc given again",
                       proc.stdout + proc.stderr))
    for n, (ok, name, detail) in enumerate(checks, 1):
        print(f"{'ok' if ok else 'not ok'} {n} - {name}")
        if not ok:
            print("# " + detail.strip().replace("\n", "\n# "))
    print(f"1..{len(checks)}")
    return 0 if all(ok for ok, _, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
