#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Mail out and back, through a real SMTP server on 127.0.0.1: page mail
to the team and one confirmation to the customer when an incident opens;
an email reply from an authenticated member acknowledges, once; replies
that are automatic, unauthenticated, from the wrong member or from the
customer acknowledge nothing and get no automatic answer; RESOLVE
resolves and every reporter hears of it; "critgate notify" mails a status
update to every reporter."""

import os
import socket
import sys

import harness
import mail_sink

DATA = os.path.join(harness.HERE, "..", "data", "classify")
CRITICAL = "critical@support.example.com"
TEAM = [("alice.ops", "+15550100011"), ("bob.night", "+15550100012"),
        ("joerg.mueller", "+15550100013")]
DANA = "dana@customer.example.net"
MARC = "marc@customer.example.net"
EVE = "eve@stranger.example.org"
REPORTERS = [[DANA], [MARC]]


def authenticated(raw, sender):
    """raw as the company's MX hands it on: with its own verdict on top."""
    domain = sender.split("@")[1]
    return (f"Authentication-Results: {harness.AUTHSERV_ID}; spf=pass "
            f"smtp.mailfrom={sender}; dkim=pass header.d={domain}\r\n"
            ).encode() + raw


def send_raw(world, raw, sender, source="127.0.0.1"):
    """Sends raw over SMTP from source, one of the loopback addresses."""
    with harness.smtplib.SMTP(timeout=30,
                              source_address=(source, 0)) as s:
        s.connect("127.0.0.1", world.smtp_port)
        s.sendmail(sender, [CRITICAL], raw)


def corpus(name, incident, page=None, confirm=None):
    """Reads a corpus case with its incident number and our ids filled."""
    with open(os.path.join(DATA, name + ".eml"), "rb") as f:
        raw = f.read()
    if page is not None:
        raw = raw.replace(b"{{PAGE-1042}}", page.split("@")[0].encode())
    if confirm is not None:
        raw = raw.replace(b"{{CONFIRM-1042}}",
                          confirm.split("@")[0].encode())
    raw = raw.replace(b"[#1042]", f"[#{incident}]".encode())
    # Each use is a new message, not a copy of the last one.
    corpus.serial = getattr(corpus, "serial", 0) + 1
    return raw.replace(b"Message-ID: <", f"Message-ID: <{corpus.serial}."
                       .encode(), 1)


def classes(world):
    rc, out = world.cli("messages", "--json")
    return [m["class"] for m in harness.json.loads(out)] if rc == 0 else []


def processed(world, count):
    harness.wait_for(lambda: len([c for c in classes(world) if c]) == count,
                     what=f"{count} messages classified")
    return classes(world)[-1]


def opened(world, sink, tap):
    """Dana's mail opens an incident; checks the mail that goes out."""
    world.send(harness.message(), sender=DANA)
    inc = harness.wait_for(world.incidents, what="incident opened")[0]
    harness.wait_for(lambda: len(sink.all()) == 4, what="4 mails sent")
    pages = {m.rcpts[0]: m for m in sink.all()
             if m.header("Auto-Submitted") == "auto-generated"}
    tap.check(sorted(pages) == sorted(f"{n}@example.com" for n, _ in TEAM),
              "every member gets page mail", sorted(pages))
    confirm = sink.to(DANA)
    tap.check(len(confirm) == 1, "the customer gets one confirmation",
              len(confirm))
    c = confirm[0]
    tap.check(c.header("Auto-Submitted") == "auto-replied" and
              c.header("X-Auto-Response-Suppress") == "All" and
              c.header("Precedence") is None,
              "confirmation marked as an automatic reply",
              c.data[:600])
    tap.check(c.header("In-Reply-To") == "<checkout-1@customer.example.net>"
              and c.message_id().endswith("@gw.support.example.com"),
              "confirmation threads to the customer's mail",
              (c.header("In-Reply-To"), c.message_id()))
    tap.check(f"[#{inc['id']}]" in c.header("Subject") and
              "30 minutes" in c.text(),
              "confirmation names the incident and the promise",
              (c.header("Subject"), c.text()))
    tap.check(c.mail_from == CRITICAL, "sent from our address",
              c.mail_from)
    alice = pages["alice.ops@example.com"]
    tap.check("Payments fail" in alice.text() and
              alice.header("Reply-To") == CRITICAL,
              "page mail quotes the customer and routes replies back",
              alice.data[:800])
    return inc["id"], {rcpt: m.message_id() for rcpt, m in pages.items()}, \
        c.message_id()


