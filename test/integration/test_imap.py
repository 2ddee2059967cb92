#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The IMAP poller against a real Dovecot on 127.0.0.1.

Messages appended with IMAP APPEND open incidents and get \\Seen, or are
moved.  A connection cut in the middle of a fetch, or between the commit
and the flag, loses nothing and opens no second incident.  The poller
falls back to polling when the server hides IDLE, reads the mailbox again
after a UIDVALIDITY change, and keeps retrying a wrong password without
exiting.  Over implicit TLS and STARTTLS it reads mail only from a server
whose certificate chains to a trusted CA (here imap.ca_file) and names
imap.host.  It rejects any other certificate and logs the reason."""

import imaplib
import os
import re
import sqlite3
import sys

import harness
from imap_server import (Dovecot, Proxy, TlsGreeter, Unavailable,
                         make_server_cert, make_test_ca)

USER = "critical@support.example.com"
PASSWORD = "imap-test-password-1"
MOVE_USER = "moves@support.example.com"
BAD_USER = "wrongpw@support.example.com"
TLS_USER = "tls@support.example.com"
STARTTLS_USER = "starttls@support.example.com"
UNTRUSTED_USER = "untrusted@support.example.com"
OTHER_NAME = "imap.other.example"

# GnuTLS 3.7's text for each verification failure.
UNKNOWN_ISSUER = "The certificate issuer is unknown"
WRONG_NAME = "The name in the certificate does not match"


def imap_config(base, port, user, password, after_commit="seen",
                host="127.0.0.1", security="none", ca_file=None):
    path = os.path.join(base, f"{user}.pass")
    with open(path, "w") as f:
        f.write(password)
    os.chmod(path, 0o600)
    ca = f'ca_file = "{ca_file}";' if ca_file is not None else ""
    return f"""
imap = {{ host = "{host}"; port = {port}; security = "{security}"; {ca}
         user = "{user}"; password_file = "{path}"; mailbox = "INBOX";
         after_commit = "{after_commit}"; poll_seconds = 1; }};
"""


def mail(n, to="critical@support.example.com"):
    return (f"From: Dana Customer <dana{n}@customer.example.net>\r\n"
            f"To: {to}\r\n"
            f"Subject: Outage number {n} in region {n}\r\n"
            f"Message-ID: <imap-{n}@customer.example.net>\r\n"
            "Date: Thu, 15 Jan 2026 10:00:00 +0000\r\n"
            "Return-Path: <bounces@customer.example.net>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "\r\n"
            f"Service {n} fails with error 50{n} everywhere.\r\n").encode()


class Mailbox:
    """An imaplib client straight to Dovecot, as the mail provider's side."""

    def __init__(self, port, user, password):
        self.port, self.user, self.password = port, user, password

    def _session(self):
        m = imaplib.IMAP4("127.0.0.1", self.port)
        m.login(self.user, self.password)
        return m

    def append(self, n, folder="INBOX"):
        m = self._session()
        try:
            typ, _ = m.append(folder, None, None, mail(n))
            assert typ == "OK"
        finally:
            m.logout()

    def append_raw(self, raw, folder="INBOX"):
        m = self._session()
        try:
            typ, _ = m.append(folder, None, None, raw)
            assert typ == "OK"
        finally:
            m.logout()

    def expunge_all(self, folder="INBOX"):
        m = self._session()
        try:
            typ, data = m.select(folder)
            if typ == "OK" and int(data[0]) > 0:
                m.store("1:*", "+FLAGS", "\\Deleted")
                m.expunge()
        finally:
            m.logout()

    def flags(self, folder="INBOX"):
        """Returns {uid: flags text} of every message in folder."""
        m = self._session()
        try:
            typ, _ = m.select(folder)
            if typ != "OK":
                return {}
            typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
            out = {}
            for item in data or []:
                if not item:
                    continue
                text = item.decode()
                uid = re.search(r"UID (\d+)", text)
                flags = re.search(r"FLAGS \(([^)]*)\)", text)
                if uid and flags:
                    out[int(uid.group(1))] = flags.group(1)
            return out
        finally:
            m.logout()


def stored(world):
    """Returns (message_id, incident_id) of each message read over IMAP."""
    db = sqlite3.connect(f"file:{world.dir}/critgate.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT message_id, incident_id FROM messages "
                          "WHERE peer LIKE 'imap:%' ORDER BY id").fetchall()
    finally:
        db.close()


def processed(world, count):
    rows = stored(world)
    return len(rows) >= count and all(r[1] is not None for r in rows)


