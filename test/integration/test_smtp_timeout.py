#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""SMTP session limits: an idle client is cut off with 421 after
smtp.idle_timeout_s, and a slow-drip client after smtp.session_timeout_s
however often it sends a byte."""

import socket
import sys
import time

import harness



def body(world, tap):
    world.start_daemon()
    idle = socket.create_connection(("127.0.0.1", world.smtp_port),
                                    timeout=20)
    harness.smtp_reply(idle)
    reply = harness.smtp_reply(idle)
    tap.check(reply.startswith("421 4.4.2"), "idle client gets 421", reply)
    tap.check(idle.recv(1) == b"", "idle client disconnected")
    idle.close()

    drip = socket.create_connection(("127.0.0.1", world.smtp_port),
                                    timeout=20)
    harness.smtp_reply(drip)
    drip.settimeout(0.3)
    reply = ""
    deadline = time.monotonic() + 20
    # One byte at a time keeps the idle timer from firing; the whole-
    # session limit must end the session anyway.
    while not reply and time.monotonic() < deadline:
        try:
            drip.send(b"N")
            reply = drip.recv(4096).decode()
        except socket.timeout:
            continue
        except OSError:
            break
    tap.check(reply.startswith("421 4.4.2"), "slow-drip client gets 421",
              reply)
    drip.close()
    tap.check(world.daemon.poll() is None, "daemon still running")


if __name__ == "__main__":
    sys.exit(harness.run(body, extra_config="limits = { idle_seconds = 1; "
                         "session_seconds = 2; };"))