def refusals(world, sink, tap, inc, pages, confirm):
    """Mail that must acknowledge nothing and get no automatic answer."""
    count = len(classes(world))
    before = len(sink.all())
    cases = [
        ("customer-reply-is-not-ack", DANA, "update",
         "the customer's ACK is an update"),
        ("member-ooo-reply-to-page", "bob.night@example.com", "auto-reply",
         "a member's out-of-office is automatic"),
        ("customer-vacation-reply", DANA, "auto-reply",
         "the customer's vacation reply is automatic"),
        ("bounce-of-own-confirmation", "", "bounce",
         "the bounce of our confirmation is a bounce"),
    ]
    for name, sender, want, what in cases:
        raw = corpus(name, inc, pages["bob.night@example.com"], confirm)
        send_raw(world, authenticated(raw, sender or "mx@example.net"),
                 sender)
        count += 1
        tap.check(processed(world, count) == want, what,
                  classes(world)[-1])
    tap.check(len(sink.all()) == before, "none of them gets an answer",
              [(m.rcpts, m.header("Subject")) for m in sink.all()[before:]])

    # A colleague writes about the same outage, twice: told once that
    # the mail joined the incident.
    for i in (1, 2):
        world.send(harness.message(
            message_id=f"colleague-{i}@customer.example.net",
            sender=f"Marc <{MARC}>"), sender=MARC)
        count += 1
        tap.check(processed(world, count) == "update",
                  f"colleague's mail {i} joins the incident",
                  classes(world)[-1])
    harness.wait_for(lambda: len(sink.all()) == before + 1,
                     what="joined notice")
    joined = sink.all()[before:]
    tap.check([m.rcpts for m in joined] == [[MARC]] and
              "added to incident" in joined[0].text(),
              "one notice that the mail joined, for two mails",
              [(m.rcpts, m.header("Subject")) for m in joined])

    # A stranger who guesses the incident number joins it, but hears
    # nothing about it, now or later.
    world.send(f"From: Eve <{EVE}>\r\nTo: {CRITICAL}\r\n"
               f"Subject: [#{inc}] hello\r\nMessage-ID: <eve-1@x.example>\r\n"
               "\r\nWhat is this about?\r\n", sender=EVE)
    count += 1
    tap.check(processed(world, count) == "update",
              "a stranger's [#N] joins as an update", classes(world)[-1])

    # The Outlook ack, with bob's token, sent by alice: not hers to use.
    raw = corpus("outlook-ack", inc, pages["bob.night@example.com"])
    send_raw(world, authenticated(raw, "alice.ops@example.com"),
             "alice.ops@example.com")
    count += 1
    tap.check(processed(world, count) == "update",
              "a token for another member acknowledges nothing",
              classes(world)[-1])
    # alice's own token, but no verdict from the company's MX: a forged
    # verdict from another peer is ignored.
    raw = corpus("outlook-ack", inc, pages["alice.ops@example.com"])
    send_raw(world, authenticated(raw, "alice.ops@example.com"),
             "alice.ops@example.com", source="127.0.0.2")
    count += 1
    tap.check(processed(world, count) == "update",
              "forged Authentication-Results acknowledge nothing",
              classes(world)[-1])
    tap.check(world.show(inc)["state"] == "open", "paging goes on",
              world.show(inc)["state"])
    rejected = [e["detail"] for e in world.show(inc)["timeline"]
                if e["kind"] == "ack-rejected"]
    tap.check(len(rejected) == 1 and rejected[0].startswith(
        "by=alice.ops channel=email: the sender is not authenticated"),
        "the timeline notes the unauthenticated ACK", rejected)
    return count