def all_seen(box, count):
    flags = box.flags()
    return len(flags) == count and all("\\Seen" in f
                                       for f in flags.values())


def check_once_each(world, tap, ids, what):
    """Each Message-ID in ids opened exactly one incident, and every stored
    copy of it belongs to that incident."""
    rows = stored(world)
    by_id = {}
    for message_id, incident in rows:
        by_id.setdefault(message_id, set()).add(incident)
    missing = [i for i in ids if i not in by_id]
    tap.check(not missing, f"{what}: every message stored", missing)
    split = {k: v for k, v in by_id.items() if len(v) != 1}
    tap.check(not split, f"{what}: copies share one incident", split)
    tap.check(len(world.incidents()) == len(by_id),
              f"{what}: one incident per distinct message",
              f"{len(world.incidents())} incidents for {len(by_id)} ids")


def body_main(world, tap, dovecot, proxy, base):
    box = Mailbox(dovecot.port, USER, PASSWORD)
    box.append(1)
    box.append(2)
    world.start_daemon()

    harness.wait_for(lambda: len(world.incidents()) == 2, 20,
                     "incidents for the two waiting messages")
    tap.check(True, "messages present at start open incidents")
    harness.wait_for(lambda: all_seen(box, 2), 10, "\\Seen on both")
    tap.check(True, "committed messages get \\Seen")
    tap.check("idle=yes" in world.log(), "poller uses IDLE",
              "no 'idle=yes' in the log")
    rows = stored(world)
    tap.check(len(rows) == 2, "each message stored once", rows)

    # Delivered while the poller idles: IDLE wakes it.
    box.append(3)
    harness.wait_for(lambda: len(world.incidents()) == 3, 20,
                     "incident for a message appended during IDLE")
    tap.check(True, "message appended during IDLE opens an incident")

    # The connection drops halfway through the message's literal.
    connections = proxy.connections
    proxy.cut_in_body = True
    box.append(4)
    harness.wait_for(lambda: processed(world, 4) and all_seen(box, 4), 20,
                     "message 4 after the cut mid-fetch")
    tap.check(proxy.cuts >= 1 and not proxy.cut_in_body,
              "connection was cut mid-fetch", f"cuts={proxy.cuts}")
    tap.check(proxy.connections > connections, "poller reconnected",
              f"connections {connections} -> {proxy.connections}")
    tap.check("imap: reconnecting" in world.log(), "reconnect logged",
              "no 'imap: reconnecting' line")
    ids = [r[0] for r in stored(world)]
    tap.check(ids.count("imap-4@customer.example.net") == 1,
              "message cut mid-fetch stored exactly once", ids)

    # The connection drops after the commit, before the \Seen flag: the
    # message is fetched and stored again, and deduplication absorbs it.
    proxy.cut_before_flag = True
    box.append(5)
    harness.wait_for(lambda: not proxy.cut_before_flag and
                     all_seen(box, 5) and processed(world, 6), 20,
                     "message 5 after the cut before the flag")
    ids = [r[0] for r in stored(world)]
    tap.check(ids.count("imap-5@customer.example.net") == 2,
              "message cut before the flag stored twice", ids)
    check_once_each(world, tap, [f"imap-{n}@customer.example.net"
                                 for n in range(1, 6)], "after the cuts")

    # The server kicks the session: the poller comes back.
    connections = proxy.connections
    dovecot.doveadm_run("kick", USER)
    harness.wait_for(lambda: proxy.connections > connections, 15,
                     "reconnect after the server kicked the session")
    box.append(6)
    harness.wait_for(lambda: len(world.incidents()) == 6, 20,
                     "incident after the kick")
    tap.check(True, "poller reconnects after the server kicks it")

    # Without IDLE announced, the poller polls every poll_seconds.
    proxy.hide_idle = True
    connections = proxy.connections
    dovecot.doveadm_run("kick", USER)
    harness.wait_for(lambda: "idle=no" in world.log(), 15,
                     "reconnect without IDLE")
    box.append(7)
    harness.wait_for(lambda: len(world.incidents()) == 7, 20,
                     "incident while polling")
    tap.check(True, "server without IDLE: polling finds new mail")
    tap.check("imap: polling" in world.log(), "poll waits logged",
              "no 'imap: polling' line")
    proxy.hide_idle = False

    # A new UIDVALIDITY: every message is read again and each copy joins
    # the incident its Message-ID already opened.
    before = len(stored(world))
    dovecot.doveadm_run("mailbox", "update", "-u", USER, "--uid-validity",
                        "12345", "INBOX")
    dovecot.doveadm_run("kick", USER)
    harness.wait_for(lambda: "uidvalidity changed" in world.log(), 15,
                     "UIDVALIDITY change noticed")
    harness.wait_for(lambda: processed(world, before + 7), 20,
                     "mailbox read again")
    tap.check(len(world.incidents()) == 7,
              "UIDVALIDITY change opens no incident",
              len(world.incidents()))
    check_once_each(world, tap, [f"imap-{n}@customer.example.net"
                                 for n in range(1, 8)],
                    "after the UIDVALIDITY change")
    tap.check(PASSWORD not in world.log(), "password never logged")

    # A message that breaks mail parsers, then a good one: both are stored
    # and open incidents; the first does not stop the poller.
    data = os.path.join(harness.HERE, "..", "data", "parse")
    for name in ("poison-message-first.eml", "poison-message-next.eml"):
        with open(os.path.join(data, name), "rb") as f:
            box.append_raw(f.read())
    harness.wait_for(lambda: len(world.incidents()) == 9, 20,
                     "incidents for the poison message and the next")
    subjects = [i["subject"] for i in world.incidents()]
    tap.check("Admin login returns 403 for every admin" in subjects,
              "poison message opens its incident", subjects)
    tap.check("Refunds failing with R-17 again" in subjects,
              "the message after it opens its incident", subjects)
    harness.wait_for(lambda: all_seen(box, len(box.flags())), 20,
                     "every message flagged")
    tap.check(True, "both flagged \\Seen after their commit")


