#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Escalation that admins shape, through the running daemon: a policy
pages whoever a rotation has on call, then the whole team, and repeats its
last step; breaches of the response promise at 50% and 100% page the
breach target once each and are recorded; "critgate oncall" names the
member on call; SIGHUP and "critgate reload" apply a good file and refuse
a bad one while pages are due; check-config warns about gaps."""

import datetime
import os
import re
import signal
import sys

import harness

TEAM = [("alice", "+15550100011"), ("bob", "+15550100012"),
        ("cy", "+15550100013")]


def rfc3339(delta_minutes):
    t = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(minutes=delta_minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# bob is on call: his hour-long shift started ten minutes ago.
ESCALATION = f"""
rotations = ( {{ name = "primary"; time_zone = "Europe/Berlin";
                shift_hours = 1; start = "{rfc3339(-10)}";
                members = [ "bob", "cy" ]; }},
              {{ name = "later"; time_zone = "UTC"; start = "2099-01-01T00:00";
                members = [ "alice" ]; }} );
policies = ( {{ name = "rotation-first";
               steps = ( {{ targets = [ "rotation:primary" ];
                           channels = [ "voice", "sms" ];
                           delay_minutes = 0.04; }},
                         {{ targets = [ "rotation:later" ];
                           channels = [ "sms" ]; delay_minutes = 0.04; }} );
               repeat = 1; }},
             {{ name = "everyone-acks";
               steps = ( {{ targets = [ "alice", "bob" ];
                           channels = [ "sms" ]; delay_minutes = 0.04; }} );
               multi_ack = true; }} );
severities = {{ critical = {{ policy = "rotation-first"; ack_minutes = 0.1;
                             breach_targets = [ "cy" ];
                             breach_at_percent = [ 50, 100 ]; }};
               high = {{ policy = "everyone-acks"; }}; }};
