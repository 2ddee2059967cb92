#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""SMTP limits over real sockets: connections in all and per client,
recipients per message, protocol errors per session and text line length
each get their documented reply, and the next client is served; a client
that pipelines commands without reading the replies is stopped by TCP
flow control instead of growing the daemon's buffers."""

import socket
import sys

import harness


def connect(world, source="127.0.0.1"):
    sock = socket.create_connection(("127.0.0.1", world.smtp_port),
                                    timeout=20, source_address=(source, 0))
    return sock, sock.recv(4096).decode()


def connect_when_free(world, source):
    """Connects once the daemon has seen earlier clients leave."""
    def attempt():
        sock, greeting = connect(world, source)
        if greeting.startswith("220"):
            return sock
        sock.close()
        return None
    return harness.wait_for(attempt, 10, "a free connection slot")


def command(sock, line):
    sock.sendall(line.encode() + b"\r\n")
    return harness.smtp_reply(sock)


def check_connections(world, tap):
    first, greeting = connect(world)
    tap.check(greeting.startswith("220"), "first connection greeted",
              greeting)
    second, greeting = connect(world)
    tap.check(greeting.startswith("220"), "second connection greeted",
              greeting)
    third, greeting = connect(world)
    tap.check(greeting.startswith("421 4.7.0"),
              "third connection from one client gets 421", greeting)
    third.close()
    other, greeting = connect(world, "127.0.0.2")
    tap.check(greeting.startswith("220"), "another client is served",
              greeting)
    over, greeting = connect(world, "127.0.0.3")
    tap.check(greeting.startswith("421 4.7.0"),
              "a connection over limits.connections gets 421", greeting)
    over.close()
    other.close()
    second.close()
    return first


def check_transaction_limits(world, tap):
    sock = connect_when_free(world, "127.0.0.4")
    command(sock, "EHLO client.example.net")
    command(sock, "MAIL FROM:<dana@customer.example.net>")
    command(sock, "RCPT TO:<critical@support.example.com>")
    again = command(sock, "RCPT TO:<critical@support.example.com>")
    tap.check(again.startswith("250"), "a repeated recipient is kept once",
              again)
    over = command(sock, "RCPT TO:<high@support.example.com>")
    tap.check(over.startswith("452 4.5.3"),
              "a recipient over limits.recipients gets 452", over)
    command(sock, "RSET")
    command(sock, "MAIL FROM:<dana@customer.example.net>")
    command(sock, "RCPT TO:<critical@support.example.com>")
    command(sock, "DATA")
    sock.sendall(b"Subject: long\r\n\r\n" + b"z" * 2000 + b"\r\n.\r\n")
    long_line = sock.recv(4096).decode()
    tap.check(long_line.startswith("500 5.5.2 text line"),
              "a line over limits.line_bytes gets 500", long_line)
    replies = [command(sock, "BOGUS") for _ in range(3)]
    tap.check(replies[-1].startswith("500") and "421 4.7.0" in
              replies[-1] + sock.recv(4096).decode(),
              "errors over limits.errors_per_session get 421", replies)
    sock.close()
    tap.check(len(world.incidents()) == 0, "refused mail stored nothing")


def check_backpressure(world, tap, first):
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


def body(world, tap):
    world.start_daemon()
    first = check_connections(world, tap)
    check_transaction_limits(world, tap)
    check_backpressure(world, tap, first)
    fresh = connect_when_free(world, "127.0.0.5")
    tap.check(fresh is not None, "next client is served")
    fresh.close()
    tap.check(world.daemon.poll() is None, "daemon still running")


if __name__ == "__main__":
    sys.exit(harness.run(body, extra_config="limits = { connections = 3; "
                         "connections_per_client = 2; recipients = 1; "
                         "errors_per_session = 3; line_bytes = 998; };"))
