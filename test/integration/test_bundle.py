#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Bundling over time: with page_limits.bundle_seconds, the first page of
a quiet spell goes at once, and pages of incidents that open within the
window after it wait and go out together: one call and one SMS per member
naming both incidents.  A bundle carries at most 64 incidents, so that
its SMS stays within what Twilio accepts: 70 incidents due at once go
out in two."""

import re
import signal
import sys

import harness

MANY = 70

BUNDLE = 'page_limits = { bundle_seconds = 2; };'


def sms_to(world, phone):
    return [r for r in world.pages_at_sim()
            if r["path"].endswith("/Messages.json") and
            r["form"]["To"][0] == phone]


def calls_to(world, phone):
    return [r for r in world.pages_at_sim()
            if r["path"].endswith("/Calls.json") and
            r["form"]["To"][0] == phone]


def body(world, tap):
    world.start_daemon()
    alice = dict(world.team)["alice"]
    world.send(harness.message())
    first = harness.wait_for(world.incidents, what="incident 1")[0]["id"]
    harness.wait_for(lambda: len(sms_to(world, alice)) == 1,
                     what="the first SMS")
    tap.check(len(calls_to(world, alice)) <= 1,
              "the first page goes at once", len(calls_to(world, alice)))
    for n in (2, 3):
        world.send(harness.message(f"Region {n} down", f"r{n}@s{n}.example",
                                   f"S{n} <s{n}@s{n}.example>"),
                   sender=f"s{n}@s{n}.example")
    ids = harness.wait_for(lambda: len(world.incidents()) == 3 and
                           [i["id"] for i in world.incidents()],
                           what="incidents 2 and 3")
    harness.wait_for(lambda: len(sms_to(world, alice)) == 2 and
                     len(calls_to(world, alice)) == 2, 20,
                     "the bundled SMS and call")
    text = sms_to(world, alice)[1]["form"]["Body"][0]
    tap.check(str(ids[1]) in text and str(ids[2]) in text and
              str(first) not in text.split(":")[-1],
              "one SMS names both later incidents", text)
    def alice_sms():
        return [p for i in ids[1:] for p in world.show(i)["pages"]
                if p["member"] == "alice" and p["channel"] == "sms" and
                p["state"] == "sent"]

    # The request reached the simulator; its answer is recorded next.
    pages = harness.wait_for(lambda: len(alice_sms()) == 2 and alice_sms(),
                             what="both SMS pages recorded as sent")
    tap.check(len({p["sid"] for p in pages}) == 1,
              "both incidents' SMS pages share one request", pages)
    tap.check(len(sms_to(world, alice)) == 2 and
              len(calls_to(world, alice)) == 2,
              "two SMS and two calls in all, not three",
              (len(sms_to(world, alice)), len(calls_to(world, alice))))


def many_due_at_once(world, tap):
    """Stores MANY reports while the daemon is down, so that every
    incident's first round is due at the start."""
    alice = dict(world.team)["alice"]
    before = len(sms_to(world, alice))
    world.daemon.send_signal(signal.SIGTERM)
    world.daemon.wait(timeout=20)
    for n in range(MANY):
        text = harness.message(f"Shop {n} checkout down",
                               f"m{n}@shop{n}.example",
                               f"Shop {n} <ops@shop{n}.example>")
        rc, err = world.deliver(text, f"ops@shop{n}.example")
        if rc != 0:
            tap.check(False, f"many: report {n} stored", err)
            return
    world.start_daemon()

    def named():
        return [set(re.findall(r"#(\d+)", r["form"]["Body"][0]))
                for r in sms_to(world, alice)[before:]]
    try:
        harness.wait_for(lambda: sum(len(n) for n in named()) >= MANY, 30,
                         "an SMS naming each new incident")
    except TimeoutError:
        pass
    sets = named()
    tap.check(sum(len(n) for n in sets) == MANY and
              len(set().union(*sets)) == MANY,
              "many: every incident is named once", [len(n) for n in sets])
    tap.check(all(len(n) <= 64 for n in sets),
              "many: no SMS names more than 64 incidents",
              [len(n) for n in sets])


def body_and_many(world, tap):
    body(world, tap)
    many_due_at_once(world, tap)


if __name__ == "__main__":
    sys.exit(harness.run(body_and_many, extra_config=BUNDLE))
