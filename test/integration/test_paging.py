#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A customer's mail pages every team member by call and SMS once per
round, and a second copy of the same message pages nobody.  Without
rotations, "critgate oncall" says so."""

import collections
import sys

import harness


def per_member(requests):
    """Counts accepted requests per (destination, kind)."""
    counts = collections.Counter()
    for r in requests:
        kind = "call" if r["path"].endswith("/Calls.json") else "sms"
        counts[(r["form"]["To"][0], kind)] += 1
    return counts


def body(world, tap):
    rc, out = world.cli("oncall")
    tap.check(rc == 0 and out.startswith("no rotations in "),
              "oncall says there are no rotations", out)
    world.start_daemon()
    reply = world.send(harness.message())
    tap.check(reply == {}, "smtplib message accepted for the one recipient")

    incidents = harness.wait_for(world.incidents, what="incident opened")
    tap.check(len(incidents) == 1, "one incident opened",
              incidents)
    inc = incidents[0]
    tap.check(f"incident: opened inc={inc['id']} msg=" in world.log() and
              "message_id=<checkout-1@customer.example.net>" in world.log(),
              "the log names the incident's Message-ID, to follow the mail",
              [l for l in world.log().splitlines() if "opened" in l])
    tap.check(inc["severity"] == "critical", "route sets severity critical")
    tap.check(inc["subject"] == "Checkout down for all EU customers",
              "subject decoded", inc["subject"])
    tap.check(inc["reporter"] == "dana@customer.example.net",
              "reporter recorded", inc["reporter"])

    harness.wait_for(lambda: len(world.pages_at_sim()) >= 4,
                     what="round 1 pages at the simulator")
    counts = per_member(world.pages_at_sim())
    for _, phone in world.team:
        tap.check(counts[(phone, "call")] == 1, f"round 1 calls {phone} once",
                  counts)
        tap.check(counts[(phone, "sms")] == 1, f"round 1 texts {phone} once",
                  counts)

    calls = world.sim_requests("/Calls.json")
    twiml = calls[0]["form"]["Twiml"][0]
    tap.check(f"incident {inc['id']}" in twiml.lower(),
              "call says the incident number", twiml)
    tap.check("press 1" in twiml.lower(), "call asks for a keypress", twiml)
    sms = world.sim_requests("/Messages.json")[0]["form"]["Body"][0]
    tap.check(f"ACK {inc['id']}" in sms, "SMS names the ack reply", sms)

    harness.wait_for(lambda: len(world.sent_pages(inc["id"])) == 4,
                     what="round 1 pages recorded as sent")

    # The same Message-ID again, through both routed addresses at once.
    world.send(harness.message(), rcpts=("critical@support.example.com",
                                         "high@support.example.com"))
    harness.wait_for(lambda: world.incidents()[0]["messages"] == 2,
                     what="copy joined the incident")
    tap.check(len(world.incidents()) == 1, "copy opened no incident")
    tap.check(len(world.pages_at_sim()) == 4, "copy paged nobody",
              len(world.pages_at_sim()))

    # Round 2, after repeat_minutes (3 s here).
    harness.wait_for(lambda: len(world.pages_at_sim()) >= 8, 30,
                     what="round 2 pages at the simulator")
    counts = per_member(world.pages_at_sim())
    for _, phone in world.team:
        tap.check(counts[(phone, "call")] == 2 and
                  counts[(phone, "sms")] == 2,
                  f"round 2 pages {phone} once more by call and SMS", counts)
    shown = world.show(inc["id"])
    rounds = collections.Counter(p["round"] for p in shown["pages"])
    tap.check(rounds[1] == 4 and rounds[2] == 4, "rounds 1 and 2 recorded",
              rounds)
    kinds = [e["kind"] for e in shown["timeline"]]
    tap.check("duplicate" in kinds, "timeline shows the duplicate", kinds)

    # The sender writes the Message-ID: its log line stays one short line.
    world.send(harness.message("Exports stuck", "odd\x07" + "x" * 400 +
                               "@shop.example", "Kim <kim@shop.example>"),
               sender="kim@shop.example")
    line = harness.wait_for(lambda: [
        l for l in world.log().splitlines()
        if "incident: opened" in l and "Exports stuck" in l], 20,
        "the second incident's line")[0]
    tap.check("message_id=<odd\\007" in line and "\x07" not in line and
              len(line) < 400, "an odd Message-ID is escaped and cut",
              line)


if __name__ == "__main__":
    sys.exit(harness.run(body, repeat_minutes=0.05))
