#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Vonage's webhooks through the running daemon.

A callee who presses 1 on a Vonage call acknowledges by voice; another
digit, a replayed token (same jti) and a forged one do not. A failed SMS
delivery receipt sends the page through the next provider. With Vonage
last, the timeline records page mail for it instead, and the member keeps
the one page mail sent when the incident opened. Call events with a valid
JWT move a page's provider status forward only. A long SMS, which Vonage
delivers in parts, is read once joined."""

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import harness
import mail_sink

TEAM = harness.TEAM + [
    ("carol", "+15550100013"),
    ("dave", "+15550100014"),
]


def callees_press_two(world):
    """Makes every callee of the Vonage simulator answer and press 2, which
    acknowledges nothing."""
    world.vonage_call("POST", "/_sim/callee", {"outcome": "answer",
                                               "digits": "2"})


def vonage_first(world):
    """Rewrites the config so that Vonage is tried before Twilio."""
    with open(world.config) as f:
        text = f.read()
    old = 'order = [ "twilio", "vonage" ]'
    if old not in text:
        raise RuntimeError("providers order not found in " + world.config)
    with open(world.config, "w") as f:
        f.write(text.replace(old, 'order = [ "vonage", "twilio" ]'))


def twilio_fails(world):
    for suffix in ("Messages.json", "Calls.json"):
        world.sim_call("POST", "/_sim/faults", {
            "method": "POST", "path_suffix": suffix, "count": 1000,
            "action": {"status": 500, "body": "twilio"}})


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def voice_token(body, secret=harness.VONAGE_SECRET, jti=None, alg="HS256",
                iat=None):
    """Returns an Authorization value signed as Vonage signs its voice
    webhooks: an HS256 JWT over claims that carry the body's SHA-256."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    claims = {"iat": int(time.time()) if iat is None else iat,
              "jti": jti or str(uuid.uuid4()), "iss": "Vonage",
              "payload_hash": hashlib.sha256(body).hexdigest(),
              "api_key": harness.VONAGE_API_KEY,
              "application_id": harness.VONAGE_APP_ID}
    signing_input = header + "." + b64url(json.dumps(claims).encode())
    if alg == "none":
        return "Bearer " + signing_input + "."
    sig = hmac.new(secret.encode(), signing_input.encode(),
                   hashlib.sha256).digest()
    return "Bearer " + signing_input + "." + b64url(sig)


def token_jti(authorization):
    claims = authorization.split(" ", 1)[1].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" *
                                               (-len(claims) % 4)))["jti"]


