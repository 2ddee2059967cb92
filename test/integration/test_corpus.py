#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The difficult-mail corpus through the daemon's real intake: each case
is sent over SMTP to a fresh store, and the class of every message, the
incidents opened and the pages sent are checked.  Cases that reply to
incident 1042 run after the baseline message, which opens it.

The cases feed their messages without waiting between them: every gap the
cases give is shorter than dedup.window_minutes, so the outcome is the
same; the classifier's unit tests cover gaps on both sides of the window.
"""

import os
import sqlite3
import sys

import harness

DATA = os.path.join(harness.HERE, "..", "data", "classify")
CRITICAL = "critical@support.example.com"
HIGH = "high@support.example.com"

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
]

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

# Cases that need critgate's own page mail and its signed Message-IDs,
# which critgate does not send yet.
SKIPPED = {
    "ack-in-reply-to-without-brackets": "acknowledgement by email reply",
    "ack-msgid-folded-inside-id": "acknowledgement by email reply",
    "outlook-ack": "acknowledgement by email reply",
    "customer-reply-is-not-ack": "confirmation mail to the customer",
}


def seed_1041(world):
    """Makes the next incident number 1042, as the corpus assumes."""
    db = sqlite3.connect(os.path.join(world.dir, "critgate.db"))
    db.execute("INSERT INTO messages (id, received_ms, peer, mail_from, "
               "raw, is_processed, class) VALUES (1041, 0, 'seed', '', "
               "x'', 1, 'rejected')")
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


def send_file(world, name, sender, rcpts):
    with open(os.path.join(DATA, name + ".eml"), "rb") as f:
        raw = f.read()
    with harness.smtplib.SMTP("127.0.0.1", world.smtp_port,
                              timeout=30) as s:
        s.sendmail(sender, rcpts, raw)


def run_case(world, tap, case):
    name, feed, new_incidents, severity, after_baseline = case
    fresh_store(world)
    already = 0
    if after_baseline:
        send_file(world, "baseline-critical", "dana@customer.example.net",
                  [CRITICAL])
        already = 1
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
    if new_incidents + already > 0:
        rounds = len(world.team) * 2 * len(incidents)
        harness.wait_for(lambda: len(world.pages_at_sim()) >= rounds, 20,
                         f"{name}: pages")
        tap.check(len(world.pages_at_sim()) == rounds,
                  f"{name}: one page per member and channel per incident",
                  len(world.pages_at_sim()))


def body(world, tap):
    for case in CASES:
        run_case(world, tap, case)
    for name, missing in sorted(SKIPPED.items()):
        tap.count += 1
        print(f"ok {tap.count} - {name} # SKIP needs {missing}, which "
              "critgate does not do yet")


if __name__ == "__main__":
    sys.exit(harness.run(body))
