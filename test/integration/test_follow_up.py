#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""What follows a resolution: "critgate analysed" records the root-cause
analysis and the date its fix is due (sla.fix_days later), "critgate
fixed" the fix's deployment once the analysis is recorded.  Each is
recorded once, only for an incident someone has taken, and "show" and
"report" tell a fix that is overdue or came late from one on time.  The daemon marks a fix that falls overdue
in the timeline and its log."""

import datetime
import sys
import time

import harness

DAY_S = 86400


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def timeline_kinds(world, incident):
    shown = world.show(incident)
    return [e["kind"] for e in shown["timeline"]] if shown else []


def report_fixes(world):
    rc, out = world.cli("report", "--json")
    return harness.json.loads(out)["fixes"] if rc == 0 else None


def body(world, tap):
    world.start_daemon()
    world.send(harness.message())
    inc = harness.wait_for(world.incidents, what="incident opened")[0]
    n = str(inc["id"])

    rc, out = world.cli("analysed", n, "--by", "alice")
    tap.check(rc == 1 and "not acknowledged yet" in out and
              f"critgate ack {n}" in out,
              "analysis of an unacknowledged incident is refused", out)
    rc, out = world.cli("fixed", n, "--by", "alice")
    tap.check(rc == 1 and "not acknowledged yet" in out,
              "fix of an unacknowledged incident is refused", out)
    tap.check(world.show(inc["id"])["analysed"] is None,
              "a refused analysis records nothing")

    rc, out = world.cli("resolve", n, "--by", "bob")
    tap.check(rc == 0 and f"incident {n} resolved by bob" in out,
              "resolve by bob", out)
    rc, out = world.cli("analysed", n, "--by", "mallory")
    tap.check(rc == 1 and "--by must name a team member" in out,
              "a stranger's name is refused", out)
    tap.check("the team: alice, bob" in out,
              "the refusal lists the team's names", out)
    rc, out = world.cli("analysed", "999", "--by", "alice")
    tap.check(rc == 1 and "no incident 999" in out,
              "an unknown incident is refused", out)
    for text in ("+" + n, " " + n, n + " "):
        rc, out = world.cli("analysed", text, "--by", "alice")
        tap.check(rc == 2 and "expected one incident number" in out,
                  f"incident number {text!r} is refused", out)

    for args, rejected in ((("extra",), "extra"),
                           (("--", "--limit", "3"), "--limit")):
        rc, out = world.cli("incidents", *args)
        tap.check(rc == 2 and f'unexpected argument "{rejected}"' in out,
                  f"incidents names the unexpected {rejected!r}", out)
    for args in (("--by", "alice", "--by", "bob"),
                 ("--by=alice", "--by", "bob")):
        rc, out = world.cli("analysed", n, *args)
        tap.check(rc == 2 and "--by is repeated; give it once" in out,
                  f"repeated --by is refused: {' '.join(args)}", out)
    rc, out = world.cli("fixed", n, "--by", "alice")
    tap.check(rc == 1 and "no root-cause analysis yet" in out and
              f"critgate analysed {n}" in out,
              "fix before the analysis is refused", out)
    tap.check(world.show(inc["id"])["fixed"] is None,
              "a refused fix records nothing")

    before = time.time()
    rc, out = world.cli("analysed", n, "--by", "alice")
    tap.check(rc == 0 and f"incident {n} analysed by alice" in out and
              "fix due" in out, "analysis recorded", out)
    shown = world.show(inc["id"])
    tap.check(shown["analysed_by"] == "alice", "analysed by alice",
              shown["analysed_by"])
    analysed = parse_time(shown["analysed"])
    due = parse_time(shown["fix_due"])
    tap.check(analysed.timestamp() >= before - 1,
              "analysis time is the command's", shown["analysed"])
    tap.check(due - analysed == datetime.timedelta(days=5),
              "fix due five days after the analysis",
              (shown["analysed"], shown["fix_due"]))
    tap.check(shown["fixed"] is None and shown["fix_late"] is False,
              "fix pending and not late", shown)
    kinds = [e["kind"] for e in shown["timeline"]]
    tap.check(kinds.count("analysed") == 1, "analysis in the timeline",
              kinds)

    rc, out = world.cli("analysed", n, "--by", "bob")
    tap.check(rc == 0 and f"incident {n} was already analysed by alice"
              in out, "second analysis names the first", out)
    tap.check(world.show(inc["id"])["analysed_by"] == "alice",
              "first analysis kept")

    fixes = report_fixes(world)
    tap.check(fixes == {"analysed": 1, "deployed": 0, "deployed_late": 0,
                        "overdue": []}, "report: one fix pending", fixes)

    world.move_fix_due( inc["id"], -6 * DAY_S)
    shown = world.show(inc["id"])
    tap.check(shown["fix_late"] is True, "fix past its due date is late",
              shown["fix_due"])
    harness.wait_for(lambda: "fix-overdue" in timeline_kinds(world,
                                                             inc["id"]),
                     what="the daemon marks the fix overdue")
    tap.check(timeline_kinds(world, inc["id"]).count("fix-overdue") == 1,
              "overdue fix in the timeline once",
              timeline_kinds(world, inc["id"]))
    tap.check(f"fix overdue inc={n}" in world.log(),
              "the daemon logs the overdue fix")
    rc, out = world.cli("show", n)
    tap.check(rc == 0 and "OVERDUE" in out, "show marks the fix overdue",
              out)
    fixes = report_fixes(world)
    tap.check(fixes is not None and fixes["overdue"] == [inc["id"]],
              "report lists the overdue fix", fixes)
    rc, out = world.cli("report")
    tap.check(rc == 0 and f"1 overdue ({n})" in out,
              "text report names the overdue fix", out)

    rc, out = world.cli("fixed", n, "--by", "bob")
    tap.check(rc == 0 and f"incident {n}: fix deployed by bob" in out and
              "after its due date" in out, "late fix recorded as late", out)
    shown = world.show(inc["id"])
    tap.check(shown["fixed_by"] == "bob" and shown["fix_late"] is True,
              "fix by bob, late", shown)
    kinds = [e["kind"] for e in shown["timeline"]]
    tap.check(kinds.count("fix-deployed") == 1, "fix in the timeline",
              kinds)
    for kind in ("analysed", "fix-deployed"):
        line = f"incident: {kind} inc={n} "
        try:
            harness.wait_for(lambda: line in world.log(), 10,
                             f"the daemon's {kind} line")
        except TimeoutError:
            pass
        tap.check(line in world.log() and "source=command" in
                  world.log()[world.log().find(line):].split("\n")[0],
                  f"the daemon logs the command's {kind}",
                  world.log()[-600:])
    rc, out = world.cli("fixed", n, "--by", "alice")
    tap.check(rc == 0 and "fix was already deployed by bob" in out,
              "second fix names the first", out)
    fixes = report_fixes(world)
    tap.check(fixes == {"analysed": 1, "deployed": 1, "deployed_late": 1,
                        "overdue": []}, "report: one fix, late", fixes)

    # An acknowledged incident, analysed and fixed on time.
    world.send(harness.message("Login broken", "login-1@shop.example.org",
                               "Lee Shop <lee@shop.example.org>"),
               sender="lee@shop.example.org")
    other = harness.wait_for(lambda: len(world.incidents()) == 2 and
                             world.incidents()[1], what="second incident")
    m = str(other["id"])
    rc, out = world.cli("ack", m, "--by", "alice")
    tap.check(rc == 0 and f"incident {m} acknowledged by alice" in out,
              "ack by alice", out)
    rc, out = world.cli("analysed", m, "--by", "alice")
    tap.check(rc == 0, "acknowledged incident can be analysed", out)
    rc, out = world.cli("fixed", m, "--by", "alice")
    tap.check(rc == 0 and "on time" in out, "fix on time", out)
    shown = world.show(other["id"])
    tap.check(shown["state"] == "acknowledged" and
              shown["fix_late"] is False,
              "neither milestone resolves, and the fix is on time", shown)
    fixes = report_fixes(world)
    tap.check(fixes == {"analysed": 2, "deployed": 2, "deployed_late": 1,
                        "overdue": []}, "report: two fixes, one late",
              fixes)


if __name__ == "__main__":
    sys.exit(harness.run(body))
