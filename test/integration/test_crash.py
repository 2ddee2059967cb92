#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Crash safety under load: SMTP sessions send messages in parallel while
the daemon is killed with SIGKILL after a random number of 250 replies and
started again, several times.  Every message that got a 250 must be in the
store, each distinct message must open exactly one incident, and every
incident must page its team.

CRITGATE_CRASH_CYCLES sets the number of kills (default 5; the README's
long run uses more).
"""

import os
import random
import smtplib
import sys
import threading

import harness

SENDERS = 4
# Each sender sends at least this many messages, and goes on until the
# last kill.
PER_SENDER = 15


class Load:
    """Senders that retry each message until it gets a 250."""

    def __init__(self, world):
        self.world = world
        self.lock = threading.Lock()
        self.acked = []
        self.attempts = {}
        self.errors = 0
        self.started = 0
        self.is_done = False  # set after the last kill
        self.threads = [threading.Thread(target=self.run, args=(n,))
                        for n in range(SENDERS)]

    def send_one(self, n, i):
        # One customer per message, so that no message joins another's
        # incident by its sender or subject.
        sender = f"crash{n}x{i}@shop{n}x{i}.example"
        subject = f"Crash test message {n}x{i}"
        text = harness.message(subject, f"crash-{n}x{i}@shop.example",
                               f"Shop <{sender}>")
        for _ in range(200):
            with self.lock:
                self.attempts[subject] = self.attempts.get(subject, 0) + 1
            try:
                with smtplib.SMTP("127.0.0.1", self.world.smtp_port,
                                  timeout=10) as s:
                    s.sendmail(sender, ["critical@support.example.com"],
                               text.encode())
                with self.lock:
                    self.acked.append(subject)
                return
            except (OSError, smtplib.SMTPException):
                with self.lock:
                    self.errors += 1
                # The daemon is down or restarting: wait until it answers.
                harness.wait_for(self.world.daemon_ready_quiet, 30,
                                 "daemon back")
        raise RuntimeError(f"{subject} never got a 250")

    def run(self, n):
        i = 0
        while i < PER_SENDER or not self.is_done:
            with self.lock:
                self.started += 1
            self.send_one(n, i)
            i += 1

    def acked_count(self):
        with self.lock:
            return len(self.acked)


def body(world, tap):
    rng = random.Random(int(os.environ.get("CRITGATE_CRASH_SEED", "7")))
    cycles = int(os.environ.get("CRITGATE_CRASH_CYCLES", "5"))
    world.start_daemon()
    load = Load(world)
    for t in load.threads:
        t.start()
    kills = 0
    try:
        for _ in range(cycles):
            target = load.acked_count() + rng.randint(2, 8)
            harness.wait_for(lambda: load.acked_count() >= target, 60,
                             "replies before the next kill")
            world.kill_daemon()
            kills += 1
            world.start_daemon()
    finally:
        load.is_done = True
    for t in load.threads:
        t.join(timeout=120)
    tap.check(kills == cycles, "daemon killed under load as often as "
              "asked", f"{kills} of {cycles}")
    tap.check(all(not t.is_alive() for t in load.threads),
              "every sender finished")
    total = load.started
    tap.check(len(load.acked) == total, "every message got a 250",
              f"{len(load.acked)} of {total}")

    harness.wait_for(lambda: all(m["class"] for m in harness.json.loads(
        world.cli("messages", "--json", "--limit", "100000")[1])), 30,
        "every stored message processed")
    rc, out = world.cli("messages", "--json", "--limit", "100000")
    stored = harness.json.loads(out)
    by_subject = {}
    for m in stored:
        by_subject.setdefault(m["subject"], []).append(m)
    missing = [s for s in load.acked if s not in by_subject]
    tap.check(not missing, "every acknowledged message is in the store",
              f"missing {missing[:5]}")
    extra = [m for m in stored if m["class"] != "new-incident"]
    tap.check(all(m["class"] == "duplicate" for m in extra),
              "copies sent again after a kill are duplicates",
              [(m["id"], m["class"], m["reason"]) for m in extra][:5])
    over = [s for s, copies in by_subject.items()
            if len(copies) > load.attempts.get(s, 0)]
    tap.check(not over, "never more copies than attempts", over[:5])
    incidents = world.incidents_all()
    tap.check(len(incidents) == total, "one incident per message",
              f"{len(incidents)} incidents for {total} messages")

    def all_paged():
        for inc in world.incidents_all():
            pages = world.show(inc["id"])["pages"]
            if len([p for p in pages if p["state"] in
                    ("sent", "unknown")]) < len(world.team) * 2:
                return False
        return True
    # An unknown page was in flight at a kill.  Its request may never
    # have left, and then only the next round pages that member.
    harness.wait_for(all_paged, 60, "every incident's pages sent or "
                     "in flight")
    tap.check(True, "every incident's pages were sent or in flight at a "
              "kill")
    tap.check(load.errors > 0, "senders saw the kills", load.errors)


# Each incident must page its team, however many arrive between kills: page
# limits (tested on their own) would cap most of them.
NO_LIMITS = 'page_limits = { voice = "1000/1s"; sms = "1000/1s"; };'

if __name__ == "__main__":
    sys.exit(harness.run(body, extra_config=NO_LIMITS))