def post_voice(world, path, body, authorization=None):
    """POSTs a JSON body to the daemon; returns (status, response text)."""
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    req = urllib.request.Request(
        f"http://127.0.0.1:{world.http_port}{path}", data=body,
        method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def webhooks(world, kind, count):
    """Returns the webhooks of kind the simulator sent, once there are at
    least count of them, else None."""
    got = world.vonage_call("GET", "/_sim/webhooks")["webhooks"]
    got = [h for h in got if h["kind"] == kind]
    return got if len(got) >= count else None


def page_of(world, inc, member, channel):
    for page in world.show(inc)["pages"]:
        if page["member"] == member and page["channel"] == channel:
            return page
    return None


def sent_page(world, inc, member, channel, provider):
    page = page_of(world, inc, member, channel)
    if page is None or page["state"] != "sent" or \
            page["provider"] != provider:
        return None
    return page


def page_status_is(world, inc, member, channel, status):
    page = page_of(world, inc, member, channel)
    return page is not None and page["provider_status"] == status


def statuses(world, inc, page_id):
    """Returns the provider statuses the timeline recorded for a page."""
    return [e["detail"].split(" ")[0] for e in world.show(inc)["timeline"]
            if e["kind"] == "status" and e["page"] == page_id]


def page_mailed(world, inc, page_id):
    """Tells whether the timeline records page mail sent because every
    phone provider failed to deliver page_id."""
    return any(e["kind"] == "page-mail" and e["page"] == page_id
               for e in world.show(inc)["timeline"])


def is_acked(world, inc):
    return world.show(inc)["acknowledged_by"]


def open_incident(world, **kwargs):
    world.start_daemon()
    world.send(harness.message(**kwargs))
    return harness.wait_for(world.incidents, what="incident opened")[0]["id"]


def input_body(page_uuid, digits):
    return json.dumps({
        "speech": {"results": []},
        "dtmf": {"digits": digits, "timed_out": False},
        "from": harness.VONAGE_NUMBER[1:], "to": "15550100011",
        "uuid": page_uuid, "conversation_uuid": "CON-" + page_uuid,
        "timestamp": "2026-01-15T10:00:00.000Z"}).encode()


def event_body(page_uuid, status):
    return json.dumps({
        "from": harness.VONAGE_NUMBER[1:], "to": "15550100011",
        "uuid": page_uuid, "conversation_uuid": "CON-" + page_uuid,
        "status": status, "direction": "outbound",
        "timestamp": "2026-01-15T10:00:00.000Z"}).encode()


def keypress_acknowledges(tap):
    """The simulator's callee presses 1 for alice and 2 for bob."""
    world = harness.World(vonage=True)
    try:
        vonage_first(world)
        callees_press_two(world)
        world.vonage_call("POST", "/_sim/numbers", {
            "number": dict(world.team)["alice"][1:],
            "callee": {"digits": "1"}})
        inc = open_incident(world)
        shown = None
        try:
            shown = harness.wait_for(
                lambda: (lambda s: s["state"] == "acknowledged" and s)(
                    world.show(inc)), 30, "keypress acknowledgement")
        except TimeoutError:
            pass
        tap.check(shown is not None, "pressing 1 on a Vonage call "
                  "acknowledges", world.show(inc))
        shown = shown or world.show(inc)
        tap.check(shown["acknowledged_by"] == "alice", "acknowledged by "
                  "alice", shown["acknowledged_by"])
        tap.check(shown["acknowledged_channel"] == "voice",
                  "acknowledged through the voice channel",
                  shown["acknowledged_channel"])
        inputs = harness.wait_for(lambda: webhooks(world, "input", 2), 20,
                                  "both keypresses")
        by_digit = {h["digits"]: h for h in inputs}
        tap.check(by_digit["1"]["status"] == 200 and
                  f"Incident {inc} acknowledged" in by_digit["1"]["response"],
                  "the NCCO after 1 confirms the acknowledgement",
                  by_digit["1"])
        tap.check(by_digit["2"]["status"] == 200 and
                  "Not acknowledged" in by_digit["2"]["response"],
                  "the NCCO after 2 says not acknowledged", by_digit["2"])
    finally:
        harness.stop_world(world, tap, "keypress acknowledges")


def keypress_rejected(tap):
    """Both callees press 2; the test then replays and forges inputs."""
    world = harness.World(vonage=True)
    try:
        vonage_first(world)
        callees_press_two(world)
        inc = open_incident(world)
        inputs = harness.wait_for(lambda: webhooks(world, "input", 2), 30,
                                  "both keypresses")
        tap.check(all(h["status"] == 200 for h in inputs),
                  "keypress webhooks answered 200",
                  [h["status"] for h in inputs])
        tap.check(not is_acked(world, inc), "pressing 2 acknowledges nothing")

        page = page_of(world, inc, "alice", "voice")
        hook = [h for h in inputs if h["uuid"] == page["sid"]][0]
        parsed = urllib.parse.urlsplit(hook["url"])
        path = parsed.path + "?" + parsed.query
        auth = hook["headers"]["Authorization"]
        status, _ = post_voice(world, path, hook["body"].encode(), auth)
        tap.check(status == 200, "a replayed keypress gets 200", status)
        tap.check("vonage voice webhook replayed, ignored" in world.log(),
                  "the replay is logged")

        # The same jti on a body that presses 1, correctly signed.
        body = input_body(page["sid"], "1")
        status, _ = post_voice(world, path, body,
                               voice_token(body, jti=token_jti(auth)))
        tap.check(status == 200, "a reused jti gets 200", status)
        tap.check(not is_acked(world, inc), "a reused jti acknowledges "
                  "nothing", world.show(inc))

        forged = [
            ("wrong secret", voice_token(body, secret="not-the-secret"),
             403),
            ("alg none", voice_token(body, alg="none"), 403),
            ("alg RS256", voice_token(body, alg="RS256"), 403),
            ("stale iat", voice_token(body, iat=int(time.time()) - 3600),
             403),
            ("another body", voice_token(input_body(page["sid"], "2")),
             403),
            ("no token", None, 401),
        ]
        for name, token, expect in forged:
            status, _ = post_voice(world, path, body, token)
            tap.check(status == expect, f"keypress with {name} gets "
                      f"{expect}", status)
        tap.check(not is_acked(world, inc), "forged keypresses acknowledge "
                  "nothing", world.show(inc))

        # The same body with a fresh token does acknowledge, so the
        # requests above were refused for their token alone.
        status, text = post_voice(world, path, body, voice_token(body))
        tap.check(status == 200 and "acknowledged" in text,
                  "a fresh token on the same keypress gets 200", text)
        shown = world.show(inc)
        tap.check(shown["acknowledged_by"] == "alice" and
                  shown["acknowledged_channel"] == "voice",
                  "the fresh keypress acknowledges by voice", shown)
    finally:
        harness.stop_world(world, tap, "keypress rejected")


def dlr_fails_over(tap):
    """Vonage first: alice's SMS receipt reports failed, so her page goes
    through Twilio."""
    world = harness.World(vonage=True)
    try:
        vonage_first(world)
        alice = dict(world.team)["alice"]
        callees_press_two(world)
        world.vonage_call("POST", "/_sim/numbers", {
            "number": alice[1:], "dlr_status": "failed", "err_code": "6"})
        inc = open_incident(world)
        page = None
        try:
            page = harness.wait_for(
                lambda: sent_page(world, inc, "alice", "sms", "twilio"), 30,
                "alice's SMS sent through Twilio")
        except TimeoutError:
            pass
        tap.check(page is not None, "a failed Vonage receipt sends the SMS "
                  "through Twilio", page_of(world, inc, "alice", "sms"))
        to_alice = [r for r in world.sim_requests("/Messages.json")
                    if r["status"] == 201 and
                    r["form"].get("To") == [alice]]
        tap.check(len(to_alice) == 1, "Twilio got alice's SMS once",
                  to_alice)
        events = [e for e in world.show(inc)["timeline"]
                  if page is not None and e["page"] == page["id"]]
        tap.check(any(e["kind"] == "failover" and "status failed" in
                      (e["detail"] or "") for e in events),
                  "the timeline records the failover and why", events)
        tap.check(any(e["kind"] == "status" and e["detail"] ==
                      "failed error=6" for e in events),
                  "the timeline records Vonage's error code", events)
        delivered = False
        try:
            delivered = harness.wait_for(
                lambda: page_status_is(world, inc, "alice", "sms",
                                       "delivered"), 20, "Twilio's receipt")
        except TimeoutError:
            pass
        tap.check(delivered, "after the failover, the status is Twilio's",
                  page_of(world, inc, "alice", "sms"))

        bob = harness.wait_for(
            lambda: page_status_is(world, inc, "bob", "sms", "delivered"),
            20, "bob's Vonage receipt")
        tap.check(bob and page_of(world, inc, "bob", "sms")["provider"] ==
                  "vonage", "a delivered Vonage receipt leaves the page "
                  "with Vonage", page_of(world, inc, "bob", "sms"))
        tap.check(not is_acked(world, inc), "nothing acknowledged")
    finally:
        harness.stop_world(world, tap, "dlr fails over")


def dlr_mails_when_last(tap):
    """Twilio fails, so Vonage is the last provider: a failed receipt
    pages by mail."""
    world = harness.World(vonage=True, relay_port=harness.free_port())
    sink = mail_sink.Sink(world.relay_port).start()
    try:
        twilio_fails(world)
        callees_press_two(world)
        # Receipts arrive final status first, then "accepted".
        world.vonage_call("POST", "/_sim/config", {"out_of_order": True})
        world.vonage_call("POST", "/_sim/numbers", {
            "number": dict(world.team)["alice"][1:], "dlr_status": "failed",
            "err_code": "6"})
        inc = open_incident(world)
        # The page mail is recorded while the receipt is handled.
        harness.wait_for(lambda: webhooks(world, "dlr", 4), 20,
                         "every receipt")
        got = harness.wait_for(lambda: sink.to("alice@example.com"), 20,
                               "page mail to alice")
        tap.check(len(got) == 1, "alice has one page mail",
                  [m.header("Subject") for m in got])
        page = page_of(world, inc, "alice", "sms")
        tap.check(page_mailed(world, inc, page["id"]),
                  "the timeline records the page mail")
        for member in ("alice", "bob"):
            final = "failed" if member == "alice" else "delivered"
            page = page_of(world, inc, member, "sms")
            tap.check(page["provider_status"] == final,
                      f"{member}'s late 'accepted' does not replace "
                      f"'{final}'", page)
        bob = page_of(world, inc, "bob", "sms")
        tap.check(not page_mailed(world, inc, bob["id"]), "a delivered "
                  "receipt records no page mail")
        got = harness.wait_for(lambda: sink.to("bob@example.com"), 20,
                               "page mail to bob")
        tap.check(len(got) == 1, "bob has only the page mail of the "
                  "incident's opening", [m.header("Subject") for m in got])
    finally:
        sink.stop()
        harness.stop_world(world, tap, "dlr mails when last")


def voice_events(tap):
    """Twilio fails; alice answers, bob is busy, carol does not answer
    and dave's call fails.  Every event comes twice, with two tokens."""
    world = harness.World(vonage=True, relay_port=harness.free_port(),
                          team=TEAM)
    sink = mail_sink.Sink(world.relay_port).start()
    outcomes = {"alice": "completed", "bob": "busy", "carol": "unanswered",
                "dave": "failed"}
    try:
        twilio_fails(world)
        callees_press_two(world)
        world.vonage_call("POST", "/_sim/config", {"duplicate_webhooks": 1})
        for member, phone in world.team:
            if member != "alice":
                world.vonage_call("POST", "/_sim/numbers", {
                    "number": phone[1:],
                    "callee": {"outcome": outcomes[member]}})
        inc = open_incident(world)
        for member, final in outcomes.items():
            ok = True
            try:
                harness.wait_for(lambda: page_status_is(
                    world, inc, member, "voice", final), 30,
                    f"{member}'s call {final}")
            except TimeoutError:
                ok = False
            tap.check(ok, f"{member}'s voice page shows {final}",
                      page_of(world, inc, member, "voice"))
        alice = page_of(world, inc, "alice", "voice")
        tap.check(statuses(world, inc, alice["id"]) ==
                  ["started", "ringing", "answered", "completed"],
                  "each event of alice's call is recorded once, in order",
                  statuses(world, inc, alice["id"]))

        # Late events with valid tokens never move a status back.
        for member, final in outcomes.items():
            sid = page_of(world, inc, member, "voice")["sid"]
            for late in ("answered", "ringing", "started"):
                body = event_body(sid, late)
                status, _ = post_voice(world, "/hooks/vonage/voice/event",
                                       body, voice_token(body))
                tap.check(status == 200, f"late '{late}' for {member} "
                          "gets 200", status)
            page = page_of(world, inc, member, "voice")
            tap.check(page["provider_status"] == final,
                      f"{member}'s page stays {final}", page)
        # A final status after another final one is not recorded, so it
        # must not fail the answered call over either.
        body = event_body(alice["sid"], "failed")
        status, _ = post_voice(world, "/hooks/vonage/voice/event", body,
                               voice_token(body))
        tap.check(status == 200, "a late 'failed' for alice gets 200",
                  status)
        tap.check(page_of(world, inc, "alice", "voice")["provider_status"]
                  == "completed", "alice's page stays completed")
        tap.check(not page_mailed(world, inc, alice["id"]),
                  "a late 'failed' records no page mail")

        body = event_body(alice["sid"], "busy")
        status, _ = post_voice(world, "/hooks/vonage/voice/event", body,
                               voice_token(body, secret="not-the-secret"))
        tap.check(status == 403, "a forged event gets 403", status)
        status, _ = post_voice(world, "/hooks/vonage/voice/event", body)
        tap.check(status == 401, "an unsigned event gets 401", status)
        tap.check(page_of(world, inc, "alice", "voice")["provider_status"]
                  == "completed", "forged events change nothing")

        for member in ("bob", "carol", "dave"):
            got = None
            try:
                got = harness.wait_for(
                    lambda: sink.to(f"{member}@example.com"), 30,
                    f"page mail to {member}")
            except TimeoutError:
                pass
            tap.check(got is not None and len(got) == 1,
                      f"{member}'s {outcomes[member]} call sends page mail "
                      "once", [m.header("Subject") for m in got or []])
            page = page_of(world, inc, member, "voice")
            tap.check(page_mailed(world, inc, page["id"]), f"the timeline "
                      f"records page mail for {member}'s call")
            why = [e["detail"] for e in world.show(inc)["timeline"]
                   if e["kind"] == "page-mail" and e["page"] == page["id"]]
            tap.check(len(why) == 1 and why[0].startswith(
                "every phone provider failed" if outcomes[member] ==
                "failed" else "the call was not answered"),
                f"the timeline says why for {member}'s call", why)

        tap.check(not is_acked(world, inc), "events acknowledge nothing")
        rc, out = world.cli("status", "--json")
        vonage = [p for p in harness.json.loads(out)["providers"]
                  if p["name"] == "vonage"] if rc == 0 else []
        tap.check(len(vonage) == 1 and vonage[0]["failures"] == 1,
                  "only dave's failed call counts against Vonage, not a "
                  "busy or unanswered callee", vonage)
    finally:
        sink.stop()
        harness.stop_world(world, tap, "voice events")


def sms_in_parts(tap):
    """A long acknowledgement comes as three webhooks, the last part first,
    each sent three times, and is read once whole."""
    world = harness.World(vonage=True)
    try:
        vonage_first(world)
        # No call acknowledges before the SMS does.
        callees_press_two(world)
        inc = open_incident(world)
        alice = dict(world.team)["alice"]
        world.vonage_call("POST", "/_sim/config", {"duplicate_webhooks": 2})
        note = ("on it, the payment provider answers 502 since 09:12 and "
                "their status page is silent; I have called their support "
                "line and will write again in fifteen minutes. Tail words.")
        world.vonage_call("POST", "/_sim/inbound", {
            "msisdn": alice[1:], "text": f"ACK {inc} {note}", "parts": 3,
            "reverse": True})
        try:
            harness.wait_for(lambda: is_acked(world, inc), 10, "ack")
        except TimeoutError:
            pass
        incident = world.show(inc)
        tap.check((incident["acknowledged_by"],
                   incident["acknowledged_channel"]) == ("alice", "sms"),
                  "parts: the joined SMS acknowledges", incident)
        tap.check(incident["acknowledged_note"] == note, "parts: the note is "
                  "the whole text, in order", incident["acknowledged_note"])
        tap.check(world.log().count("vonage sms part kept") == 2,
                  "parts: the first two parts wait for the last")
        tap.check(world.log().count("incident: acknowledged") == 1 and
                  "sms ack not applied" not in world.log(),
                  "parts: the copies of each part are not read again")
        db = sqlite3.connect(os.path.join(world.dir, "critgate.db"))
        left = db.execute("SELECT count(*) FROM sms_parts").fetchone()[0]
        db.close()
        tap.check(left == 0, "parts: no copy is left waiting", left)

        # Vonage takes no reply in the webhook's response, so critgate
        # sends its reply to an ACK as an SMS of its own.
        def replies():
            got = [m["text"] for m in world.vonage_call(
                "GET", "/_sim/messages")["messages"]
                if m["to"] == alice[1:] and not m.get("client_ref")]
            return got or None
        got = None
        try:
            got = harness.wait_for(replies, 10, "the reply to alice")
        except TimeoutError:
            pass
        tap.check(got == [f"Acknowledged incident {inc}. Paging stopped "
                          "for everyone."],
                  "reply: the ACK is answered by SMS", got)
        world.vonage_call("POST", "/_sim/inbound", {
            "msisdn": alice[1:], "text": "ACK 999999"})
        try:
            got = harness.wait_for(lambda: (r := replies()) and
                                   len(r) == 2 and r, 10,
                                   "the second reply to alice")
        except TimeoutError:
            pass
        tap.check(got is not None and len(got) == 2 and
                  got[1].startswith("999999 is not an open incident"),
                  "reply: an ACK of no incident hears why", got)
        world.vonage_call("POST", "/_sim/inbound", {
            "msisdn": alice[1:], "text": "thanks"})
        world.vonage_call("POST", "/_sim/inbound", {
            "msisdn": alice[1:], "text": "ACK 999998"})
        try:
            harness.wait_for(lambda: (r := replies()) and len(r) == 3, 10,
                             "the third reply to alice")
        except TimeoutError:
            pass
        tap.check(len(replies() or []) == 3,
                  "reply: a text that is no ACK gets no answer",
                  replies())
        # An auto-reply that reads as an ACK must not loop with ours: five
        # replies in ten minutes at most, besides the confirmation of an
        # acknowledgement.
        for n in (1, 2, 3, 4):
            world.vonage_call("POST", "/_sim/inbound", {
                "msisdn": alice[1:], "text": f"ACK 99990{n}"})
        try:
            harness.wait_for(lambda: "sms reply withheld member=alice" in
                             world.log() and len(replies() or []) == 6, 10,
                             "a reply withheld")
        except TimeoutError:
            pass
        tap.check(len(replies() or []) == 6 and
                  "sms reply withheld member=alice" in world.log(),
                  "reply: five replies in ten minutes at most", replies())
        # The confirmation of an acknowledgement goes out all the same.
        world.send(harness.message("Login broken", "login-9@shop.example",
                                   "Lee <lee@shop.example>"),
                   sender="lee@shop.example")
        second = harness.wait_for(lambda: len(world.incidents()) == 2 and
                                  world.incidents()[1]["id"],
                                  what="second incident")
        harness.wait_for(lambda: sent_page(world, second, "alice", "sms",
                                           "vonage"), 20,
                         "alice paged for the second incident")
        world.vonage_call("POST", "/_sim/inbound", {
            "msisdn": alice[1:], "text": f"ACK {second}"})
        try:
            harness.wait_for(lambda: len(replies() or []) == 7, 10,
                             "the confirmation past the limit")
        except TimeoutError:
            pass
        tap.check((replies() or [""])[-1].startswith(
            f"Acknowledged incident {second}"),
            "reply: an acknowledgement is confirmed past the limit",
            replies())
    finally:
        harness.stop_world(world, tap, "sms in parts")


def main():
    tap = harness.Tap()
    for case in (keypress_acknowledges, keypress_rejected, dlr_fails_over,
                 dlr_mails_when_last, voice_events, sms_in_parts):
        try:
            case(tap)
        except Exception as exc:
            tap.check(False, f"{case.__name__}: ran to the end", repr(exc))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
