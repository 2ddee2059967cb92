#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Provider failures: a 500 then a 201 still gets the page out, a 429 is
retried, and a permanent 400 is shown as a failed page in the timeline.
A busy call with no relay for page mail shows as reaching nobody."""

import sys

import harness


def body(world, tap):
    alice = dict(world.team)["alice"]
    bob = dict(world.team)["bob"]
    # Alice's: bob's SMS fails for good, whichever arrives first.
    world.sim_call("POST", "/_sim/faults", {
        "method": "POST", "path_suffix": "Messages.json", "count": 1,
        "to": alice, "action": {"status": 500, "body": "twilio"}})
    world.sim_call("POST", "/_sim/faults", {
        "method": "POST", "path_suffix": "Calls.json", "count": 1,
        "action": {"status": 429, "retry_after": "1"}})
    world.sim_call("POST", "/_sim/numbers", {"number": bob,
                                             "landline": True})
    # Alice's phone is busy: with no relay, nothing takes over.
    world.sim_call("POST", "/_sim/callee", {"number": alice,
                                            "action": "busy"})
    world.start_daemon()
    world.send(harness.message())
    inc = harness.wait_for(world.incidents, what="incident opened")[0]

    def settled():
        shown = world.show(inc["id"])
        states = [p["state"] for p in shown["pages"]]
        return len(states) == 4 and all(s in ("sent", "failed")
                                         for s in states) and shown
    shown = harness.wait_for(settled, 30, "pages sent or failed")
    by_key = {(p["member"], p["channel"]): p for p in shown["pages"]}
    call = by_key[("alice", "voice")]
    unreached = harness.wait_for(lambda: [
        e["detail"] for e in world.show(inc["id"])["timeline"]
        if e["kind"] == "unreached" and e["page"] == call["id"]], 20,
        "the busy call on the timeline")
    tap.check(unreached == ["the call was not answered; no page mail can "
                            "go out"],
              "the timeline says the busy call reached nobody", unreached)

    sms_500 = [r for r in world.sim_requests("/Messages.json")
               if r["status"] == 500]
    tap.check(len(sms_500) == 1, "simulator answered one SMS with 500",
              sms_500)
    retried = [p for p in shown["pages"] if p["channel"] == "sms" and
               p["attempts"] == 2 and p["state"] == "sent"]
    tap.check(len(retried) == 1, "the SMS refused with 500 went out on "
              "the second attempt", shown["pages"])
    calls_429 = [r for r in world.sim_requests("/Calls.json")
                 if r["status"] == 429]
    tap.check(len(calls_429) == 1, "simulator answered one call with 429",
              calls_429)
    tap.check(all(p["state"] == "sent" for p in shown["pages"]
                  if p["channel"] == "voice"),
              "both calls went out despite the 429", shown["pages"])

    landline = by_key[("bob", "sms")]
    tap.check(landline["state"] == "failed", "SMS to a landline failed",
              landline)
    tap.check(landline["attempts"] == 1, "permanent error not retried",
              landline)
    tap.check("21614" in (landline["error"] or ""),
              "failure records Twilio's code", landline["error"])
    kinds = [e["kind"] for e in shown["timeline"]]
    tap.check("failed" in kinds and "retry" in kinds,
              "timeline shows the retry and the failure", kinds)
    rc, text = world.cli("show", str(inc["id"]))
    tap.check(rc == 0 and "failed" in text, "show prints the failed page",
              text)
    log = world.log()
    tap.check("http=500 code=20500" in log, "log names HTTP status and "
              "Twilio code", "")
    answered = [r for r in world.sim_requests() if r["fault"] is None]
    tap.check(answered and all(r["auth_ok"] for r in answered),
              "every request authenticated", answered)


if __name__ == "__main__":
    sys.exit(harness.run(body))
