#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""LMTP (RFC 2033) on a Unix socket, as Postfix's lmtp(8) uses it: LHLO,
one reply per recipient after DATA, and the message opens an incident
like one that came over SMTP."""

import os
import smtplib
import sys

import harness


def body(world, tap):
    world.start_daemon()
    tap.check(os.path.exists(world.lmtp), "LMTP socket created",
              world.lmtp)
    client = smtplib.LMTP(world.lmtp, timeout=30)
    code, _ = client.ehlo("mta.test")
    tap.check(code == 250, "LHLO accepted", code)
    refused = client.sendmail(
        "dana@customer.example.net",
        ["critical@support.example.com", "high@support.example.com",
         "nobody@support.example.com"],
        harness.message().encode())
    tap.check(list(refused) == ["nobody@support.example.com"],
              "only the unrouted recipient refused", refused)
    client.quit()
    inc = harness.wait_for(world.incidents, what="incident over LMTP")[0]
    tap.check(inc["severity"] == "critical",
              "two routed recipients: the higher severity", inc)
    harness.wait_for(lambda: len(world.pages_at_sim()) >= 4, 20,
                     "pages for the LMTP message")
    tap.check(True, "LMTP message paged the team")

    try:
        client = smtplib.LMTP(world.lmtp, timeout=30)
        code, _ = client.docmd("EHLO", "mta.test")
        tap.check(code == 500, "EHLO refused on the LMTP socket", code)
        client.close()
    except smtplib.SMTPException as exc:
        tap.check(False, "EHLO refused on the LMTP socket", repr(exc))

    world.kill_daemon(harness.signal.SIGTERM)
    tap.check(world.daemon.returncode == 0, "daemon stops cleanly",
              world.daemon.returncode)
    tap.check(not os.path.exists(world.lmtp), "socket removed at stop")


if __name__ == "__main__":
    sys.exit(harness.run(body, lmtp="unix"))
