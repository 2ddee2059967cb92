#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Pages in flight at a kill -9 are known as sent again once the
provider's status names them, and a keypress on such a call acknowledges.

The simulator responds to the API requests late, so the daemon dies with
every request at the provider and no sid read.  At the restart its pages
turn unknown.  Twilio's status callbacks carry the page ids in their URL,
Vonage's delivery receipts in their client-ref (both signed), and
Vonage's call events in their URL, and the restarted daemon records each
page's sid and statuses.  On Twilio, Bob then
presses 1 on his call, which only works when the call's sid is known: also
when every status of the call came while the daemon was down, as the
keypress URL names the pages too.  A signed status whose list names pages
of two members records nothing.

When the provider refused the requests (so no status will ever come), the
pages are sent again escalation.resend_unknown_seconds after the restart,
except those of an incident acknowledged meanwhile, and after the next
restart when the daemon is killed again before that.
"""

import base64
import hashlib
import hmac
import json
import signal
import sys

import harness
from test_vonage import post_voice, twilio_fails, vonage_first, voice_token


LIMIT_TWO = 'page_limits = { voice = "2/15m"; sms = "2/15m"; };'
LIMIT_ONE = 'page_limits = { voice = "1/15m"; sms = "1/15m"; };'


def requests_at_sim(world):
    return [r for r in world.sim_requests()
            if r["path"].endswith(("/Messages.json", "/Calls.json"))]


def kill_in_flight(world, event_delay_ms, press_delay_ms=None):
    """Opens an incident and kills the daemon once its four requests are
    at the simulator, which responds to them after 8 s and sends statuses
    after event_delay_ms.  Bob presses 1 press_delay_ms after answering."""
    world.sim_call("POST", "/_sim/config", {"event_delay_ms":
                                            event_delay_ms})
    for suffix in ("Messages.json", "Calls.json"):
        world.sim_call("POST", "/_sim/faults", {
            "method": "POST", "path_suffix": suffix, "count": 4,
            "action": {"delay_ms": 8000}})
    if press_delay_ms is not None:
        world.sim_call("POST", "/_sim/callee", {
            "number": dict(world.team)["bob"], "action": "press",
            "digits": "1", "delay_ms": press_delay_ms})
    world.start_daemon()
    world.send(harness.message())
    harness.wait_for(lambda: len(requests_at_sim(world)) >= 4, 20,
                     "the four requests at the simulator")
    world.kill_daemon()


def acknowledgement(world, inc):
    """Waits for bob's keypress; returns who acknowledged, and how."""
    try:
        harness.wait_for(lambda: world.show(inc)["acknowledged_by"], 20,
                         "bob's keypress")
    except TimeoutError:
        pass
    final = world.show(inc)
    return final["acknowledged_by"], final["acknowledged_channel"]


def twilio(world, tap):
    # Killed before it reads a sid, restarted before the first status.
    kill_in_flight(world, 2500, press_delay_ms=500)
    world.start_daemon()
    inc = world.incidents()[0]["id"]

    def pages():
        return world.show(inc)["pages"]
    try:
        harness.wait_for(lambda: all(p["sid"] for p in pages()), 20,
                         "every page's sid from its status")
    except TimeoutError:
        pass
    after_restart = pages()
    tap.check(len(after_restart) == 4 and all(p["sid"] for p in after_restart),
              "each page in flight has its sid again", after_restart)
    tap.check(all(p["state"] == "sent" for p in after_restart),
              "each page is sent, not unknown",
              [(p["id"], p["state"]) for p in after_restart])
    # Page limits count pages by the time they were sent.
    tap.check(all(p["sent"] for p in after_restart), "each page has a sent time",
              [(p["id"], p["sent"]) for p in after_restart])
    got = acknowledgement(world, inc)
    tap.check(got == ("bob", "voice"), "a keypress on a call placed "
              "before the kill acknowledges", got)
    events = [e for e in world.show(inc)["timeline"] if e["kind"] == "sent"]
    tap.check(len(events) == 4 and all("named by a status" in e["detail"]
                                       for e in events),
              "the timeline says where each sid came from", events)
    tap.check(world.log().count("page in flight at the last stop was "
                                f"sent inc={inc} page=") == 4,
              "the log names each page and its incident")
    tap.check(len(requests_at_sim(world)) == 4, "nothing was sent twice",
              len(requests_at_sim(world)))


