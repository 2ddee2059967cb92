#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The MTA pipe: "critgate deliver" stores a message for the running
daemon, which pages within a bound; sysexits.h statuses tell the MTA to
bounce (unrouted recipient, oversize message) or retry (store
unavailable)."""

import os
import subprocess
import sys

import harness


def deliver(world, text, *args, config=None):
    proc = subprocess.run(
        [harness.CRITGATE, "deliver", "--config", config or world.config,
         *args], input=text.encode(), capture_output=True, timeout=30)
    return proc.returncode, proc.stderr.decode()


def body(world, tap):
    world.start_daemon()
    # pipe(8) hands over LF-only lines.
    text = harness.message().replace("\r\n", "\n")
    rc, err = deliver(world, text, "--sender", "dana@customer.example.net",
                      "--recipient", "critical@support.example.com")
    tap.check(rc == 0, "deliver exits 0 once stored", err)
    inc = harness.wait_for(world.incidents, 10, "incident from the pipe")[0]
    tap.check(inc["subject"] == "Checkout down for all EU customers",
              "piped message parsed", inc)
    harness.wait_for(lambda: len(world.pages_at_sim()) >= 4, 10,
                     "pages for the piped message")
    tap.check(True, "daemon paged the piped message")

    rc, err = deliver(world, text, "--sender", "x@example.org",
                      "--recipient", "nobody@support.example.com")
    tap.check(rc == 67, "unrouted recipient exits 67 (EX_NOUSER)",
              f"{rc} {err}")
    big = "Subject: big\n\n" + ("x" * 999 + "\n") * 1100
    rc, err = deliver(world, big, "--sender", "x@example.org",
                      "--recipient", "critical@support.example.com")
    tap.check(rc == 65, "oversize message exits 65 (EX_DATAERR)",
              f"{rc} {err}")
    bounce = ("From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered "
              "Mail Returned to Sender\n\nSorry.\n")
    rc, err = deliver(world, bounce, "--sender", "<>", "--recipient",
                      "critical@support.example.com")
    tap.check(rc == 0, "a bounce with sender <> is stored", f"{rc} {err}")
    harness.wait_for(lambda: harness.json.loads(
        world.cli("messages", "--json")[1])[-1]["class"], 10,
        "bounce classified")
    last = harness.json.loads(world.cli("messages", "--json")[1])[-1]
    tap.check(last["mail_from"] == "" and last["class"] in
              ("bounce", "auto-reply"), "<> is the null sender; no page",
              last)
    rc, err = deliver(world, text, "--recipient",
                      "critical@support.example.com")
    tap.check(rc == 64, "missing --sender exits 64 (EX_USAGE)",
              f"{rc} {err}")
    rc, err = deliver(world, text, "--sender", "dana@customer.example.net",
                      "--sender", "eve@attacker.example", "--recipient",
                      "critical@support.example.com")
    tap.check(rc == 64 and "--sender is repeated" in err,
              "a second --sender exits 64 (EX_USAGE)", f"{rc} {err}")

    broken = os.path.join(world.dir, "broken.conf")
    with open(world.config) as f:
        conf = f.read().replace(f'store = "{world.dir}/critgate.db"',
                                'store = "/dev/null/critgate.db"')
    with open(broken, "w") as f:
        f.write(conf)
    os.chmod(broken, 0o600)
    rc, err = deliver(world, text, "--sender", "x@example.org",
                      "--recipient", "critical@support.example.com",
                      config=broken)
    tap.check(rc == 75, "unavailable store exits 75 (EX_TEMPFAIL)",
              f"{rc} {err}")
    tap.check(len(world.incidents()) == 1,
              "refused messages and the bounce opened nothing")


if __name__ == "__main__":
    sys.exit(harness.run(body))