def body_move(tap, dovecot, base, worlds):
    world = harness.World(extra_config=imap_config(
        base, dovecot.port, MOVE_USER, PASSWORD,
        after_commit="move:Processed"))
    worlds.append(world)
    try:
        move_checks(world, tap, Mailbox(dovecot.port, MOVE_USER, PASSWORD))
    finally:
        status = world.stop()
    tap.check(status == 0, "move-mode daemon stops cleanly",
              f"exit status {status}")


def move_checks(world, tap, box):
    box.append(21)
    box.append(22)
    world.start_daemon()
    harness.wait_for(lambda: len(world.incidents()) == 2, 20,
                     "incidents in move mode")
    harness.wait_for(lambda: not box.flags() and
                     len(box.flags("Processed")) == 2, 10,
                     "messages moved to Processed")
    tap.check(True, "after_commit move empties INBOX into Processed")
    tap.check(len(stored(world)) == 2, "moved messages stored once",
              stored(world))


def body_wrong_password(tap, dovecot, base, worlds):
    world = harness.World(extra_config=imap_config(
        base, dovecot.port, BAD_USER, "not-the-password"))
    worlds.append(world)
    try:
        world.start_daemon()
        harness.wait_for(lambda: "attempt=2" in world.log(), 15,
                         "second login attempt")
        log = world.log()
        tap.check("LOGIN rejected" in log, "wrong password logged",
                  "no 'LOGIN rejected' in the log")
        tap.check(world.daemon.poll() is None,
                  "daemon keeps running with a wrong password")
        tap.check("not-the-password" not in log,
                  "wrong password not logged")
    finally:
        status = world.stop()
    tap.check(status == 0, "daemon with a wrong password stops cleanly",
              f"exit status {status}")


class Tls:
    """The servers and files of the TLS checks."""

    def __init__(self, dovecot, ca_file, greeter, base, worlds):
        self.dovecot = dovecot
        self.ca_file = ca_file
        self.greeter = greeter
        self.base = base
        self.worlds = worlds

    def world(self, user, security, port, ca_file):
        world = harness.World(extra_config=imap_config(
            self.base, port, user, PASSWORD, host="localhost",
            security=security, ca_file=ca_file))
        self.worlds.append(world)
        return world


def tls_reads(tap, tls, security, port, user, n):
    """With the test CA in imap.ca_file, mail is read over security."""
    box = Mailbox(tls.dovecot.port, user, PASSWORD)
    box.append(n)
    world = tls.world(user, security, port, tls.ca_file)
    try:
        world.start_daemon()
        harness.wait_for(lambda: len(world.incidents()) == 1, 20,
                         f"incident over {security}")
        tap.check(True, f"{security} with imap.ca_file: message read")
        harness.wait_for(lambda: all_seen(box, 1), 10,
                         f"\\Seen over {security}")
        tap.check(True, f"{security}: message gets \\Seen")
        log = world.log()
        tap.check("certificate rejected" not in log,
                  f"{security}: certificate accepted",
                  "a 'certificate rejected' line in the log")
        tap.check("host=localhost" in log and "imap: connected" in log,
                  f"{security}: session to localhost logged",
                  "no 'imap: connected host=localhost' line")
    finally:
        status = world.stop()
    tap.check(status == 0, f"{security} daemon stops cleanly",
              f"exit status {status}")