def call_hooks(world, status):
    return [h for h in world.sim_call("GET", "/_sim/webhooks")
            if h["kind"] == "call-status" and
            h["params"].get("CallStatus") == [status]]


def twilio_late(world, tap):
    """The call rings and is answered while the daemon is down; the
    keypress comes after the restart, before any other status."""
    kill_in_flight(world, 300, press_delay_ms=4000)
    harness.wait_for(lambda: len(call_hooks(world, "in-progress")) >= 2,
                     20, "both calls answered while the daemon is down")
    world.start_daemon()
    got = acknowledgement(world, world.incidents()[0]["id"])
    tap.check(got == ("bob", "voice"), "late: a keypress after every "
              "status of the call acknowledges", got)


def signed_post(world, path, pairs):
    url = f"http://127.0.0.1:{world.http_port}" + path
    text = url + "".join(k + v for k, v in sorted(pairs))
    sig = base64.b64encode(hmac.new(harness.AUTH_TOKEN.encode(),
                                    text.encode(), hashlib.sha1).digest())
    return world.post_form(path, pairs,
                           {"X-Twilio-Signature": sig.decode()})


def twilio_mixed(world, tap):
    """A signed status naming two members' pages records neither."""
    kill_in_flight(world, 60000)
    world.start_daemon()
    inc = world.incidents()[0]["id"]
    voice = [p["id"] for p in world.show(inc)["pages"]
             if p["channel"] == "voice"]
    status = signed_post(world, "/hooks/twilio/voice/status?pages=" +
                         ",".join(str(i) for i in voice),
                         [("CallSid", "CA" + "0" * 32),
                          ("CallStatus", "ringing")])
    tap.check(status == 204, "mixed: the status gets 204", status)
    tap.check(all(p["state"] == "unknown" and not p["sid"]
                  for p in world.show(inc)["pages"]),
              "mixed: no page takes the sid", world.show(inc)["pages"])
    tap.check("pages of two members" in world.log(),
              "mixed: the log says why")


def pages_with_status(world, inc, channel):
    """Returns the pages of inc on channel once each has a sid and a
    provider status, or as they are after 20 s."""
    def pages():
        return [p for p in world.show(inc)["pages"]
                if p["channel"] == channel]
    try:
        harness.wait_for(lambda: all(p["sid"] and p["provider_status"]
                                     for p in pages()), 20,
                         f"a status for each {channel} page")
    except TimeoutError:
        pass
    return pages()


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

    for channel, what in (("sms", "SMS in flight is sent with its "
                           "receipt's status"),
                          ("voice", "call in flight is sent with its "
                           "event's status")):
        pages = pages_with_status(world, inc, channel)
        tap.check(len(pages) == 2 and all(
            p["sid"] and p["state"] == "sent" and p["provider_status"]
            for p in pages), f"vonage: each {what}", pages)


def calls_at_vonage(world):
    return [r for r in world.vonage_call("GET", "/_sim/requests")["requests"]
            if r["path"].startswith("/v1/calls")]


def kill_with_calls_at_vonage(world):
    """Opens an incident and kills the daemon while Vonage, which sends
    no callbacks, keeps its two calls waiting.  Restarts the daemon and
    returns the incident's id."""
    world.vonage_call("POST", "/_sim/config", {"no_callbacks": True})
    world.vonage_call("POST", "/_sim/faults", {
        "method": "POST", "path_suffix": "/v1/calls", "count": 2,
        "action": {"delay_ms": 3000}})
    world.start_daemon()
    world.send(harness.message())
    harness.wait_for(lambda: len(calls_at_vonage(world)) >= 2, 20,
                     "the two calls at Vonage")
    world.kill_daemon()
    world.start_daemon()
    return world.incidents()[0]["id"]