def acknowledged(world, sink, tap, inc, pages, count):
    raw = authenticated(corpus("outlook-ack", inc,
                               pages["alice.ops@example.com"]),
                        "alice.ops@example.com")
    before = len(sink.all())
    send_raw(world, raw, "alice.ops@example.com")
    count += 1
    tap.check(processed(world, count) == "ack",
              "alice's authenticated reply acknowledges",
              classes(world)[-1])
    shown = world.show(inc)
    tap.check(shown["state"] == "acknowledged" and
              shown["acknowledged_by"] == "alice.ops" and
              shown["acknowledged_channel"] == "email",
              "recorded as alice's, by email",
              (shown["state"], shown["acknowledged_by"],
               shown["acknowledged_channel"]))
    tap.check((shown["acknowledged_note"] or "").startswith("mail <"),
              "the note names the mail that acknowledged",
              shown["acknowledged_note"])
    send_raw(world, raw, "alice.ops@example.com")
    count += 1
    tap.check(processed(world, count) == "duplicate",
              "the same reply again is a duplicate", classes(world)[-1])
    acks = [e for e in world.show(inc)["timeline"]
            if e["kind"] == "acknowledged"]
    tap.check(len(acks) == 1, "the acknowledgement is recorded once", acks)
    harness.wait_for(lambda: len(sink.all()) == before + 2,
                     what="updates to the reporters")
    updates = sink.all()[before:]
    tap.check(sorted(m.rcpts for m in updates) == REPORTERS and
              all("Alice.Ops Example" in m.text() for m in updates),
              "every reporter hears who took it",
              [(m.rcpts, m.text()) for m in updates])
    return count


def resolved(world, sink, tap, inc, pages, count):
    raw = corpus("outlook-ack", inc, pages["bob.night@example.com"])
    raw = raw.replace("=C3=9Cbernehme ich. / I=E2=80=99m on it.".encode(),
                      b"RESOLVE").replace(
        b"AM0PR10MB3203A1B2C3D4E5F6@", b"resolve-1@").replace(
        b"Alice Ops <alice.ops@", b"Bob Night <bob.night@")
    before = len(sink.all())
    send_raw(world, authenticated(raw, "bob.night@example.com"),
             "bob.night@example.com")
    count += 1
    tap.check(processed(world, count) == "ack",
              "bob's RESOLVE is his to send", classes(world)[-1])
    shown = world.show(inc)
    tap.check(shown["state"] == "resolved" and
              shown["resolved_by"] == "bob.night",
              "the incident is resolved by bob",
              (shown["state"], shown["resolved_by"]))
    harness.wait_for(lambda: len(sink.all()) == before + 2,
                     what="resolved mail")
    got = sink.all()[before:]
    tap.check(sorted(m.rcpts for m in got) == REPORTERS and
              all("resolved" in m.header("Subject").lower() for m in got),
              "every reporter hears it is resolved",
              [(m.rcpts, m.header("Subject")) for m in got])


def notified(world, sink, tap, inc):
    path = os.path.join(world.dir, "status.txt")
    with open(path, "w") as f:
        f.write("Payments work again since 11:05 UTC. Zahlungen gehen "
                "wieder.\n")
    before = len(sink.all())
    rc, out = world.cli("notify", str(inc), "--message-file", path)
    tap.check(rc == 0, "critgate notify queues the update", out)
    harness.wait_for(lambda: len(sink.all()) == before + 2,
                     what="status mail")
    got = sink.all()[before:]
    tap.check(sorted(m.rcpts for m in got) == REPORTERS and
              all("Zahlungen gehen wieder" in m.text() for m in got),
              "every reporter gets the team's words",
              [m.text() for m in got])
    rc, out = world.cli("notify", "999", "--message-file", path)
    tap.check(rc == 1 and "no incident 999" in out,
              "an unknown incident is refused", out)


