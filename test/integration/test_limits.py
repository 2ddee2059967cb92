#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Connection limits and back-pressure: a client over
limits.connections_per_client gets 421 and the next client is served; a
client that pipelines commands without reading the replies is stopped by
TCP flow control instead of growing the daemon's buffers."""

import socket
import sys

import harness


def connect(world):
    sock = socket.create_connection(("127.0.0.1", world.smtp_port),
                                    timeout=20)
    return sock, sock.recv(4096).decode()


def body(world, tap):
    world.start_daemon()
    first, greeting = connect(world)
    tap.check(greeting.startswith("220"), "first connection greeted",
              greeting)
    second, greeting = connect(world)
    tap.check(greeting.startswith("220"), "second connection greeted",
              greeting)
    third, greeting = connect(world)
    tap.check(greeting.startswith("421 4.7.0"),
              "third connection from the client gets 421", greeting)
    third.close()
    second.close()

    # A client that never reads: its send must block once the daemon
    # stops reading, long before 64 MB are accepted.
    first.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    first.settimeout(5)
    chunk = b"NOOP\r\n" * 10000
    sent = 0
    try:
        while sent < 64 * 1024 * 1024:
            first.sendall(chunk)
            sent += len(chunk)
    except socket.timeout:
        pass
    tap.check(sent < 64 * 1024 * 1024,
              "daemon stops reading a client that reads no replies",
              f"{sent} bytes accepted")
    first.close()

    fresh, greeting = connect(world)
    tap.check(greeting.startswith("220"), "next client is served",
              greeting)
    fresh.close()
    tap.check(world.daemon.poll() is None, "daemon still running")


if __name__ == "__main__":
    sys.exit(harness.run(body, extra_config="limits = { "
                         "connections_per_client = 2; };"))
