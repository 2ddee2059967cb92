#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Pages in flight at a kill -9 are known as sent again once the
provider's status names them, and a keypress on such a call acknowledges.

The simulator responds to the API requests late, so the daemon dies with
every request at the provider and no sid read.  At the restart its pages
turn unknown.  Twilio's status callbacks carry the page ids in their URL,
and Vonage's delivery receipts in their client-ref (both signed), and the
restarted daemon records each page's sid and statuses.  On Twilio, Bob then
presses 1 on his call, which only works when the call's sid is known.
"""

import sys

import harness
from test_vonage import vonage_first


def requests_at_sim(world):
    return [r for r in world.sim_requests()
            if r["path"].endswith(("/Messages.json", "/Calls.json"))]


def twilio(world, tap):
    bob = dict(world.team)["bob"]
    # Statuses come 2.5 s after each request, its API response after 8 s:
    # the daemon is killed before it reads a sid and restarted before the
    # first status.
    world.sim_call("POST", "/_sim/config", {"event_delay_ms": 2500})
    for suffix in ("Messages.json", "Calls.json"):
        world.sim_call("POST", "/_sim/faults", {
            "method": "POST", "path_suffix": suffix, "count": 4,
            "action": {"delay_ms": 8000}})
    world.sim_call("POST", "/_sim/callee", {"number": bob, "action": "press",
                                            "digits": "1", "delay_ms": 500})
    world.start_daemon()
    world.send(harness.message())
    harness.wait_for(lambda: len(requests_at_sim(world)) >= 4, 20,
                     "the four requests at the simulator")
    world.kill_daemon()
    world.start_daemon()
    inc = world.incidents()[0]["id"]

    def pages():
        return world.show(inc)["pages"]
    try:
        harness.wait_for(lambda: all(p["sid"] for p in pages()), 20,
                         "every page's sid from its status")
    except TimeoutError:
        pass
    shown = pages()
    tap.check(len(shown) == 4 and all(p["sid"] for p in shown),
              "each page in flight has its sid again", shown)
    tap.check(all(p["state"] == "sent" for p in shown),
              "each page is sent, not unknown",
              [(p["id"], p["state"]) for p in shown])
    try:
        harness.wait_for(lambda: world.show(inc)["acknowledged_by"], 20,
                         "bob's keypress")
    except TimeoutError:
        pass
    final = world.show(inc)
    tap.check(final["acknowledged_by"] == "bob" and
              final["acknowledged_channel"] == "voice",
              "a keypress on a call placed before the kill acknowledges",
              {k: final[k] for k in ("acknowledged_by",
                                     "acknowledged_channel")})
    events = [e for e in final["timeline"] if e["kind"] == "sent"]
    tap.check(len(events) == 4 and all("named by a status" in e["detail"]
                                       for e in events),
              "the timeline says where each sid came from", events)
    tap.check(world.log().count("page in flight at the last stop was "
                                "sent") == 4, "the log names each page")
    tap.check(len(requests_at_sim(world)) == 4, "nothing was sent twice",
              len(requests_at_sim(world)))


def vonage(world, tap):
    # The receipt comes 0.5 s after Vonage takes the message, which it
    # does 3 s after the request: the daemon is killed and restarted
    # meanwhile.
    vonage_first(world)
    world.vonage_call("POST", "/_sim/config", {"dlr_delay_ms": 500})
    for suffix in ("/sms/json", "/v1/calls"):
        world.vonage_call("POST", "/_sim/faults", {
            "method": "POST", "path_suffix": suffix, "count": 2,
            "action": {"delay_ms": 3000}})
    world.start_daemon()
    world.send(harness.message())
    harness.wait_for(lambda: len([
        r for r in world.vonage_call("GET", "/_sim/requests")["requests"]
        if r["path"].startswith(("/sms/json", "/v1/calls"))]) >= 4, 20,
        "the four requests at Vonage")
    world.kill_daemon()
    world.start_daemon()
    inc = world.incidents()[0]["id"]

    def sms_pages():
        return [p for p in world.show(inc)["pages"] if p["channel"] == "sms"]
    try:
        harness.wait_for(lambda: all(p["sid"] and p["provider_status"]
                                     for p in sms_pages()), 20,
                         "each SMS page's receipt")
    except TimeoutError:
        pass
    shown = sms_pages()
    tap.check(len(shown) == 2 and all(
        p["sid"] and p["state"] == "sent" and p["provider_status"]
        for p in shown), "vonage: each SMS in flight is sent with its "
        "receipt's status", shown)


def main():
    tap = harness.Tap()
    for name, case, args in (("twilio", twilio, {}),
                             ("vonage", vonage, {"vonage": True})):
        world = harness.World(**args)
        try:
            case(world, tap)
        except Exception as exc:
            tap.check(False, f"{name}: ran to the end", repr(exc))
        finally:
            harness.stop_world(world, tap, name)
        if tap.failed:
            print("# --- critgate log ---")
            for line in world.log().splitlines()[-60:]:
                print("# " + line)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
