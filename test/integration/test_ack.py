#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Acknowledgements: a signed ACK SMS stops the paging for everyone and
the next round does not happen; a forged or missing signature is rejected
with 403 and changes nothing; an SMS from a stranger acknowledges nothing."""

import sys

import harness


def round_two_reached(world, incident):
    """Tells whether incident has paged its second round."""
    shown = world.show(incident)
    return shown is not None and any(p["round"] == 2 for p in shown["pages"])


def body(world, tap):
    world.start_daemon()
    world.send(harness.message())
    inc = harness.wait_for(world.incidents, what="incident opened")[0]
    harness.wait_for(lambda: len(world.sent_pages(inc["id"])) == 4,
                     what="round 1 sent")
    alice = dict(world.team)["alice"]

    forged = world.sim_call("POST", "/_sim/inbound", {
        "from": alice, "body": f"ACK {inc['id']}", "signature": "bad"})
    tap.check(forged["status"] == 403, "forged signature gets 403", forged)
    missing = world.sim_call("POST", "/_sim/inbound", {
        "from": alice, "body": f"ACK {inc['id']}", "signature": "none"})
    tap.check(missing["status"] == 403, "missing signature gets 403",
              missing)
    stranger = world.sim_call("POST", "/_sim/inbound", {
        "from": "+15550109999", "body": f"ACK {inc['id']}"})
    tap.check(stranger["status"] == 200, "stranger's SMS gets 200", stranger)
    shown = world.show(inc["id"])
    tap.check(shown["state"] == "open",
              "forged, unsigned and stranger SMS change nothing",
              shown["state"])

    unclear = world.sim_call("POST", "/_sim/inbound", {
        "from": alice, "body": "back in 10"})
    tap.check(unclear["status"] == 200 and "ACK" in unclear["body"],
              "look-alike gets a reply naming the accepted forms", unclear)
    tap.check(world.show(inc["id"])["state"] == "open",
              "look-alike acknowledges nothing")

    # A second incident keeps paging: its round 2 shows that the first
    # incident's round 2 time has passed too.
    world.send(harness.message("Login broken", "login-1@shop.example.org",
                               "Lee Shop <lee@shop.example.org>"),
               sender="lee@shop.example.org")
    other = harness.wait_for(lambda: len(world.incidents()) == 2 and
                             world.incidents()[1], what="second incident")

    bare = world.sim_call("POST", "/_sim/inbound", {
        "from": alice, "body": "ACK"})
    tap.check(f"ACK {inc['id']} or ACK {other['id']}" in bare["body"],
              "a bare ACK with two incidents open asks which", bare)
    world.sim_call("POST", "/_sim/inbound", {"from": alice, "body": "ACK"})
    for i in (inc["id"], other["id"]):
        rejected = [e for e in world.show(i)["timeline"]
                    if e["kind"] == "ack-rejected"]
        tap.check(len(rejected) == 1 and
                  rejected[0]["detail"].startswith("by=alice channel=sms"),
                  f"incident {i}'s timeline notes the bare ACK once",
                  rejected)

    ack = world.sim_call("POST", "/_sim/inbound", {
        "from": alice, "body": f"ack {inc['id']}, on my way"})
    tap.check(ack["status"] == 200, "signed ACK gets 200", ack)
    tap.check(ack["content_type"].startswith("text/xml"),
              "answer is TwiML", ack["content_type"])
    tap.check(f"Acknowledged incident {inc['id']}" in ack["body"],
              "answer confirms the incident", ack["body"])
    shown = world.show(inc["id"])
    tap.check(shown["state"] == "acknowledged", "incident acknowledged",
              shown["state"])
    tap.check(shown["acknowledged_by"] == "alice", "by alice",
              shown["acknowledged_by"])
    tap.check(shown["acknowledged_channel"] == "sms", "via SMS",
              shown["acknowledged_channel"])
    tap.check(shown["time_to_ack_s"] is not None and
              shown["sla_breached"] is False, "SLA met", shown)

    again = world.sim_call("POST", "/_sim/inbound", {
        "from": dict(world.team)["bob"], "body": f"ACK {inc['id']}"})
    tap.check(again["status"] == 200, "late ACK gets 200", again)
    tap.check(f"Incident {inc['id']} was acknowledged by alice already"
              in again["body"], "late ACK hears who acknowledged", again)
    shown = world.show(inc["id"])
    tap.check(shown["acknowledged_by"] == "alice",
              "first acknowledgement wins", shown["acknowledged_by"])
    rejected = [e["detail"] for e in shown["timeline"]
                if e["kind"] == "ack-rejected"]
    tap.check("by=bob channel=sms: acknowledged by alice already"
              in rejected, "the timeline notes the late ACK", rejected)

    # The number after punctuation names the acknowledged incident: it
    # must not turn into a bare ACK of the other one, still paging.
    colon = world.sim_call("POST", "/_sim/inbound", {
        "from": alice, "body": f"ACK: {inc['id']}"})
    tap.check(f"You acknowledged incident {inc['id']} already"
              in colon["body"], "ACK: N names incident N", colon)
    tap.check(world.show(other["id"])["state"] == "open",
              "ACK: N leaves the other incident open")

    harness.wait_for(lambda: round_two_reached(world, other["id"]), 30,
                     what="second incident's round 2")
    shown = world.show(inc["id"])
    tap.check(all(p["round"] == 1 for p in shown["pages"]),
              "acknowledged incident has no round 2",
              [(p["round"], p["member"]) for p in shown["pages"]])

    # A replay of a signed bare ACK must not acknowledge a later incident.
    bob = dict(world.team)["bob"]
    first = world.sim_call("POST", "/_sim/inbound", {
        "from": bob, "body": "ACK", "message_sid": "SM" + "7" * 32})
    tap.check("Acknowledged incident %d" % other["id"] in first["body"],
              "bare ACK acknowledges the only open incident", first)
    world.send(harness.message("Login broken again",
                               "login-2@retail.example.com",
                               "Ravi Retail <ravi@retail.example.com>"),
               sender="ravi@retail.example.com")
    third = harness.wait_for(lambda: len(world.incidents()) == 3 and
                             world.incidents()[2], what="third incident")
    harness.wait_for(lambda: len(world.sent_pages(third["id"])) >= 4, 30,
                     "third incident paged")
    replay = world.sim_call("POST", "/_sim/inbound", {
        "from": bob, "body": "ACK", "message_sid": "SM" + "7" * 32})
    tap.check(replay["status"] == 200, "replayed SMS gets 200", replay)
    tap.check(world.show(third["id"])["state"] == "open",
              "replayed ACK acknowledges nothing",
              world.show(third["id"])["state"])

    rc, out = world.cli("report", "--json")
    tap.check(rc == 0, "report runs", out)
    tap.check('"acknowledged" : 2' in out, "report counts the acks", out)
    months = harness.json.loads(out)["months"] if rc == 0 else []
    tap.check(len(months) > 0 and all(
        (m["compliance_percent"] is None) == (m["count"] == m["running"])
        for m in months), "compliance is given once an incident is decided",
        months)


if __name__ == "__main__":
    sys.exit(harness.run(body, repeat_minutes=0.05))