def reply_to_high(world, sink, tap, count):
    """A high incident's reporter replies to its confirmation, which came
    from mail.from, the critical route's address: the reply joins the
    incident without raising it, and after the acknowledgement a thank-you
    opens no critical incident."""
    gus = "gus@customer.example.net"
    world.send(harness.message("Campaign report slow", "slow-1@example.net",
                               f"Gus <{gus}>"),
               rcpts=("high@support.example.com",), sender=gus)
    count += 1
    processed(world, count)
    inc = world.incidents()[-1]
    tap.check(inc["severity"] == "high", "high route: the incident is high",
              inc)

    confirm = harness.wait_for(lambda: sink.to(gus), what="confirmation")[0]
    reply = (f"From: Gus <{gus}>\r\nTo: {CRITICAL}\r\n"
             f"Subject: Re: {confirm.header('Subject')}\r\n"
             "Message-ID: <slow-2@example.net>\r\n"
             f"In-Reply-To: {confirm.header('Message-ID')}\r\n"
             "Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\n"
             "Thanks, it is still slow.\r\n")
    world.send(reply, sender=gus)
    count += 1
    tap.check(processed(world, count) == "update",
              "high route: the reply to the confirmation is an update",
              classes(world)[-1])
    shown = world.show(inc["id"])
    tap.check(shown["severity"] == "high",
              "high route: the reply keeps the incident high",
              shown["severity"])

    rc, out = world.cli("ack", str(inc["id"]), "--by", "bob.night")
    tap.check(rc == 0, "high route: acknowledged", out)
    line = (f"incident: acknowledged inc={inc['id']} by=bob.night "
            "channel=cli source=command")
    try:
        harness.wait_for(lambda: line in world.log(), 10,
                         "the command's acknowledgement in the log")
    except TimeoutError:
        pass
    tap.check(line in world.log(), "the daemon logs the command's "
              "acknowledgement", world.log()[-800:])
    world.send(reply.replace("slow-2@", "slow-3@").replace(
        "still slow", "slow again since 10:05"), sender=gus)
    count += 1
    processed(world, count)
    tap.check(len(world.incidents()) == 2,
              "high route: a reply after the acknowledgement opens no "
              "critical incident", world.incidents())

    # Who took the incident hears what its reporter wrote since.
    got = None
    try:
        got = harness.wait_for(lambda: [
            m for m in sink.to("bob.night@example.com")
            if "wrote again" in (m.header("Subject") or "")], 20,
            "the update to bob")
    except TimeoutError:
        pass
    tap.check(got is not None and len(got) == 1 and
              "slow again since 10:05" in got[0].text() and
              gus in got[0].header("Subject"),
              "high route: the member who took it gets the reporter's mail",
              [(m.header("Subject"), m.text()[:300]) for m in got or []])
    return count


def no_from_header(world, sink, tap, count):
    """Mail without a From header: its envelope sender is shown as the
    reporter, but gets no confirmation, as such senders are often bounce
    addresses or scripts.  Our own address as the envelope sender is a
    loop."""
    hal = "hal@customer.example.net"
    before = len(sink.all())
    world.send("To: critical@support.example.com\r\n"
               "Subject: Exports fail\r\n"
               "Message-ID: <no-from-1@customer.example.net>\r\n\r\n"
               "Every export ends with an error.\r\n", sender=hal)
    count += 1
    processed(world, count)
    inc = world.incidents()[-1]
    tap.check(inc["reporter"] == hal,
              "no From header: the envelope sender is the reporter", inc)

    world.send("To: critical@support.example.com\r\n"
               "Subject: Exports fail again\r\n"
               "Message-ID: <no-from-2@customer.example.net>\r\n\r\n"
               "Our own address, no From.\r\n", sender=CRITICAL)
    count += 1
    tap.check(processed(world, count) == "loop",
              "no From header: our own envelope sender is a loop",
              classes(world)[-1])
    harness.wait_for(lambda: len(sink.all()) >= before + 3,
                     what="the page mail")
    tap.check(sink.to(hal) == [],
              "no From header: the envelope sender gets no confirmation",
              [m.header("Subject") for m in sink.to(hal)])
    return count


def stranger_again(world, sink, tap, inc, count):
    """The stranger whose [#N] joined before the acknowledgement writes
    again: that makes them no reporter, so the mail opens an incident of
    its own and is not mailed to who took the first."""
    world.send(f"From: Eve <{EVE}>\r\nTo: {CRITICAL}\r\n"
               f"Subject: [#{inc}] hello again\r\n"
               "Message-ID: <eve-2@x.example>\r\n\r\nStill there?\r\n",
               sender=EVE)
    count += 1
    tap.check(processed(world, count) == "new-incident",
              "a stranger's second [#N] opens an incident of its own",
              classes(world)[-1])
    forwarded = [m for m in sink.all() if "wrote again" in
                 (m.header("Subject") or "") and EVE in m.header("Subject")]
    tap.check(forwarded == [], "the stranger's mail is not forwarded",
              [m.header("Subject") for m in forwarded])
    return count


