#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The difficult-mail corpus through the daemon's real intake: each case
is sent over SMTP to a fresh store, and the class of every message, the
incidents opened and the pages sent are checked.  Cases that reply to
incident 1042 run after the baseline message, which opens it; their
placeholders for our Message-IDs are filled from the page mail and the
confirmation critgate really sent, and no reply among them may get an
automatic answer.  Every message arrives as from the company's own MX,
with its Authentication-Results on top.

The cases feed their messages without waiting between them: every gap the
cases give is shorter than dedup.window_minutes, so the outcome is the
same; the classifier's unit tests cover gaps on both sides of the window.
"""

import os
import sqlite3
import sys

import harness
import mail_sink

DATA = os.path.join(harness.HERE, "..", "data", "classify")
CRITICAL = "critical@support.example.com"
HIGH = "high@support.example.com"
TEAM = [("alice.ops", "+15550100011"), ("bob.night", "+15550100012"),
        ("joerg.mueller", "+15550100013")]

# (name, [(file, envelope sender, recipients, class)], incidents opened,
#  severity of the first incident or None, runs after the baseline)
CASES = [
    ("baseline", [("baseline-critical", "dana@customer.example.net",
                   [CRITICAL], "new-incident")], 1, "critical", False),
    ("duplicate by folded Message-ID", [
        ("dup-folded-message-id-01", "alerts@monitor.example.net",
         [CRITICAL], "new-incident"),
        ("dup-folded-message-id-02", "alerts@monitor.example.net",
         [CRITICAL], "duplicate")], 1, "critical", False),
    ("duplicate without Message-ID", [
        ("no-message-id", "dana@customer.example.net", [CRITICAL],
         "new-incident"),
        ("no-message-id", "dana@customer.example.net", [CRITICAL],
         "duplicate")], 1, "critical", False),
    ("two routed recipients, one incident", [
        ("two-gateway-recipients", "dana@customer.example.net",
         [CRITICAL, HIGH], "new-incident")], 1, "critical", False),
    ("same message to high, then to critical", [
        ("two-gateway-recipients", "dana@customer.example.net", [HIGH],
         "new-incident"),
        ("two-gateway-recipients", "dana@customer.example.net",
         [CRITICAL], "duplicate")], 1, "critical", False),
    ("gateway only in the envelope (Bcc)", [
        ("gateway-only-in-envelope-bcc", "dana@customer.example.net",
         [CRITICAL], "new-incident")], 1, "critical", False),
    ("monitoring flood joins one incident", [
        ("monitor-flood-01", "alerts@monitor.example.net", [CRITICAL],
         "new-incident"),
        ("monitor-flood-02", "alerts@monitor.example.net", [CRITICAL],
         "update"),
        ("monitor-flood-03", "alerts@monitor.example.net", [CRITICAL],
         "update")], 1, "critical", False),
    ("own monitoring alert repeats", [
        ("disk-alert-01", "nagios@ops.customer.example.net", [HIGH],
         "new-incident"),
        ("disk-alert-02", "nagios@ops.customer.example.net", [HIGH],
         "update")], 1, "high", False),
    ("customer writes again", [
        ("customer-writes-again-01", "dana@customer.example.net",
         [CRITICAL], "new-incident"),
        ("customer-writes-again-02", "dana@customer.example.net",
         [CRITICAL], "update"),
        ("customer-writes-again-03", "dana@customer.example.net",
         [CRITICAL], "update")], 1, "critical", False),
    ("reply-all from a colleague", [
        ("reply-all-from-cc-01", "dana@customer.example.net", [CRITICAL],
         "new-incident"),
        ("reply-all-from-cc-02", "marc@customer.example.net", [CRITICAL],
         "update")], 1, "critical", False),
    ("subject prefix chain with tag", [
        ("subject-prefix-chain", "dana@customer.example.net", [CRITICAL],
         "update")], 0, None, True),
    ("French reply prefix with tag", [
        ("french-prefix-reply", "dana@customer.example.net", [CRITICAL],
         "update")], 0, None, True),
    ("forwarded page from a member", [
        ("forwarded-page-as-attachment", "bob.night@example.com",
         [CRITICAL], "update")], 0, None, True),
    ("stray line in the header block", [
        ("non-header-line-in-header-block", "dana@customer.example.net",
         [CRITICAL], "update")], 0, None, True),
    ("member's out-of-office reply", [
        ("member-ooo-reply-to-page", "bob.night@example.com", [CRITICAL],
         "auto-reply")], 0, None, True),
    ("customer's vacation reply", [
        ("customer-vacation-reply", "dana@customer.example.net",
         [CRITICAL], "auto-reply")], 0, None, True),
    ("X-Autorespond vacation reply", [
        ("vacation-x-autorespond", "dana@customer.example.net",
         [CRITICAL], "auto-reply")], 0, None, True),
    ("read receipt", [
        ("read-receipt", "dana@customer.example.net", [CRITICAL],
         "auto-reply")], 0, None, True),
    ("bounce of our confirmation", [
        ("bounce-of-own-confirmation", "", [CRITICAL], "bounce")],
     0, None, True),
    ("our own mail coming back", [
        ("loop-own-header", "relay@customer.example.net", [CRITICAL],
         "loop")], 0, None, True),
    ("X-Auto-Response-Suppress alone is human", [
        ("human-mail-auto-response-suppress", "dana@customer.example.net",
         [CRITICAL], "new-incident")], 1, "critical", False),
    ("ack with a bare In-Reply-To", [
        ("ack-in-reply-to-without-brackets", "bob.night@example.com",
         [CRITICAL], "ack")], 0, None, True),
    ("ack with an id folded inside", [
        ("ack-msgid-folded-inside-id", "alice.ops@example.com",
         [CRITICAL], "ack")], 0, None, True),
    ("Outlook ack", [
        ("outlook-ack", "alice.ops@example.com", [CRITICAL], "ack")],
     0, None, True),
    ("customer's ACK is no acknowledgement", [
        ("customer-reply-is-not-ack", "dana@customer.example.net",
         [CRITICAL], "update")], 0, None, True),
    ("member's reply with another member's token", [
        ("ack-other-member-token", "alice.ops@example.com", [CRITICAL],
         "update")], 0, None, True),
]

# Who acknowledges in the acknowledgement cases.
ACKED_BY = {
    "ack with a bare In-Reply-To": "bob.night",
    "ack with an id folded inside": "alice.ops",
    "Outlook ack": "alice.ops",
}

# Decoding cases: each opens one incident, whatever its encoding.
for name in ("subject-consecutive-b-words", "raw-8bit-headers",
             "unknown-charset-labels", "iso-2022-jp-without-charset",
             "us-ascii-8bit-body", "chunked-base64-body",
             "bad-content-transfer-encoding",
             "multipart-without-boundary-lines",
             "truncated-inside-boundary", "mime-nesting-bomb",
             "tnef-winmail-dat-only-body", "html-only-body",
             "from-header-without-address"):
    CASES.append((name, [(name, "sender@customer.example.net", [CRITICAL],
                          "new-incident")], 1, "critical", False))
CASES.append(("poison message, then a good one", [
    ("poison-message", "sender@customer.example.net", [CRITICAL],
     "new-incident"),
    ("good-after-poison", "other@customer.example.org", [CRITICAL],
     "new-incident")], 2, "critical", False))



def seed_1041(world):
    """Makes the next incident number 1042, as the corpus assumes."""
    db = sqlite3.connect(os.path.join(world.dir, "critgate.db"))
    db.execute("INSERT INTO messages (id, received_ms, peer, mail_from, "
               "is_processed, class) VALUES (1041, 0, 'seed', '', 1, "
               "'rejected')")
    db.execute("INSERT INTO message_raw (message, raw) VALUES (1041, x'')")
    db.execute("INSERT INTO incidents (id, severity, subject, message, "
               "opened_ms, ack_deadline_ms, acked_ms, acked_by, "
               "acked_channel) VALUES (1041, 'critical', 'seed', 1041, 0, "
               "0, 1, 'seed', 'cli')")
    db.commit()
    db.close()


def fresh_store(world):
    if world.daemon is not None and world.daemon.poll() is None:
        world.kill_daemon(harness.signal.SIGTERM)
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(world.dir, "critgate.db" + suffix)
        if os.path.exists(path):
            os.unlink(path)
    world.sim_call("POST", "/_sim/reset", {})
    world.start_daemon()
    world.kill_daemon(harness.signal.SIGTERM)
    seed_1041(world)
    world.start_daemon()


def messages(world):
    """Returns the messages the case sent, the seed left out."""
    rc, out = world.cli("messages", "--json")
    return [m for m in harness.json.loads(out) if m["id"] > 1041] \
        if rc == 0 else []


def our_ids(world, sender):
    """The local parts of incident 1042's page mail (to sender when a
    member, else to the first member) and of its confirmation."""
    mails = world.show(1042)["mails"]
    pages = [m for m in mails if m["kind"] == "page"]
    mine = [m for m in pages if m["to"] == sender] or pages
    confirm = [m for m in mails if m["kind"] == "confirmation"]
    return (mine[0]["message_id"].split("@")[0],
            confirm[0]["message_id"].split("@")[0])


def send_file(world, name, sender, rcpts):
    with open(os.path.join(DATA, name + ".eml"), "rb") as f:
        raw = f.read()
    if b"{{PAGE-1042}}" in raw or b"{{CONFIRM-1042}}" in raw:
        page, confirm = our_ids(world, sender)
        raw = raw.replace(b"{{PAGE-1042}}", page.encode()).replace(
            b"{{CONFIRM-1042}}", confirm.encode())
    domain = (sender or "mailer-daemon@example.net").split("@")[1]
    raw = (f"Authentication-Results: {harness.AUTHSERV_ID}; spf=pass "
           f"smtp.mailfrom={sender or 'mailer-daemon@' + domain}; "
           f"dkim=pass header.d={domain}\r\n").encode() + raw
    with harness.smtplib.SMTP("127.0.0.1", world.smtp_port,
                              timeout=30) as s:
        s.sendmail(sender, rcpts, raw)


def run_case(world, tap, sink, case):
    name, feed, new_incidents, severity, after_baseline = case
    fresh_store(world)
    already = 0
    if after_baseline:
        send_file(world, "baseline-critical", "dana@customer.example.net",
                  [CRITICAL])
        already = 1
        # Page mail to each member and the confirmation to Dana, once
        # the incident is open.
        harness.wait_for(lambda: len((world.show(1042) or {"mails": []})
                                     ["mails"]) == len(world.team) + 1, 20,
                         f"{name}: our mail")
        mails_before = len(world.show(1042)["mails"])
    for i, (file, sender, rcpts, _) in enumerate(feed):
        send_file(world, file, sender, rcpts)
        harness.wait_for(lambda: len([m for m in messages(world)
                                      if m["class"]]) == already + i + 1,
                         20, f"{name}: message {i + 1} processed")
    got = [m["class"] for m in messages(world)][already:]
    want = [c for _, _, _, c in feed]
    tap.check(got == want, f"{name}: classes", f"got {got}, want {want}")
    incidents = [i for i in world.incidents() if i["id"] >= 1042]
    tap.check(len(incidents) == already + new_incidents,
              f"{name}: incidents opened",
              [(i["id"], i["subject"]) for i in incidents])
    if severity is not None and incidents:
        tap.check(incidents[-1]["severity"] == severity,
                  f"{name}: severity", incidents[-1]["severity"])
    if after_baseline:
        joined = [m for m in messages(world)][already:]
        tap.check(all(m["incident"] in (0, 1042) for m in joined),
                  f"{name}: nothing joins another incident", joined)
        check_replies(world, tap, name, mails_before)
    if incidents:
        check_confirmation(world, tap, name, incidents[0]["id"])
    if new_incidents + already > 0:
        rounds = len(world.team) * 2 * len(incidents)
        harness.wait_for(lambda: len(world.pages_at_sim()) >= rounds, 20,
                         f"{name}: pages")
        tap.check(len(world.pages_at_sim()) == rounds,
                  f"{name}: one page per member and channel per incident",
                  len(world.pages_at_sim()))


def check_confirmation(world, tap, name, incident):
    """At most one confirmation, to the reporter alone, tagged."""
    shown = world.show(incident)
    confirms = [m for m in shown["mails"] if m["kind"] == "confirmation"]
    tap.check(len(confirms) <= 1 and all(
        m["to"] == (shown["reporter"] or "").lower() for m in confirms),
              f"{name}: one confirmation, to the reporter",
              [(m["to"], shown["reporter"]) for m in confirms])


def check_replies(world, tap, name, mails_before):
    """No reply gets an automatic answer; a customer writing again is
    told once that the mail joined; an ack is the member's, and its
    reporter is told."""
    shown = world.show(1042)
    new = shown["mails"][mails_before:]
    want = ["acknowledged"] if name in ACKED_BY else []
    answers = [m["kind"] for m in new if m["kind"] != "joined"]
    tap.check(answers == want and len(new) - len(answers) <= 1,
              f"{name}: no automatic answer",
              [(m["kind"], m["to"]) for m in new])
    if name in ACKED_BY:
        tap.check(shown["acknowledged_by"] == ACKED_BY[name] and
                  shown["acknowledged_channel"] == "email",
                  f"{name}: acknowledged by the member, by email",
                  (shown["acknowledged_by"],
                   shown["acknowledged_channel"]))
    else:
        tap.check(shown["state"] == "open", f"{name}: paging goes on",
                  shown["state"])


def body(world, tap):
    sink = mail_sink.Sink(world.relay_port).start()
    try:
        for case in CASES:
            run_case(world, tap, sink, case)
    finally:
        sink.stop()


if __name__ == "__main__":
    sys.exit(harness.run(body, team=TEAM, relay_port=harness.free_port()))
