#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Page limits and bundling: six incidents due at once reach each member
as one call and one SMS naming all six, later rounds stop at the limits
with pages marked "capped", and one keypress on a bundled call
acknowledges every incident it named."""

import collections
import json
import subprocess
import sys

import harness

LIMITS = 'page_limits = { voice = "2/15m"; sms = "3/15m"; };'
COUNT = 6


def per_member(requests):
    """Counts accepted requests per (destination, kind)."""
    counts = collections.Counter()
    for r in requests:
        kind = "call" if r["path"].endswith("/Calls.json") else "sms"
        counts[(r["form"]["To"][0], kind)] += 1
    return counts


def deliver_six(world):
    """Stores six distinct incidents' mail while the daemon is down, so
    that its first pass finds all of them due at once."""
    for n in range(1, COUNT + 1):
        text = harness.message(f"Service {n} down in region {n}",
                               f"svc-{n}@shop{n}.example",
                               f"Shop {n} <s{n}@shop{n}.example>")
        proc = subprocess.run(
            [harness.CRITGATE, "deliver", "--config", world.config,
             "--sender", f"s{n}@shop{n}.example",
             "--recipient", "critical@support.example.com"],
            input=text.replace("\r\n", "\n").encode(), capture_output=True,
            timeout=30)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.decode())


def check_first_pass(world, tap, ids):
    harness.wait_for(lambda: len(world.pages_at_sim()) >= 4, 20,
                     "first pass at the simulator")
    first = world.pages_at_sim()
    counts = per_member(first)
    for _, phone in world.team:
        tap.check(counts[(phone, "call")] == 1 and
                  counts[(phone, "sms")] == 1,
                  f"first pass: one call and one SMS to {phone}", counts)
    for r in first:
        if r["path"].endswith("/Calls.json"):
            said = r["form"]["Twiml"][0].lower()
            tap.check(all(f"incident {i}" in said for i in ids) and
                      "press 1 to acknowledge all of them" in said,
                      "the call names all six incidents", said)
        else:
            text = r["form"]["Body"][0]
            tap.check(text.startswith(f"{COUNT} open incidents:") and
                      all(f"#{i} " in text or f"#{i};" in text
                          for i in ids), "the SMS names all six", text)
            tap.check(len(text) <= 160, "the SMS fits one segment", text)
    sids = collections.defaultdict(set)
    for i in ids:
        for p in harness.wait_for(lambda: len(world.sent_pages(i)) == 4 and
                                  world.sent_pages(i), 20, "pages sent"):
            sids[(p["member"], p["channel"])].add(p["sid"])
    tap.check(len(sids) == 4 and all(len(s) == 1 for s in sids.values()),
              "every bundled page carries its request's sid", sids)
    try:
        harness.wait_for(lambda: all(f"notify: status inc={i} page="
                                     in world.log() for i in ids), 20,
                         "a status line for each incident")
    except TimeoutError:
        pass
    tap.check(all(f"notify: status inc={i} page=" in world.log()
                  for i in ids),
              "a bundle's status is logged for each of its incidents")


def check_caps(world, tap, ids):
    # Rounds every 3 s: voice is capped from round 3, SMS from round 4.
    harness.wait_for(lambda: all(
        any(p["round"] == 4 and p["channel"] == "sms" and
            p["state"] == "capped" for p in world.show(i)["pages"])
        for i in ids), 40, "SMS capped in round 4")
    counts = per_member(world.pages_at_sim())
    for _, phone in world.team:
        tap.check(counts[(phone, "call")] == 2, f"2 calls at most to {phone}",
                  counts)
        tap.check(counts[(phone, "sms")] == 3, f"3 SMS at most to {phone}",
                  counts)
    shown = world.show(ids[0])
    capped = [p for p in shown["pages"] if p["state"] == "capped"]
    tap.check(any(p["round"] == 3 and p["channel"] == "voice"
                  for p in capped), "round 3 calls are capped", capped)
    events = [e for e in shown["timeline"] if e["kind"] == "capped"]
    tap.check(events and "limit=2/15m" in str(events),
              "timeline shows the capped page and its limit", events)


def check_keypress(tap):
    world = harness.World(repeat_minutes=10, extra_config=LIMITS)
    try:
        bob = dict(world.team)["bob"]
        world.sim_call("POST", "/_sim/callee",
                       {"number": bob, "action": "press", "digits": "1",
                        "delay_ms": 50})
        deliver_six(world)
        world.start_daemon()
        ids = [i["id"] for i in harness.wait_for(
            lambda: len(world.incidents_all()) == COUNT and
            world.incidents_all(), 20, "six incidents")]
        shown = harness.wait_for(
            lambda: (lambda s: all(x["state"] == "acknowledged" for x in s)
                     and s)([world.show(i) for i in ids]), 30,
            "every incident acknowledged")
        tap.check(all(s["acknowledged_by"] == "bob" and
                      s["acknowledged_channel"] == "voice" for s in shown),
                  "one keypress acknowledged all six by voice",
                  [(s["acknowledged_by"], s["acknowledged_channel"])
                   for s in shown])
        gathers = [h for h in world.sim_call("GET", "/_sim/webhooks")
                   if "/voice/gather" in h["url"]]
        tap.check(len(gathers) == 1, "with one keypress", len(gathers))
    except Exception:
        for line in world.log().splitlines()[-40:]:
            print("# " + line)
        raise
    finally:
        harness.stop_world(world, tap, "check keypress")


def check_nobody_paged(tap):
    """Checks that the listing and show flag an incident whose every page
    the limits held back, so that it does not pass for a paged one."""
    world = harness.World(repeat_minutes=10, extra_config=(
        'page_limits = { voice = "1/15m"; sms = "1/15m"; };'))
    try:
        world.start_daemon()
        world.send(harness.message("Login broken for every user",
                                   "login@shop.example"))
        first = harness.wait_for(lambda: len(world.incidents()) == 1 and
                                 world.incidents(), 20, "first incident")
        first = first[0]["id"]
        harness.wait_for(lambda: len(world.sent_pages(first)) == 4, 20,
                         "first incident paged")
        world.send(harness.message("SMS campaigns stuck in queue",
                                   "queue@shop.example",
                                   "Erin Customer <erin@shop.example>"),
                   sender="erin@shop.example")
        second = harness.wait_for(lambda: len(world.incidents()) == 2 and
                                  world.incidents(), 20, "second incident")
        second = second[1]["id"]
        harness.wait_for(lambda: sum(
            p["state"] == "capped" for p in world.show(second)["pages"])
            == 4, 20, "second incident capped")
        rows = {i["id"]: i for i in world.incidents()}
        tap.check(rows[first]["pages_sent"] == 4 and
                  rows[first]["pages_capped"] == 0,
                  "the listing counts the first incident's pages sent",
                  rows[first])
        tap.check(rows[second]["pages_sent"] == 0 and
                  rows[second]["pages_capped"] == 4,
                  "the listing counts the second incident's pages capped",
                  rows[second])
        _, text = world.cli("incidents")
        lines = {int(line.split()[0]): line for line in text.splitlines()
                 if line.split() and line.split()[0].isdigit()}
        tap.check("[no call or SMS: page limit]" in lines[second] and
                  "[no call or SMS" not in lines[first],
                  "the text listing flags the incident no phone got",
                  text)
        rc, out = world.cli("status", "--json")
        status = json.loads(out) if rc == 0 else {}
        tap.check(status.get("pages_capped") == 4,
                  "status counts the pages held back", status)
        _, text = world.cli("show", str(second))
        tap.check("held back 4 pages; no call or SMS went out" in text,
                  "show says the page limits held back every page", text)

        # Once the first incident is acknowledged, its requests count no
        # more: a new incident reaches every phone again.
        rc, out = world.cli("ack", str(first), "--by", "alice")
        tap.check(rc == 0, "the first incident is acknowledged", out)
        world.send(harness.message("Payments declined everywhere",
                                   "pay@shop.example",
                                   "Finn Customer <finn@shop.example>"),
                   sender="finn@shop.example")
        third = harness.wait_for(lambda: len(world.incidents()) == 3 and
                                 world.incidents()[2]["id"], 20,
                                 "third incident")
        try:
            harness.wait_for(lambda: len(world.sent_pages(third)) == 4, 20,
                             "third incident paged")
        except TimeoutError:
            pass
        tap.check(len(world.sent_pages(third)) == 4,
                  "after the acknowledgement a new incident is paged",
                  world.show(third)["pages"])
    finally:
        harness.stop_world(world, tap, "nobody paged")


def body(world, tap):
    deliver_six(world)
    world.start_daemon()
    incidents = harness.wait_for(
        lambda: len(world.incidents()) == COUNT and world.incidents(), 20,
        "six incidents")
    ids = [inc["id"] for inc in incidents]
    tap.check(len(set(ids)) == COUNT, "six distinct incidents", ids)
    tap.check(f"backlog at start incidents_paging=0 messages_waiting={COUNT}"
              in world.log(), "the start logs the mail it takes over",
              [line for line in world.log().splitlines()
               if "backlog" in line])
    rc, out = world.cli("status", "--json")
    status = json.loads(out) if rc == 0 else {}
    tap.check(status.get("incidents_paging") == COUNT,
              "status counts the incidents paging", status)
    tap.check(status.get("messages_waiting") == 0,
              "status counts no mail waiting", status)
    check_first_pass(world, tap, ids)
    check_caps(world, tap, ids)
    check_keypress(tap)
    check_nobody_paged(tap)


if __name__ == "__main__":
    sys.exit(harness.run(body, repeat_minutes=0.05, extra_config=LIMITS))