"""


def by_subject(world, subject):
    """Waits for the incident with subject; returns its number."""
    return harness.wait_for(lambda: [i for i in world.incidents()
                                     if i["subject"] == subject],
                            what=f"incident {subject}")[0]["id"]


def pages_by_round(world, incident):
    shown = world.show(incident) or {"pages": []}
    rounds = {}
    for p in shown["pages"]:
        rounds.setdefault(p["round"], set()).add((p["member"],
                                                  p["channel"]))
    return rounds


def policy(world, tap):
    world.send(harness.message())
    inc = harness.wait_for(world.incidents, what="incident")[0]["id"]
    rounds = harness.wait_for(lambda: len(pages_by_round(world, inc)) >= 5
                              and pages_by_round(world, inc), 30,
                              "three rounds and two breaches")
    tap.check(rounds[1] == {("bob", "voice"), ("bob", "sms")},
              "step 1 calls and texts the member on call", rounds[1])
    # Nobody is on call in "later": the whole team is paged instead.
    team = {(n, c) for n, _ in TEAM for c in ("voice", "sms")}
    tap.check(rounds[2] == team,
              "step 2 reaches nobody, so the whole team is paged",
              rounds[2])
    tap.check(rounds.get(3) == team,
              "after the passes the last step repeats", rounds.get(3))
    tap.check(rounds.get(-50) == {("cy", "voice"), ("cy", "sms")} and
              rounds.get(-100) == {("cy", "voice"), ("cy", "sms")},
              "each breach pages the breach target", rounds)
    shown = world.show(inc)
    kinds = [e["kind"] for e in shown["timeline"]]
    tap.check("fallback" in kinds, "the fallback is on the timeline", kinds)
    breaches = [e["detail"] for e in shown["timeline"]
                if e["kind"] == "breach"]
    tap.check(breaches == ["percent=50", "percent=100"],
              "each breach is recorded once", breaches)
    rc, text = world.cli("show", str(inc))
    tap.check(rc == 0 and "breach=50% cy voice" in text and
              "round=-" not in text and "  -50  " not in text,
              "show names a breach's pages by its share of the promise",
              text)
    rc, out = world.cli("report", "--json")
    report = harness.json.loads(out) if rc == 0 else {}
    tap.check(rc == 0 and "breaches" in out, "report lists breaches", out)
    rc, out = world.cli("report")
    tap.check(rc == 0 and f"(#{inc})" in out and
              "breach pages (at each percentage" in out,
              "the text report names breached incidents by #N", out)
    world.cli("ack", str(inc), "--by", "bob")
    return inc, report


def multi_ack(world, tap):
    """Each member is paged until they acknowledge themselves."""
    world.send(harness.message("Slow exports", "exp-1@shop.example.net",
                               "Uma <uma@shop.example.net>"),
               rcpts=("high@support.example.com",),
               sender="uma@shop.example.net")
    inc = by_subject(world, "Slow exports")
    harness.wait_for(lambda: len(pages_by_round(world, inc)) >= 1,
                     what="round 1")
    rc, out = world.cli("ack", str(inc), "--by", "alice")
    tap.check(rc == 0, "alice acknowledges", out)
    last = max(pages_by_round(world, inc))
    rounds = harness.wait_for(lambda: max(pages_by_round(world, inc)) >=
                              last + 2 and pages_by_round(world, inc),
                              30, "two more rounds")
    later = [rounds[r] for r in rounds if r > last]
    tap.check(all(r == {("bob", "sms")} for r in later),
              "after alice's ack only bob is paged", rounds)
    shown = world.show(inc)
    tap.check(shown["acknowledged_by"] == "alice",
              "the first ack counts for the promise",
              shown["acknowledged_by"])
    world.cli("ack", str(inc), "--by", "bob")
    harness.wait_for(lambda: "every member acknowledged inc=%d" % inc
                     in world.log(), what="paging ended")
    before = max(pages_by_round(world, inc))
    kinds = [e["kind"] for e in world.show(inc)["timeline"]]
    tap.check(kinds.count("member-ack") == 2,
              "each member's ack is on the timeline", kinds)
    return inc, before


def oncall(world, tap):
    rc, out = world.cli("oncall", "--json")
    got = harness.json.loads(out) if rc == 0 else []
    tap.check(len(got) == 2 and got[0]["member"] == "bob" and
              got[1]["member"] is None,
              "oncall names the member on call now, or nobody", out)
    rc, out = world.cli("oncall", "--at", rfc3339(55), "--json")
    got = harness.json.loads(out) if rc == 0 else []
    tap.check(len(got) == 2 and got[0]["member"] == "cy",
              "oncall --at names the next one", out)
    rc, out = world.cli("oncall", "--at", "tomorrow")
    tap.check(rc == 2 and "--at" in out, "a bad time is refused", out)


def reload(world, tap):
    good = open(world.config).read()
    # A bad file: refused whole, the old policy goes on paging.
    with open(world.config, "w") as f:
        f.write(good.replace('targets = [ "rotation:primary" ]',
                             'targets = [ "rotation:nope" ]'))
    rc, out = world.cli("reload")
    tap.check(rc == 1 and "rotation:nope" in out,
              "critgate reload reports the bad file", out)
    tap.check("its running config stays" in out,
              "critgate reload says the running config stays", out)
    world.daemon.send_signal(signal.SIGHUP)
    harness.wait_for(lambda: "reload refused" in world.log(),
                     what="refusal in the log")
    # The commands read the file too: put the running one back.
    with open(world.config, "w") as f:
        f.write(good)
    # A file that others can read, which the daemon refuses too.
    mode = os.stat(world.config).st_mode
    os.chmod(world.config, 0o644)
    rc, out = world.cli("reload")
    tap.check(rc == 1 and "readable by group or others" in out,
              "critgate reload reports a file others can read", out)
    os.chmod(world.config, mode)
    # A new SMTP address, which only a restart applies.
    moved = good.replace(f'smtp = "127.0.0.1:{world.smtp_port}"',
                         f'smtp = "127.0.0.1:{harness.free_port()}"')
    tap.check(moved != good, "the test moves the SMTP address")
    with open(world.config, "w") as f:
        f.write(moved)
    rc, out = world.cli("reload")
    tap.check(rc == 1 and "listen.smtp changed" in out and
              "restart" in out,
              "critgate reload reports a change only a restart applies", out)
    world.daemon.send_signal(signal.SIGHUP)
    harness.wait_for(lambda: "listen.smtp changed" in world.log(),
                     what="the daemon's refusal of the new address")
    with open(world.config, "w") as f:
        f.write(good)
    world.send(harness.message("Search down", "search-1@shop.example.com",
                               "Kim <kim@shop.example.com>"),
               sender="kim@shop.example.com")
    second = by_subject(world, "Search down")
    rounds = harness.wait_for(lambda: pages_by_round(world, second).get(1),
                              what="round 1 of the second incident")
    tap.check(rounds == {("bob", "voice"), ("bob", "sms")},
              "after a refused reload the old policy pages", rounds)
    world.cli("ack", str(second), "--by", "bob")

    # A good file: alice alone, by voice, and one more address.
    with open(world.config, "w") as f:
        f.write(good.replace('targets = [ "rotation:primary" ];\n'
                             '                           channels = '
                             '[ "voice", "sms" ];',
                             'targets = [ "alice" ];\n'
                             '                           channels = '
                             '[ "voice" ];').replace(
            'severity = "high"; } );',
            'severity = "high"; },\n  { address = '
            '"outage@support.example.com"; severity = "high"; } );'))
    rc, out = world.cli("reload")
    tap.check(rc == 0 and "reloaded" in out,
              "critgate reload reports that the daemon reloaded", out)
    harness.wait_for(lambda: "config reloaded" in world.log(),
                     what="reload in the log")
    world.send(harness.message("Login broken", "login-1@shop.example.org",
                               "Lee <lee@shop.example.org>"),
               sender="lee@shop.example.org")
    third = by_subject(world, "Login broken")
    rounds = harness.wait_for(lambda: pages_by_round(world, third).get(1),
                              what="round 1 of the third incident")
    tap.check(rounds == {("alice", "voice")},
              "after a good reload the new policy pages", rounds)
    world.cli("ack", str(third), "--by", "alice")
    # The pass that understands mail runs on a thread with a config of
    # its own, which the reload replaces too.
    world.send(harness.message("Exports stuck", "export-1@shop.example.net",
                               "Mo <mo@shop.example.net>"),
               rcpts=("outage@support.example.com",),
               sender="mo@shop.example.net")
    fourth = by_subject(world, "Exports stuck")
    severity = [i["severity"] for i in world.incidents() if i["id"] == fourth]
    tap.check(severity == ["high"], "mail to an address the reload added "
              "opens an incident of its severity", severity)


def warnings(world, tap):
    path = os.path.join(world.dir, "later.conf")
    with open(world.config) as f:
        text = f.read()
    text = text.replace(f'start = "', 'start = "2099-01-05T09:00"; # "', 1)
    text = text.replace('phone = "+15550100013"; ', '')
    missing = os.path.join(world.dir, "missing")
    text = re.sub(r'store = "[^"]*";', f'store = "{missing}/c.db";', text,
                  count=1)
    key = os.path.join(world.dir, "warn.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    # No route takes the address that critgate's mail comes from.
    text += f"""