def reply_to_other_route(tap):
    """With mail.from on the high route, a reply to our mail that the
    customer sends to the critical route on purpose raises the incident:
    only mail.from's own route is the one replies come to by default."""
    world = harness.World(team=TEAM, relay_port=harness.free_port())
    with open(world.config) as f:
        text = f.read()
    with open(world.config, "w") as f:
        f.write(text.replace('from = "critical@support.example.com";',
                             'from = "high@support.example.com";'))
    sink = mail_sink.Sink(world.relay_port).start()
    try:
        world.start_daemon()
        ivy = "ivy@customer.example.net"
        world.send(harness.message("Reports late", "late-1@example.net",
                                   f"Ivy <{ivy}>"),
                   rcpts=("high@support.example.com",), sender=ivy)
        inc = harness.wait_for(world.incidents, what="incident")[0]["id"]
        confirm = harness.wait_for(lambda: sink.to(ivy),
                                   what="confirmation")[0]

        def reply(n, rcpt, text):
            world.send(f"From: Ivy <{ivy}>\r\nTo: {rcpt}\r\n"
                       f"Subject: Re: {confirm.header('Subject')}\r\n"
                       f"Message-ID: <late-{n}@example.net>\r\n"
                       f"In-Reply-To: {confirm.header('Message-ID')}\r\n"
                       f"\r\n{text}\r\n", rcpts=(rcpt,), sender=ivy)
            harness.wait_for(lambda: all(m["class"] for m in harness.json.
                                         loads(world.cli("messages",
                                                         "--json")[1])),
                             what=f"reply {n} classified")

        reply(2, "high@support.example.com", "Still late.")
        tap.check(world.show(inc)["severity"] == "high",
                  "other route: a reply to mail.from keeps the incident "
                  "high", world.show(inc)["severity"])
        reply(3, CRITICAL, "Now nothing is sent at all.")
        tap.check(world.show(inc)["severity"] == "critical",
                  "other route: a reply sent to the critical route raises "
                  "the incident", world.show(inc)["severity"])
    finally:
        sink.stop()
        harness.stop_world(world, tap, "other route")


def body(world, tap):
    sink = mail_sink.Sink(world.relay_port).start()
    try:
        world.start_daemon()
        inc, pages, confirm = opened(world, sink, tap)
        count = refusals(world, sink, tap, inc, pages, confirm)
        count = acknowledged(world, sink, tap, inc, pages, count)
        resolved(world, sink, tap, inc, pages, count)
        notified(world, sink, tap, inc)
        count = reply_to_high(world, sink, tap, count + 1)
        count = no_from_header(world, sink, tap, count)
        stranger_again(world, sink, tap, inc, count)
        reply_to_other_route(tap)
        about_first = [m.header("Subject") for m in sink.to(EVE)
                       if m.header("Subject").startswith(f"[#{inc}]")]
        tap.check(about_first == [],
                  "the stranger got no mail about the first incident",
                  about_first)
        # The relay has every mail; the daemon records its replies next.
        harness.wait_for(lambda: all(m["state"] == "sent" for m in
                                     world.show(inc)["mails"]),
                         what="every mail recorded as sent")
        sent = [m for m in world.show(inc)["mails"] if m["state"] != "sent"]
        tap.check(sent == [], "every mail was accepted by the relay", sent)
    finally:
        sink.stop()


def can_bind(address):
    try:
        with socket.socket() as s:
            s.bind((address, 0))
        return True
    except OSError:
        return False


if __name__ == "__main__":
    if not can_bind("127.0.0.2"):
        print("1..0 # SKIP 127.0.0.2 is not usable on this machine")
        sys.exit(0)
    sys.exit(harness.run(body, team=TEAM, relay_port=harness.free_port()))
