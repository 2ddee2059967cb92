#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Failover from Twilio to Vonage through the running daemon.

For each way Twilio fails, every page of a round still reaches its member
through Vonage exactly once, and Twilio's circuit opens. Once Twilio
works again, a trial page after the cool down closes its circuit. With
both providers failing, the members get page mail. A signed Vonage SMS
acknowledges, a forged one is rejected, and "critgate status" shows the
circuits."""

import json
import sys
import urllib.parse

import harness
import mail_sink

FAULTS = {
    "5xx": {"status": 500, "body": "twilio"},
    "502 proxy page": {"status": 502, "body": "html"},
    "cut mid-body": {"close": True},
    "hang": {"hang": True},
    "429 storm": {"status": 429, "retry_after": "1"},
    "garbage": {"status": 201, "body": "garbage"},
}


def twilio_fault(world, action):
    for suffix in ("Messages.json", "Calls.json"):
        world.sim_call("POST", "/_sim/faults", {
            "method": "POST", "path_suffix": suffix, "count": 1000,
            "action": action})


def twilio_undelivered(world):
    """Twilio accepts every page and then fails it: SMS undelivered, calls
    failed in the network (a busy callee would be no fault of Twilio's)."""
    for _, phone in world.team:
        world.sim_call("POST", "/_sim/numbers", {
            "number": phone, "delivery": "undelivered",
            "error_code": 30003})
        world.sim_call("POST", "/_sim/callee", {
            "number": phone, "action": "failed"})


def vonage_pages(world):
    """Returns (to, kind) of each request Vonage accepted."""
    out = []
    for r in world.vonage_call("GET", "/_sim/requests")["requests"]:
        if "fault" in r:
            continue
        if r["path"].startswith("/sms/json") and r["status"] == 200:
            to = urllib.parse.parse_qs(r["body"]).get("to", [""])[0]
            out.append((to, "sms"))
        elif r["path"].startswith("/v1/calls") and r["status"] == 201:
            to = json.loads(r["body"])["to"][0]["number"]
            out.append((to, "voice"))
    return out


def expected(world):
    return sorted((phone[1:], kind) for _, phone in world.team
                  for kind in ("sms", "voice"))


def all_sent_by_vonage(world, inc):
    shown = world.show(inc)
    pages = shown["pages"] if shown else []
    return len(pages) == 4 and all(p["state"] == "sent" and
                                   p["provider"] == "vonage"
                                   for p in pages) and pages


def circuit(world, name):
    rc, out = world.cli("status", "--json")
    if rc != 0:
        return None
    for p in json.loads(out)["providers"]:
        if p["name"] == name:
            return p
    return None


def round_reaches_vonage(world, tap, mode, sender):
    world.send(harness.message(sender=sender,
                               message_id=f"{mode}@example.net"))
    inc = harness.wait_for(world.incidents, what="incident opened")[0]["id"]
    pages = None
    try:
        pages = harness.wait_for(lambda: all_sent_by_vonage(world, inc),
                                 60, "pages sent through Vonage")
    except TimeoutError:
        pass
    tap.check(pages is not None, f"{mode}: every page went out through "
              "Vonage", world.show(inc))
    got = sorted(vonage_pages(world))
    tap.check(got == expected(world), f"{mode}: Vonage got each page "
              "exactly once", got)
    return inc


def fault_world(tap, mode):
    world = harness.World(vonage=True)
    try:
        world.vonage_call("POST", "/_sim/callee", {"outcome": "answer",
                                                   "digits": "2"})
        if mode == "undelivered":
            twilio_undelivered(world)
        else:
            twilio_fault(world, FAULTS[mode])
        world.start_daemon()
        inc = round_reaches_vonage(world, tap, mode, "dana@example.net")
        state = circuit(world, "twilio")
        tap.check(state is not None and state["circuit"] == "open",
                  f"{mode}: Twilio's circuit opened", state)
        tap.check("notify: circuit opened provider=twilio" in world.log(),
                  f"{mode}: the opening is logged")
        kinds = [e["kind"] for e in world.show(inc)["timeline"]]
        # A 429 is retried, and the retry skips the open circuit.
        kind = "retry" if mode == "429 storm" else "failover"
        tap.check(kind in kinds, f"{mode}: timeline shows the {kind}",
                  kinds)
        if mode == "5xx":
            straight_to_vonage(world, tap)
            webhooks(world, tap, inc)
    finally:
        harness.stop_world(world, tap, mode)


def straight_to_vonage(world, tap):
    before = len(world.sim_requests())
    world.vonage_call("POST", "/_sim/reset")
    world.vonage_call("POST", "/_sim/callee", {"outcome": "answer",
                                               "digits": "2"})
    world.send(harness.message(subject="Invoices are not generated",
                               sender="erin@example.org",
                               message_id="second@example.org"))
    inc = harness.wait_for(lambda: len(world.incidents()) == 2 and
                           world.incidents(), what="second incident")
    inc = max(i["id"] for i in inc)
    harness.wait_for(lambda: all_sent_by_vonage(world, inc), 30,
                     "second round through Vonage")
    tap.check(len(world.sim_requests()) == before, "with the circuit open "
              "no request went to Twilio", world.sim_requests()[before:])
    rc, text = world.cli("status")
    tap.check(rc == 0 and "open" in text, "status prints the open circuit",
              text)


def circuit_recovers(tap):
    """Rounds every 1.2 s, a cool down of 1 s: once Twilio's faults are
    gone, a later round's trial page closes its circuit."""
    world = harness.World(vonage=True, repeat_minutes=0.02,
                          cool_down_seconds=1)
    try:
        world.vonage_call("POST", "/_sim/callee", {"outcome": "answer",
                                                   "digits": "2"})
        twilio_fault(world, FAULTS["5xx"])
        world.start_daemon()
        world.send(harness.message(message_id="recovery@example.net"))
        inc = harness.wait_for(world.incidents, what="incident")[0]["id"]
        state = None
        try:
            state = harness.wait_for(
                lambda: (circuit(world, "twilio") or {}).get("circuit") ==
                "open" and circuit(world, "twilio"), 30, "open circuit")
        except TimeoutError:
            pass
        tap.check(state is not None, "recovery: Twilio's circuit opened",
                  circuit(world, "twilio"))
        world.sim_call("DELETE", "/_sim/faults")
        try:
            harness.wait_for(lambda: "circuit closed provider=twilio" in
                             world.log(), 30, "Twilio's circuit closed")
        except TimeoutError:
            pass
        log = world.log()
        opened = log.find("circuit opened provider=twilio")
        trial = log.find("circuit half-open provider=twilio", opened)
        tap.check(0 <= opened < trial, "recovery: after the cool down one "
                  "page tries Twilio again")
        tap.check(log.find("circuit closed provider=twilio", trial) > trial,
                  "recovery: the trial's success closes the circuit")
        state = circuit(world, "twilio")
        tap.check(state is not None and state["circuit"] == "closed",
                  "recovery: status shows the circuit closed", state)
        sent = [p for p in world.show(inc)["pages"]
                if p["provider"] == "twilio" and p["state"] == "sent"]
        tap.check(len(sent) > 0, "recovery: a later round went out "
                  "through Twilio", world.show(inc)["pages"])
    finally:
        harness.stop_world(world, tap, "recovery")


def is_acked(world, inc):
    return world.show(inc)["acknowledged_by"]


def webhooks(world, tap, inc):
    alice = dict(world.team)["alice"]
    forged = [("msisdn", alice[1:]), ("to", harness.VONAGE_NUMBER[1:]),
              ("messageId", "FORGED01"), ("text", f"ACK {inc}"),
              ("type", "text"), ("timestamp", "1768471200"),
              ("nonce", "n1"), ("sig", "0" * 32)]
    status = world.post_form("/hooks/vonage/sms/inbound", forged)
    tap.check(status == 403, "a forged Vonage SMS gets 403", status)
    status = world.post_form("/hooks/vonage/sms/inbound", forged[:-3])
    tap.check(status == 401, "an unsigned Vonage SMS gets 401", status)
    status = world.post_form("/hooks/vonage/voice/input?page=1", [])
    tap.check(status == 401, "an unsigned keypress gets 401", status)
    tap.check(not is_acked(world, inc), "forged webhooks changed nothing")

    # Same last ten digits as alice's number, another country.
    world.vonage_call("POST", "/_sim/inbound", {
        "msisdn": "44" + alice[2:], "text": f"ACK {inc}"})
    tap.check(not is_acked(world, inc), "a look-alike number "
              "acknowledges nothing")
    world.vonage_call("POST", "/_sim/inbound", {
        "msisdn": alice[1:], "text": f"ACK {inc}",
        "messageId": "INBOUND0001"})
    try:
        harness.wait_for(lambda: is_acked(world, inc), 10, "ack")
    except TimeoutError:
        pass
    shown = world.show(inc)
    tap.check(shown["acknowledged_by"] == "alice", "a signed Vonage SMS "
              "acknowledges", shown)


def both_failing(tap):
    world = harness.World(vonage=True, relay_port=harness.free_port())
    sink = mail_sink.Sink(world.relay_port).start()
    try:
        twilio_fault(world, {"status": 503, "body": "empty"})
        for suffix in ("/sms/json", "/v1/calls"):
            world.vonage_call("POST", "/_sim/faults", {
                "method": "POST", "path_suffix": suffix, "count": 1000,
                "action": {"status": 500, "body": "empty"}})
        world.start_daemon()
        world.send(harness.message())
        inc = harness.wait_for(world.incidents, what="incident")[0]["id"]
        for name, _ in world.team:
            try:
                harness.wait_for(lambda: sink.to(f"{name}@example.com"), 30,
                                 f"page mail to {name}")
            except TimeoutError:
                pass

        # Page mail leaves when the incident opens, before the providers
        # have failed; the event and the failure count come once they have.
        def kinds():
            return [e["kind"] for e in world.show(inc)["timeline"]]

        def states():
            rc, out = world.cli("status", "--json")
            return {p["name"]: p for p in json.loads(out)["providers"]}
        try:
            harness.wait_for(lambda: "page-mail" in kinds() and states()[
                "vonage"]["consecutive_failures"] >= 3, 30,
                "the page-mail event and three Vonage failures")
        except TimeoutError:
            pass
        tap.check("page-mail" in kinds(), "the timeline records the page "
                  "mail", kinds())
        last = states()
        tap.check(last["vonage"]["consecutive_failures"] >= 3,
                  "status counts Vonage's failures", last)
        # Only now: a second page mail would come with the failures.
        for name, _ in world.team:
            got = sink.to(f"{name}@example.com")
            tap.check(len(got) == 1,
                      f"both failing: {name} gets page mail once",
                      [m.header("Subject") for m in got])
    finally:
        sink.stop()
        harness.stop_world(world, tap, "both failing")


def status_before_answer(tap):
    """Twilio's API responses come late and its status callbacks first:
    each status is applied once the response names the sid."""
    world = harness.World()
    try:
        world.sim_call("POST", "/_sim/config", {"event_delay_ms": 0})
        twilio_fault(world, {"delay_ms": 700})
        world.start_daemon()
        world.send(harness.message(sender="early@example.net",
                                   message_id="early@example.net"))
        inc = harness.wait_for(world.incidents, what="incident opened")[0][
            "id"]

        def sms_statuses():
            got = [p["provider_status"] for p in world.show(inc)["pages"]
                   if p["channel"] == "sms"]
            return got if got and all(s == "delivered" for s in got) \
                else None
        got = None
        try:
            got = harness.wait_for(sms_statuses, 20, "delivered SMS")
        except TimeoutError:
            pass
        tap.check(got is not None, "early statuses reach their pages",
                  world.show(inc)["pages"])
        log = world.log()
        tap.check("notify: status that came before the API response applied"
                  in log, "the late response applies them")
        tap.check(f"notify: status inc={inc} page=" in log,
                  "a status line names the incident of its page")
    finally:
        harness.stop_world(world, tap, "status before answer")


def main():
    tap = harness.Tap()
    try:
        status_before_answer(tap)
    except Exception as exc:
        tap.check(False, "status before answer: ran to the end", repr(exc))
    for mode in ("5xx", "502 proxy page", "cut mid-body", "hang",
                 "429 storm", "garbage", "undelivered"):
        try:
            fault_world(tap, mode)
        except Exception as exc:
            tap.check(False, f"{mode}: ran to the end", repr(exc))
    try:
        circuit_recovers(tap)
    except Exception as exc:
        tap.check(False, "recovery: ran to the end", repr(exc))
    try:
        both_failing(tap)
    except Exception as exc:
        tap.check(False, "both failing: ran to the end", repr(exc))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
