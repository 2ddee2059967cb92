#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The mail about an overdue fix.  When the fix that "critgate analysed"
promised falls overdue, critgate mails the members who analysed and
acknowledged the incident, or the whole team when neither of them is on
it any more.  It does so once per incident, because the mail is queued in
the transaction that marks the fix overdue.  The mail survives a SIGKILL
before the relay took it, and a restart sends no second one.  A fix deployed in time is mailed about by
nobody.  Time passes by moving the due date in the store, as in
test_follow_up.py; nothing sleeps for a timer."""

import signal
import sys

import harness
import mail_sink

DAY_S = 86400
TEAM = [("alice", "+15550100011"), ("bob", "+15550100012"),
        ("carol", "+15550100013"), ("dave", "+15550100014")]


def overdue_rows(world, incident):
    """The outbox rows of kind fix_overdue of incident."""
    shown = world.show(incident)
    return [m for m in shown["mails"] if m["kind"] == "fix_overdue"] \
        if shown else []


def overdue_mails(sink, incident):
    """The overdue mails about incident that reached the relay."""
    tag = f"[#{incident}] Fix overdue"
    return [m for m in sink.all()
            if (m.header("Subject") or "").startswith(tag)]


def open_incident(world, subject, customer):
    before = len(world.incidents_all())
    world.send(harness.message(subject, f"{customer}-1@customer.example",
                               f"<{customer}@customer.example>"),
               sender=f"{customer}@customer.example")
    harness.wait_for(lambda: len(world.incidents_all()) > before,
                     what=f"incident {subject!r}")
    return str(max(i["id"] for i in world.incidents_all()))


def cli_ok(world, tap, *args):
    rc, out = world.cli(*args)
    tap.check(rc == 0, " ".join(args), out)


def body(world, tap):
    world.start_daemon()
    # The relay is down: whatever is queued waits in the outbox.
    late = open_incident(world, "Checkout down", "dana")
    cli_ok(world, tap, "ack", late, "--by", "bob")
    cli_ok(world, tap, "analysed", late, "--by", "alice")
    in_time = open_incident(world, "Search slow", "erin")
    cli_ok(world, tap, "ack", in_time, "--by", "alice")
    cli_ok(world, tap, "analysed", in_time, "--by", "alice")
    cli_ok(world, tap, "fixed", in_time, "--by", "alice")
    orphan = open_incident(world, "Login broken", "finn")
    cli_ok(world, tap, "ack", orphan, "--by", "dave")
    cli_ok(world, tap, "analysed", orphan, "--by", "dave")

    world.move_fix_due( int(in_time), -6 * DAY_S)
    world.move_fix_due( int(late), -6 * DAY_S)
    harness.wait_for(lambda: len(overdue_rows(world, late)) == 2,
                     what="the overdue fix's mail queued")
    rows = overdue_rows(world, late)
    tap.check(sorted(m["to"] for m in rows) ==
              ["alice@example.com", "bob@example.com"],
              "queued to the analyst and the acknowledger", rows)
    kinds = [e["kind"] for e in world.show(late)["timeline"]]
    tap.check(kinds.count("fix-overdue") == 1, "marked overdue once", kinds)
    tap.check(f"fix overdue inc={late}" in world.log(),
              "the log line stays")

    # Killed before the relay took the mail; dave leaves the team.
    world.kill_daemon()
    world.team = [m for m in TEAM if m[0] != "dave"]
    world.write_config()
    sink = mail_sink.Sink(world.relay_port).start()
    try:
        world.start_daemon()
        harness.wait_for(lambda: len(overdue_mails(sink, late)) == 2, 60,
                         "the overdue mail after the restart")
        got = overdue_mails(sink, late)
        tap.check(sorted(m.rcpts[0] for m in got) ==
                  ["alice@example.com", "bob@example.com"],
                  "queued before the SIGKILL, each goes out once",
                  [m.rcpts for m in got])
        text = got[0].text()
        for want in (f"critgate fixed {late} --by NAME", "Checkout down",
                     "by Alice Example", "Fix due by:"):
            tap.check(want in text, f"the mail says {want!r}", text)
        tap.check(got[0].header("Auto-Submitted") == "auto-generated",
                  "the mail is marked as automatic",
                  got[0].header("Auto-Submitted"))

        # Neither analyst nor acknowledger is on the team any more.
        world.move_fix_due( int(orphan), -6 * DAY_S)
        harness.wait_for(lambda: len(overdue_mails(sink, orphan)) == 3,
                         60, "the orphaned fix's mail")
        harness.wait_for(lambda: all(
            m["state"] == "sent" for inc in (late, orphan)
            for m in overdue_rows(world, inc)), 30, "recorded as sent")

        # A clean restart, then one more overdue fix: by the time its
        # mail arrives, the restarted daemon has looked at the others.
        world.kill_daemon(signal.SIGTERM)
        world.start_daemon()
        last = open_incident(world, "Invoices wrong", "gus")
        cli_ok(world, tap, "ack", last, "--by", "carol")
        cli_ok(world, tap, "analysed", last, "--by", "carol")
        world.move_fix_due( int(last), -6 * DAY_S)
        harness.wait_for(lambda: len(overdue_mails(sink, last)) == 1, 60,
                         "the last fix's mail")
        got = overdue_mails(sink, orphan)
        tap.check(sorted(m.rcpts[0] for m in got) ==
                  ["alice@example.com", "bob@example.com",
                   "carol@example.com"],
                  "without its people, the whole team hears once",
                  [m.rcpts for m in got])
        tap.check(len(overdue_mails(sink, late)) == 2 and
                  len(overdue_rows(world, late)) == 2,
                  "no second mail after the restarts",
                  overdue_rows(world, late))
        tap.check([m.rcpts[0] for m in overdue_mails(sink, last)] ==
                  ["carol@example.com"],
                  "one mail when analyst and acknowledger are the same",
                  [m.rcpts for m in overdue_mails(sink, last)])
        tap.check(overdue_mails(sink, in_time) == [] and
                  overdue_rows(world, in_time) == [],
                  "a fix deployed in time is mailed about by nobody")
    finally:
        sink.stop()


if __name__ == "__main__":
    sys.exit(harness.run(body, team=TEAM, relay_port=harness.free_port()))
