#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The relay side of outbound mail: a relay that answers 451 three times
and then 250 gets each mail once; mail queued while the relay is down
survives a SIGKILL and goes out once after the restart; a 550 is final and
recorded with the relay's words; a relay that never speaks stalls neither
intake nor webhooks, and its mail goes out once after a SIGKILL; a relay
that takes the body and never replies leaves the mail unknown, not sent
twice; and a vacation responder that answers everything critgate sends,
marked as automatic or not, gets one confirmation and no answer to its
own reply."""

import sys

import harness
import mail_sink

TEAM = [("alice.ops", "+15550100011")]
DANA = "dana@customer.example.net"


def mails(world, inc):
    shown = world.show(inc)
    return shown["mails"] if shown else []


def retried(world, tap):
    """The relay refuses three times; every mail arrives once."""
    sink = mail_sink.Sink(world.relay_port, refuse=3).start()
    try:
        world.send(harness.message(), sender=DANA)
        inc = harness.wait_for(world.incidents, what="incident")[0]["id"]
        harness.wait_for(lambda: len(sink.all()) == 2, 30,
                         "page mail and confirmation after the refusals")
        tap.check(sink.refused == 3, "the relay refused three times",
                  sink.refused)
        got = sorted(m.rcpts[0] for m in sink.all())
        tap.check(got == ["alice.ops@example.com", DANA],
                  "each mail arrived once", got)
        harness.wait_for(lambda: all(m["state"] == "sent"
                                     for m in mails(world, inc)),
                         what="both recorded as sent")
        states = [(m["state"], m["attempts"]) for m in mails(world, inc)]
        tap.check(all(s == "sent" for s, _ in states) and
                  sum(a for _, a in states) == 5,
                  "recorded as sent after five attempts in all", states)
        kinds = [e["kind"] for e in world.show(inc)["timeline"]]
        tap.check(kinds.count("mail-retry") == 3,
                  "each refusal is on the timeline", kinds)
    finally:
        sink.stop()
    return inc


def restarted(world, tap):
    """Queued while the relay is down; a SIGKILL; then the relay is up."""
    world.send(harness.message("Login broken", "login-1@shop.example.org",
                               "Lee <lee@shop.example.org>"),
               sender="lee@shop.example.org")
    inc = harness.wait_for(lambda: len(world.incidents()) == 2 and
                           world.incidents()[1]["id"], what="incident 2")
    harness.wait_for(lambda: any(m["attempts"] > 0 and
                                 m["state"] == "pending"
                                 for m in mails(world, inc)),
                     what="a failed attempt")
    world.kill_daemon()
    sink = mail_sink.Sink(world.relay_port).start()
    try:
        world.start_daemon()
        harness.wait_for(lambda: len(sink.all()) == 2, 30,
                         "the queued mail after the restart")
        got = sorted(m.rcpts[0] for m in sink.all())
        tap.check(got == ["alice.ops@example.com", "lee@shop.example.org"],
                  "mail queued before the SIGKILL goes out once", got)
        harness.wait_for(lambda: all(m["state"] == "sent"
                                     for m in mails(world, inc)),
                         what="recorded as sent")
        tap.check(all(m["state"] == "sent" for m in mails(world, inc)),
                  "and is recorded as sent", mails(world, inc))
    finally:
        sink.stop()


def refused(world, tap):
    """A permanent refusal is final."""
    sink = mail_sink.Sink(world.relay_port, refuse=100,
                          refuse_reply="550 5.1.1 no such user").start()
    try:
        world.send(harness.message("Search down", "search-1@shop.example.com",
                                   "Kim <kim@shop.example.com>"),
                   sender="kim@shop.example.com")
        inc = harness.wait_for(lambda: len(world.incidents()) == 3 and
                               world.incidents()[2]["id"],
                               what="incident 3")
        harness.wait_for(lambda: len(mails(world, inc)) == 2 and
                         all(m["state"] == "failed"
                             for m in mails(world, inc)),
                         what="mail given up")
        got = mails(world, inc)
        tap.check(all(m["attempts"] == 1 and
                      m["reply"] == "550 5.1.1 no such user" for m in got),
                  "a 550 is not retried and the relay's reply is kept",
                  [(m["attempts"], m["reply"]) for m in got])
    finally:
        sink.stop()


def silent(world, tap):
    """A relay that never greets; then a SIGKILL; then a working one."""
    relay = mail_sink.Silent(world.relay_port)
    try:
        world.send(harness.message("Invoices wrong", "inv-1@shop.example.net",
                                   "Ida <ida@shop.example.net>"),
                   sender="ida@shop.example.net")
        inc = harness.wait_for(lambda: len(world.incidents()) == 4 and
                               world.incidents()[3]["id"],
                               what="incident 4")
        harness.wait_for(lambda: any(m["state"] == "sending"
                                     for m in mails(world, inc)),
                         what="mail with the silent relay")
        # The main loop still serves: a message is taken and stored
        # while the relay keeps a transaction waiting.
        with harness.smtplib.SMTP("127.0.0.1", world.smtp_port,
                                  timeout=3) as s:
            refused = s.sendmail("ida@shop.example.net",
                                 ["critical@support.example.com"],
                                 harness.message(
                                     "Invoices wrong",
                                     "inv-2@shop.example.net",
                                     "Ida <ida@shop.example.net>"))
        tap.check(refused == {}, "intake goes on while the relay is mute",
                  refused)
        world.kill_daemon()
    finally:
        relay.stop()
    sink = mail_sink.Sink(world.relay_port).start()
    try:
        world.start_daemon()
        # The confirmation and the page mail; the second mail, within
        # moments of the confirmation, gets no notice.
        harness.wait_for(lambda: len(mails(world, inc)) == 2 and
                         all(m["state"] == "sent"
                             for m in mails(world, inc)), 30,
                         "mail after the restart")
        got = sorted((m.rcpts[0], m.header("Auto-Submitted"))
                     for m in sink.all())
        tap.check(got == [("alice.ops@example.com", "auto-generated"),
                          ("ida@shop.example.net", "auto-replied")],
                  "mail that never reached the body goes out once", got)
    finally:
        sink.stop()


def mute_after_body(world, tap):
    """The relay reads the body and never replies."""
    sink = mail_sink.Sink(world.relay_port, hang=True).start()
    try:
        world.send(harness.message("Reports empty", "rep-1@shop.example.com",
                                   "Ray <ray@shop.example.com>"),
                   sender="ray@shop.example.com")
        inc = harness.wait_for(lambda: len(world.incidents()) == 5 and
                               world.incidents()[4]["id"],
                               what="incident 5")
        harness.wait_for(lambda: len(mails(world, inc)) == 2 and
                         all(m["state"] == "unknown"
                             for m in mails(world, inc)), 30,
                         "mail left unknown")
        got = mails(world, inc)
        tap.check(all(m["attempts"] == 1 and "no reply" in m["reply"]
                      for m in got),
                  "a body without a verdict is not sent twice",
                  [(m["state"], m["attempts"], m["reply"]) for m in got])
    finally:
        sink.stop()


def vacation(world, tap):
    """A responder that answers everything, our mail included."""
    customer = "eve@travel.example.net"
    answered = []

    def respond(got):
        if customer not in got.rcpts:
            return
        answered.append(got)
        reply = (f"From: Eve <{customer}>\r\n"
                 f"To: {got.mail_from}\r\n"
                 f"Subject: Away: {got.header('Subject')}\r\n"
                 f"Message-ID: <away-{len(answered)}@travel.example.net>\r\n"
                 f"In-Reply-To: <{got.message_id()}>\r\n"
                 "Auto-Submitted: auto-replied\r\n"
                 "\r\nI am away until Monday.\r\n")
        world.send(reply, sender=customer)

    sink = mail_sink.Sink(world.relay_port, on_message=respond).start()
    try:
        world.send(harness.message("Shop offline", "eve-1@travel.example.net",
                                   f"Eve <{customer}>"), sender=customer)
        harness.wait_for(lambda: len(answered) == 1, what="one answer")
        harness.wait_for(lambda: len([
            m for m in harness.json.loads(world.cli("messages", "--json")[1])
            if m["from"] == customer and m["class"]]) == 2,
            what="the responder's reply classified")
        from_eve = [m["class"] for m in
                    harness.json.loads(world.cli("messages", "--json")[1])
                    if m["from"] == customer]
        tap.check(from_eve == ["new-incident", "auto-reply"],
                  "the responder's reply is automatic", from_eve)
        # The daemon has had every chance to answer: the reply was
        # classified in the same transaction that would queue an answer.
        to_eve = sink.to(customer)
        tap.check(len(to_eve) == 1 and len(answered) == 1,
                  "one message each way, then silence",
                  [m.header("Subject") for m in to_eve])
    finally:
        sink.stop()


def robot(world, tap):
    """A responder that says nothing of being one: a subject of its own,
    no Auto-Submitted, no In-Reply-To."""
    customer = "otto@robot.example.net"
    answered = []

    def respond(got):
        if customer not in got.rcpts:
            return
        answered.append(got)
        reply = (f"From: Otto <{customer}>\r\n"
                 f"To: {got.mail_from}\r\n"
                 f"Subject: We got your message (ticket {len(answered)})\r\n"
                 f"Message-ID: <ticket-{len(answered)}@robot.example.net>\r\n"
                 "\r\nA ticket was opened for your message.\r\n")
        world.send(reply, sender=customer)

    before = len(world.incidents())
    sink = mail_sink.Sink(world.relay_port, on_message=respond).start()
    try:
        world.send(harness.message("Cart empties itself",
                                   "otto-1@robot.example.net",
                                   f"Otto <{customer}>"), sender=customer)
        harness.wait_for(lambda: len(answered) == 1, what="one answer")
        harness.wait_for(lambda: len([
            m for m in harness.json.loads(world.cli("messages", "--json")[1])
            if m["from"] == customer and m["class"]]) == 2,
            what="the robot's reply classified")
        from_otto = [m["class"] for m in
                     harness.json.loads(world.cli("messages", "--json")[1])
                     if m["from"] == customer]
        tap.check(from_otto == ["new-incident", "update"],
                  "the robot's reply joins the incident it answers",
                  from_otto)
        tap.check(len(world.incidents()) == before + 1,
                  "and opens no incident of its own",
                  len(world.incidents()) - before)
        tap.check(len(sink.to(customer)) == 1 and len(answered) == 1,
                  "one message each way, then silence",
                  [m.header("Subject") for m in sink.to(customer)])
    finally:
        sink.stop()


def body(world, tap):
    world.start_daemon()
    retried(world, tap)
    restarted(world, tap)
    refused(world, tap)
    silent(world, tap)
    mute_after_body(world, tap)
    vacation(world, tap)
    robot(world, tap)


if __name__ == "__main__":
    sys.exit(harness.run(body, team=TEAM, relay_port=harness.free_port()))