def tls_rejected(tap, tls, case):
    """The certificate is rejected: the log gives the reason, the poller
    retries, and nothing is read or flagged."""
    what, user, security, port, ca_file, reason, n = case
    box = Mailbox(tls.dovecot.port, user, PASSWORD)
    box.append(n)
    world = tls.world(user, security, port, ca_file)
    try:
        world.start_daemon()
        harness.wait_for(lambda: "attempt=2" in world.log(), 15,
                         f"second attempt ({what})")
        log = world.log()
        tap.check('imap: certificate rejected host=localhost reason="'
                  in log, f"{what}: rejection logged",
                  "no 'imap: certificate rejected host=localhost' line")
        tap.check(reason in log, f"{what}: log gives the reason",
                  f"no '{reason}' in the log")
        tap.check("imap: connected" not in log,
                  f"{what}: no session started", "an 'imap: connected' line")
        tap.check(world.daemon.poll() is None,
                  f"{what}: daemon keeps running")
        tap.check(world.incidents() == [] and stored(world) == [],
                  f"{what}: nothing read", stored(world))
        flags = box.flags()
        tap.check(len(flags) == 1 and
                  all("\\Seen" not in f for f in flags.values()),
                  f"{what}: message left unseen", flags)
        tap.check(PASSWORD not in log, f"{what}: password not logged")
    finally:
        status = world.stop()
    tap.check(status == 0, f"{what}: daemon stops cleanly",
              f"exit status {status}")


def body_tls(tap, tls):
    dovecot = tls.dovecot
    tls_reads(tap, tls, "tls", dovecot.tls_port, TLS_USER, 31)
    tls_reads(tap, tls, "starttls", dovecot.port, STARTTLS_USER, 32)
    cases = [
        ("tls without imap.ca_file", UNTRUSTED_USER, "tls",
         dovecot.tls_port, None, UNKNOWN_ISSUER, 33),
        ("starttls without imap.ca_file", UNTRUSTED_USER, "starttls",
         dovecot.port, None, UNKNOWN_ISSUER, 33),
        (f"certificate for {OTHER_NAME}", UNTRUSTED_USER, "tls",
         tls.greeter.port, tls.ca_file, WRONG_NAME, 34),
    ]
    for case in cases:
        # Each case starts from an empty mailbox.
        Mailbox(dovecot.port, UNTRUSTED_USER, PASSWORD).expunge_all()
        tls_rejected(tap, tls, case)
    tap.check(tls.greeter.handshakes == 0 and tls.greeter.failures >= 1,
              f"handshake with the {OTHER_NAME} certificate never "
              "completes", f"handshakes={tls.greeter.handshakes} "
              f"failures={tls.greeter.failures}")


def start_servers(base):
    """Returns Dovecot with TLS, the test CA's file and a TlsGreeter with
    a certificate for OTHER_NAME; raises Unavailable."""
    ca = make_test_ca(base)
    cert = make_server_cert(base, ca, "localhost")
    other = make_server_cert(base, ca, OTHER_NAME)
    dovecot = Dovecot(base, {USER: PASSWORD, MOVE_USER: PASSWORD,
                             BAD_USER: "the-real-password",
                             TLS_USER: PASSWORD, STARTTLS_USER: PASSWORD,
                             UNTRUSTED_USER: PASSWORD}, tls=cert)
    dovecot.start()
    return dovecot, ca[0], TlsGreeter(other)


def main():
    base = harness.temp_dir("critgate-imap-")
    try:
        dovecot, ca_file, greeter = start_servers(base)
    except (Unavailable, OSError) as exc:
        print(f"1..0 # SKIP Dovecot unavailable: {exc}")
        return 77
    proxy = Proxy(dovecot.port)
    worlds = []
    tls = Tls(dovecot, ca_file, greeter, base, worlds)

    def body(world, tap):
        body_main(world, tap, dovecot, proxy, base)
        body_move(tap, dovecot, base, worlds)
        body_wrong_password(tap, dovecot, base, worlds)
        body_tls(tap, tls)

    try:
        return harness.run(body, extra_config=imap_config(
            base, proxy.port, USER, PASSWORD))
    finally:
        for world in worlds:
            world.stop()
        greeter.close()
        proxy.close()
        dovecot.stop()


if __name__ == "__main__":
    sys.exit(main())
