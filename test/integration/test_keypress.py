#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Keypress and CLI acknowledgements: pressing 1 on our call acknowledges
by voice; a wrong key or an unknown call does not; "critgate ack" from the
command line stops a running daemon's paging."""

import sys

import harness


def body(world, tap):
    bob = dict(world.team)["bob"]
    world.sim_call("POST", "/_sim/callee", {"number": bob, "action": "press",
                                            "digits": "1", "delay_ms": 50})
    world.start_daemon()
    world.send(harness.message())
    inc = harness.wait_for(world.incidents, what="incident opened")[0]
    shown = harness.wait_for(
        lambda: (lambda s: s["state"] == "acknowledged" and s)(
            world.show(inc["id"])), 30, "keypress acknowledgement")
    tap.check(shown["acknowledged_by"] == "bob", "acknowledged by bob",
              shown["acknowledged_by"])
    tap.check(shown["acknowledged_channel"] == "voice", "via keypress",
              shown["acknowledged_channel"])
    hooks = world.sim_call("GET", "/_sim/webhooks")
    gathers = [h for h in hooks if "/voice/gather" in h["url"]]
    tap.check(gathers and gathers[0]["status"] == 200, "gather answered 200",
              gathers)
    tap.check(gathers and "acknowledged" in gathers[0]["body"].lower(),
              "gather answer confirms", gathers)

    # A wrong key on an unknown call acknowledges nothing.
    world.sim_call("POST", "/_sim/callee", {"number": bob, "action": "press",
                                            "digits": "2", "delay_ms": 50})
    world.send(harness.message("SMS campaigns stuck",
                               "campaign-1@shop.example.org",
                               "Lee Shop <lee@shop.example.org>"),
               sender="lee@shop.example.org")
    second = harness.wait_for(lambda: len(world.incidents()) == 2 and
                              world.incidents()[1], what="second incident")
    harness.wait_for(lambda: any(
        "/voice/gather" in h["url"] and h["params"].get("Digits") == ["2"]
        for h in world.sim_call("GET", "/_sim/webhooks")), 20,
        "wrong key pressed")
    tap.check(world.show(second["id"])["state"] == "open",
              "key 2 acknowledges nothing")

    rounds_before = max(p["round"] for p in world.show(second["id"])["pages"])
    rc, out = world.cli("ack", str(second["id"]), "--by", "nobody")
    tap.check(rc != 0, "ack by a stranger is refused", out)
    rc, out = world.cli("ack", str(second["id"]), "--by", "alice")
    tap.check(rc == 0, "ack from the command line", out)
    shown = world.show(second["id"])
    tap.check(shown["acknowledged_by"] == "alice" and
              shown["acknowledged_channel"] == "cli", "recorded as cli",
              shown)
    rc, out = world.cli("ack", str(second["id"]), "--by", "bob")
    tap.check("already acknowledged by alice" in out,
              "second ack reports the first", out)

    # A third incident's round 2 starts after the second incident's next
    # round was due: by then the daemon must have stopped paging it.
    world.sim_call("POST", "/_sim/callee", {"number": bob,
                                            "action": "silent"})
    world.send(harness.message("API keys rejected",
                               "keys-1@retail.example.com",
                               "Ravi Retail <ravi@retail.example.com>"),
               sender="ravi@retail.example.com")
    third = harness.wait_for(lambda: len(world.incidents()) == 3 and
                             world.incidents()[2], what="third incident")
    harness.wait_for(lambda: any(p["round"] == 2 for p in world.show(
        third["id"])["pages"]), 30, "third incident's round 2")
    rounds_after = max(p["round"] for p in world.show(second["id"])["pages"])
    tap.check(rounds_after == rounds_before,
              "no round after the command-line ack",
              (rounds_before, rounds_after))


if __name__ == "__main__":
    sys.exit(harness.run(body, repeat_minutes=0.05))