def vonage_event_list_checked(world, tap):
    # Vonage sends no callbacks: the test posts the events itself.  The
    # JWT does not sign the event URL, so a list naming a page that did
    # not call the number in the signed body records nothing.
    vonage_first(world)
    inc = kill_with_calls_at_vonage(world)
    event_path = {}
    for r in calls_at_vonage(world):
        body = harness.json.loads(r["body"])
        url = body["event_url"][0]
        event_path[body["to"][0]["number"]] = url[url.index("/hooks/"):]
    team = dict(world.team)
    alice, bob = team["alice"][1:], team["bob"][1:]

    def alice_call():
        return [p for p in world.show(inc)["pages"]
                if p["channel"] == "voice" and p["member"] == "alice"][0]
    forged = json.dumps({
        "from": harness.VONAGE_NUMBER[1:], "to": bob, "uuid": "U-FORGED",
        "conversation_uuid": "CON-U-FORGED", "status": "answered",
        "direction": "outbound",
        "timestamp": "2026-01-15T10:00:00.000Z"}).encode()
    status, _ = post_voice(world, event_path[alice], forged,
                           voice_token(forged))
    tap.check(status == 200 and alice_call()["state"] == "unknown",
              "vonage list: a list for another number records nothing",
              (status, alice_call()))
    tap.check("not the number called" in world.log(),
              "vonage list: the log says why", world.log()[-1500:])
    genuine = forged.replace(bob.encode(), alice.encode()).replace(
        b"U-FORGED", b"U-ALICE")
    status, _ = post_voice(world, event_path[alice], genuine,
                           voice_token(genuine))
    page = alice_call()
    tap.check(status == 200 and page["state"] == "sent" and
              page["sid"] == "U-ALICE",
              "vonage list: the event for the number called records the "
              "call", (status, page))


def twilio_after_failover(world, tap):
    # Twilio refuses the calls, so they fail over to Vonage, which keeps
    # them waiting while the daemon is killed.  A late Twilio status
    # naming such a page must not settle it: the request in flight was
    # Vonage's.
    twilio_fails(world)
    inc = kill_with_calls_at_vonage(world)
    calls = [p for p in world.show(inc)["pages"] if p["channel"] == "voice"]
    for p in calls:
        signed_post(world, f"/hooks/twilio/voice/status?pages={p['id']}", [
            ("CallSid", f"CA{p['id']:032d}"), ("CallStatus", "completed"),
            ("AccountSid", harness.ACCOUNT_SID)])
    states = [p["state"] for p in world.show(inc)["pages"]
              if p["channel"] == "voice"]
    tap.check(len(calls) == 2 and states == ["unknown", "unknown"],
              "failed over: a late Twilio status leaves the Vonage call "
              "unknown", world.show(inc)["pages"])
    tap.check("through another provider" in world.log(),
              "failed over: the log says why", world.log()[-1500:])


def requests_die(world, subjects):
    """Opens an incident per subject and kills the daemon once their
    requests are at the simulator, which never takes them (it returns 503
    after 4 s)."""
    world.sim_call("POST", "/_sim/faults", {
        "method": "POST", "count": 4 * len(subjects),
        "action": {"delay_ms": 4000, "status": 503}})
    world.start_daemon()
    for i, subject in enumerate(subjects):
        n = 4 * (i + 1)
        world.send(harness.message(subject=subject,
                                   message_id=f"{n}@customer.example.net",
                                   sender=f"c{n}@customer.example.net"))
        harness.wait_for(lambda: len(requests_at_sim(world)) >= n, 20,
                         f"{n} requests at the simulator")
    world.kill_daemon()


