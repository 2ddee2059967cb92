#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Crash safety: kill -9 right after the 250 loses nothing; the restarted
daemon keeps the message, resumes paging on the incident's schedule, and
pages nobody twice for the same round."""

import collections
import sys

import harness


def body(world, tap):
    world.start_daemon()
    world.send(harness.message())
    # The 250 arrived: the message must be on disk whatever happens now.
    world.kill_daemon()

    rc, out = world.cli("incidents", "--json")
    world.start_daemon()
    inc = harness.wait_for(world.incidents, what="incident after restart")[0]
    tap.check(inc["subject"] == "Checkout down for all EU customers",
              "message survived kill -9", inc)

    harness.wait_for(lambda: len([
        p for p in world.show(inc["id"])["pages"] if p["round"] == 1 and
        p["state"] in ("sent", "unknown")]) == 4, 30,
        "round 1 settled after restart")

    # Kill again in the middle of the schedule, then restart.
    world.kill_daemon()
    world.start_daemon()
    harness.wait_for(lambda: any(
        p["round"] == 2 and p["state"] == "sent"
        for p in world.show(inc["id"])["pages"]) and len([
            p for p in world.show(inc["id"])["pages"]
            if p["round"] == 2 and p["state"] == "sent"]) == 4, 30,
        "round 2 after the second restart")
    tap.check(True, "paging resumed after restart")

    sids = collections.Counter()
    shown = world.show(inc["id"])
    for p in shown["pages"]:
        sids[(p["round"], p["member"], p["channel"])] += 1
    tap.check(all(n == 1 for n in sids.values()),
              "one page per member, channel and round", sids)
    at_sim = collections.Counter()
    for r in world.pages_at_sim():
        kind = "call" if r["path"].endswith("Calls.json") else "sms"
        at_sim[(r["form"]["To"][0], kind)] += 1
    rounds = max(p["round"] for p in shown["pages"])
    tap.check(all(n <= rounds for n in at_sim.values()),
              "no member paged twice in a round at the provider", at_sim)
    tap.check(len(world.incidents()) == 1, "restarts opened no second "
              "incident")


if __name__ == "__main__":
    sys.exit(harness.run(body, repeat_minutes=0.05))
