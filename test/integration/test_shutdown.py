#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A graceful stop: on SIGTERM the listener closes, an idle session gets
421 at once, a session in the middle of DATA finishes its message (250,
then 421), and the message is stored before the daemon exits 0."""

import signal
import socket
import sys

import harness



def body(world, tap):
    world.start_daemon()
    idle = socket.create_connection(("127.0.0.1", world.smtp_port),
                                    timeout=20)
    harness.smtp_reply(idle)
    busy = harness.smtp_open_data(world.smtp_port)
    busy.sendall(harness.message().encode())

    world.daemon.send_signal(signal.SIGTERM)
    closing = harness.smtp_reply(idle)
    tap.check(closing.startswith("421 4.3.2"), "idle session gets 421",
              closing)
    harness.wait_for(lambda: "stopping" in world.log(), 10, "stop logged")
    try:
        late = socket.create_connection(("127.0.0.1", world.smtp_port),
                                        timeout=5)
        late.close()
        tap.check(False, "listener closed at the stop")
    except OSError:
        tap.check(True, "listener closed at the stop")

    busy.sendall(b".\r\n")
    lines = []
    while len(lines) < 2:
        text = harness.smtp_reply(busy)
        if not text:
            break
        lines += text.splitlines()
    tap.check(len(lines) >= 1 and lines[0].startswith("250"),
              "message in DATA finishes with 250", lines)
    tap.check(len(lines) == 2 and lines[1].startswith("421 4.3.2"),
              "then 421", lines)
    world.daemon.wait(timeout=20)
    tap.check(world.daemon.returncode == 0, "daemon exits 0",
              world.daemon.returncode)
    world.daemon = None
    rc, out = world.cli("messages", "--json")
    stored = harness.json.loads(out) if rc == 0 else []
    tap.check(len(stored) == 1, "the message was stored", stored)


if __name__ == "__main__":
    sys.exit(harness.run(body))
