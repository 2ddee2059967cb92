#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""SMTP intake over real sockets: swaks and raw dialogues.  Unknown
recipients, bare line endings, smuggling and oversize messages are
rejected and store nothing; a good message from swaks opens an incident."""

import os
import shutil
import socket
import subprocess
import sys

import harness

DATA = os.path.join(harness.HERE, "..", "data", "smtp")


Dialogue = harness.Dialogue


def start_data(port):
    d = Dialogue(port)
    d.cmd("EHLO client.example.net")
    d.cmd("MAIL FROM:<dana@customer.example.net>")
    d.cmd("RCPT TO:<critical@support.example.com>")
    return d, d.cmd("DATA")


def stored_count(world):
    rc, out = world.cli("incidents", "--json")
    return len(world.incidents())


def body(world, tap):
    world.start_daemon()
    d = Dialogue(world.smtp_port)
    tap.check(d.greeting.startswith("220 mx.test.example"), "greeting",
              d.greeting)
    ehlo = d.cmd("EHLO client.example.net")
    for ext in ("PIPELINING", "SIZE 1048576", "8BITMIME",
                "ENHANCEDSTATUSCODES"):
        tap.check(ext in ehlo, f"EHLO announces {ext}", ehlo)
    d.cmd("MAIL FROM:<dana@customer.example.net>")
    relay = d.cmd("RCPT TO:<someone@elsewhere.example.org>")
    tap.check(relay.startswith("550 5.1.1"), "relay attempt rejected", relay)
    tap.check(d.cmd("VRFY critical").startswith("252"), "VRFY answers 252")
    tap.check(d.cmd("QUIT").startswith("221"), "QUIT")
    d.close()

    for name in ("smuggle-lf-dot-crlf.eml", "smuggle-lf-dot-lf.eml",
                 "bare-lf-in-folded-header.eml"):
        d, go = start_data(world.smtp_port)
        with open(os.path.join(DATA, name), "rb") as f:
            d.send(f.read())
        final = d.reply()
        tap.check(final is not None and final.startswith("550 5.5.2") and
                  "bare" in final, f"{name}: one 550 naming bare LF/CR",
                  final)
        tap.check(d.cmd("NOOP").startswith("250"),
                  f"{name}: no smuggled reply follows", "")
        d.close()
    # The same streams split across TCP segments at every byte.
    for name in ("smuggle-lf-dot-crlf.eml", "smuggle-lf-dot-lf.eml"):
        d, go = start_data(world.smtp_port)
        d.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with open(os.path.join(DATA, name), "rb") as f:
            for byte in f.read():
                d.send(bytes([byte]))
        final = d.reply()
        tap.check(final is not None and final.startswith("550 5.5.2"),
                  f"{name} byte by byte: one 550", final)
        tap.check(d.cmd("NOOP").startswith("250"),
                  f"{name} byte by byte: no smuggled reply follows", "")
        d.close()
    tap.check(stored_count(world) == 0, "rejected data stored nothing")

    d, go = start_data(world.smtp_port)
    d.send(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 1100 +
           b".\r\n")
    big = d.reply()
    tap.check(big.startswith("552"), "oversize message gets 552", big)
    d.close()
    tap.check(stored_count(world) == 0, "oversize message stored nothing")

    swaks = shutil.which("swaks")
    if swaks is None:
        print("# SKIP swaks is not installed; contrib/test.sh installs it")
        return
    proc = subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(world.smtp_port),
         "--from", "ops@partner.example.org",
         "--to", "high@support.example.com",
         "--header", "Subject: Inbound SMS replies delayed",
         "--header", "Message-ID: <swaks-1@partner.example.org>",
         "--body", "Replies from handsets arrive 20 minutes late."],
        capture_output=True, text=True, timeout=60)
    tap.check(proc.returncode == 0, "swaks delivers", proc.stdout[-2000:])
    tap.check("<-  250 2.0.0" in proc.stdout, "swaks sees 250 after DATA",
              proc.stdout[-2000:])
    inc = harness.wait_for(world.incidents, what="incident from swaks")[0]
    tap.check(inc["severity"] == "high", "high route sets severity high",
              inc)
    tap.check(inc["subject"] == "Inbound SMS replies delayed",
              "swaks subject", inc["subject"])


if __name__ == "__main__":
    sys.exit(harness.run(body))