def twilio_never_left(world, tap):
    """Two incidents' requests die with the daemon and never reach the
    provider.  The first incident is acknowledged while the daemon is
    down."""
    requests_die(world, ("Checkout down", "Logins fail"))
    acked, paging = sorted(i["id"] for i in world.incidents())
    rc, out = world.cli("ack", str(acked), "--by", "alice")
    tap.check(rc == 0, "never left: acknowledged while stopped", out)
    world.start_daemon()

    def states(inc):
        return sorted(p["state"] for p in world.show(inc)["pages"])
    try:
        harness.wait_for(lambda: states(paging) == ["sent"] * 4, 20,
                         "the open incident's pages sent again")
    except TimeoutError:
        pass
    tap.check(states(paging) == ["sent"] * 4,
              "never left: the open incident's pages are sent again",
              world.show(paging)["pages"])
    resends = [e for e in world.show(paging)["timeline"]
               if e["kind"] == "resend"]
    tap.check(len(resends) == 4 and all("no provider status named it" in
                                        e["detail"] for e in resends),
              "never left: the timeline says why each went again", resends)
    tap.check(states(acked) == ["unknown"] * 4,
              "never left: the acknowledged incident pages nobody again",
              world.show(acked)["pages"])
    tap.check(len(requests_at_sim(world)) == 12,
              "never left: four requests more, no other",
              len(requests_at_sim(world)))
    tap.check("sent again count=4" in world.log(),
              "never left: the log counts the pages sent again")
    rc, out = world.cli("status", "--json")
    backlog = json.loads(out) if rc == 0 else {}
    tap.check(backlog.get("pages_in_flight") == 0,
              "never left: status counts no page of the acknowledged "
              "incident in flight", backlog)


def twilio_killed_twice(world, tap):
    """The restarted daemon is killed again before it sends the unknown
    pages again; the start after that sends them."""
    requests_die(world, ("Checkout down",))
    world.start_daemon()
    inc = world.incidents()[0]["id"]

    def states():
        return sorted(p["state"] for p in world.show(inc)["pages"])
    harness.wait_for(lambda: states() == ["unknown"] * 4, 20,
                     "the pages unknown after the first restart")
    world.kill_daemon()
    world.resend_unknown_seconds = 1
    world.write_config()
    world.start_daemon()
    try:
        harness.wait_for(lambda: states() == ["sent"] * 4, 20,
                         "the pages sent again after the second restart")
    except TimeoutError:
        pass
    tap.check(states() == ["sent"] * 4, "killed twice: the pages are sent "
              "again after the second restart", world.show(inc)["pages"])
    tap.check(len(requests_at_sim(world)) == 8,
              "killed twice: four requests more, no other",
              len(requests_at_sim(world)))


def twilio_bundle_in_flight(world, tap):
    """Four incidents due at once go out in one call and one SMS per
    member, which die with the daemon.  With a limit of two requests per
    member and channel, each bundle counts as one request, so its pages
    are sent again after the restart, not capped."""
    world.start_daemon()
    world.daemon.send_signal(signal.SIGTERM)
    world.daemon.wait(timeout=20)
    for n in range(4):
        text = harness.message(f"Region {n} down", f"b{n}@s{n}.example",
                               f"S{n} <ops@s{n}.example>")
        rc, err = world.deliver(text, f"ops@s{n}.example")
        tap.check(rc == 0, f"bundle: report {n} stored", err)
    world.sim_call("POST", "/_sim/faults", {
        "method": "POST", "count": 4,
        "action": {"delay_ms": 4000, "status": 503}})
    world.start_daemon()
    harness.wait_for(lambda: len(requests_at_sim(world)) >= 4, 20,
                     "four bundled requests at the simulator")
    world.kill_daemon()
    tap.check(len(requests_at_sim(world)) == 4 and
              world.log().count(" bundle=4 ") == 4,
              "bundle: one call and one SMS per member name all four",
              len(requests_at_sim(world)))
    world.start_daemon()
    ids = [i["id"] for i in world.incidents()]

    def states():
        return sorted(p["state"] for i in ids
                      for p in world.show(i)["pages"])
    try:
        harness.wait_for(lambda: states() == ["sent"] * 16, 20,
                         "every page sent again")
    except TimeoutError:
        pass
    tap.check(states() == ["sent"] * 16, "bundle: every page is sent "
              "again, none capped", states())
    tap.check(len(requests_at_sim(world)) == 8,
              "bundle: four requests more, no other",
              len(requests_at_sim(world)))