mail = {{ domain = "support.example.com"; from = "noreply@support.example.com";
         token_key_file = "{key}"; relay = "smtp://127.0.0.1:1";
         templates = "{harness.TEMPLATES}"; }};
"""
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    proc = harness.subprocess.run([harness.CRITGATE, "check-config",
                                   "--config", path], capture_output=True,
                                  text=True, timeout=30)
    out = proc.stdout + proc.stderr
    tap.check(proc.returncode == 0 and "configuration OK" in out,
              "gaps are warnings, not errors", out)
    tap.check("warning: rotations: \"primary\" has nobody on call" in out,
              "a rotation that has not started warns", out)
    lines = [x for x in out.splitlines() if "nobody on call" in x]
    tap.check(lines and all(" to at least " in x for x in lines),
              "the warning says the gap may go on", lines)
    tap.check(any("then the whole team is paged instead" in x
                  for x in lines),
              "the warning says what a policy step pages then", lines)
    tap.check("warning: team[2]: \"cy\" has no phone" in out,
              "a member without a phone warns", out)
    tap.check(f"warning: store: folder {missing} does not exist" in out,
              "a store in a missing folder warns", out)
    tap.check("warning: mail.from: \"noreply@support.example.com\" is not "
              "an address in routes" in out,
              "a mail.from that no route takes warns", out)


def body(world, tap):
    world.start_daemon()
    policy(world, tap)
    inc, before = multi_ack(world, tap)
    oncall(world, tap)
    reload(world, tap)
    tap.check(max(pages_by_round(world, inc)) == before,
              "once all acknowledged, nobody is paged", before)
    warnings(world, tap)


if __name__ == "__main__":
    sys.exit(harness.run(body, team=TEAM, extra_config=ESCALATION))