def twilio_limit_one(world, tap):
    """With a limit of one request per member and channel, the request
    that died with the daemon is not held against its own resend: a crash
    costs nobody their page."""
    requests_die(world, ("Checkout down",))
    world.start_daemon()
    inc = world.incidents()[0]["id"]

    def states():
        return sorted(p["state"] for p in world.show(inc)["pages"])
    try:
        harness.wait_for(lambda: states() == ["sent"] * 4, 20,
                         "every page sent again")
    except TimeoutError:
        pass
    tap.check(states() == ["sent"] * 4,
              "limit one: every page is sent again, none capped", states())
    tap.check(len(requests_at_sim(world)) == 8,
              "limit one: four requests more, no other",
              len(requests_at_sim(world)))


def twilio_team_changed(world, tap):
    """While the daemon is down, bob leaves the team and alice gets a new
    number: what is sent again follows the config."""
    requests_die(world, ("Checkout down",))
    world.team = [("alice", "+15550100021")]
    world.write_config()
    world.start_daemon()
    inc = world.incidents()[0]["id"]

    def states():
        return sorted((p["member"], p["state"])
                      for p in world.show(inc)["pages"])
    want = [("alice", "sent"), ("alice", "sent"), ("bob", "canceled"),
            ("bob", "canceled")]
    try:
        harness.wait_for(lambda: states() == want, 20,
                         "alice's pages sent again, bob's canceled")
    except TimeoutError:
        pass
    tap.check(states() == want, "team changed: only the members still in "
              "the team are paged again", world.show(inc)["pages"])
    again = requests_at_sim(world)[4:]
    tap.check(len(again) == 2 and all(
        r.get("form", {}).get("To") == ["+15550100021"] for r in again),
              "team changed: alice's pages go to her new number", again)
    kinds = [(e["kind"], e["detail"]) for e in world.show(inc)["timeline"]
             if e["kind"] in ("canceled", "readdressed")]
    tap.check(sorted(k for k, _ in kinds) == ["canceled", "canceled",
                                               "readdressed",
                                               "readdressed"] and
              all("left the team" in d for k, d in kinds
                  if k == "canceled"),
              "team changed: the timeline says why", kinds)


def main():
    tap = harness.Tap()
    for name, case, args in (("twilio", twilio, {}),
                             ("late", twilio_late, {}),
                             ("mixed", twilio_mixed, {}),
                             ("never left", twilio_never_left,
                              {"resend_unknown_seconds": 1}),
                             ("killed twice", twilio_killed_twice, {}),
                             ("bundle in flight", twilio_bundle_in_flight,
                              {"resend_unknown_seconds": 1,
                               "extra_config": LIMIT_TWO}),
                             ("limit one", twilio_limit_one,
                              {"resend_unknown_seconds": 1,
                               "extra_config": LIMIT_ONE}),
                             ("team changed", twilio_team_changed,
                              {"resend_unknown_seconds": 1}),
                             ("vonage", vonage, {"vonage": True}),
                             ("vonage list", vonage_event_list_checked,
                              {"vonage": True}),
                             ("after failover", twilio_after_failover,
                              {"vonage": True})):
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
