#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Store files removed or replaced under the running daemon.  A restart
would not find what the daemon writes into such a file, and another
process (a command, "critgate deliver") would start a log of its own
beside the one the daemon still writes, which corrupts the store.  So the
daemon copies what its log contains into the database file and stops at
once, within a tick, whether or not mail comes.  Mail answered 250 before
is kept, the store stays sound, and the restarted daemon carries on."""

import json
import os
import sqlite3
import sys

import harness


def subjects(world):
    rc, out = world.cli("messages", "--json", "--limit", "1000")
    return [m["subject"] for m in json.loads(out)] if rc == 0 else []


def stops_by_itself(world, tap, case):
    try:
        harness.wait_for(lambda: world.daemon.poll() is not None, 10,
                         "the daemon to stop")
    except TimeoutError:
        pass
    tap.check(world.daemon.poll() not in (None, 0),
              f"{case}: the daemon stops with a failure status",
              world.daemon.poll())
    tap.check("stopping at once" in world.log() and
              "restart critgate" in world.log(),
              f"{case}: the log says what happened and what to do",
              world.log()[-1500:])


def integrity(path):
    db = sqlite3.connect(path, timeout=10)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def body(world, tap):
    store = os.path.join(world.store_dir, "critgate.db")
    world.start_daemon()
    sent = [f"Checkout down {n}" for n in range(20)]
    for subject in sent:
        world.send(harness.message(subject=subject))

    # No mail follows the removal: the tick notices it.
    os.remove(store + "-wal")
    stops_by_itself(world, tap, "log removed")
    world.start_daemon()
    found = subjects(world)
    tap.check(all(s in found for s in sent),
              "log removed: every message answered 250 is kept",
              sorted(set(sent) - set(found)))

    # A command beside the daemon, right after the removal, must not start
    # a log of its own.
    os.remove(store + "-wal")
    rc, err = world.deliver(harness.message(subject="Login broken"),
                            "dana@customer.example.net")
    stops_by_itself(world, tap, "log removed, deliver beside")
    tap.check(integrity(store) == "ok",
              "log removed, deliver beside: the store stays sound",
              integrity(store))
    world.start_daemon()
    found = subjects(world)
    tap.check(rc == 75 or "Login broken" in found,
              "log removed, deliver beside: deliver keeps its message or "
              "exits 75", f"{rc} {err}")
    world.send(harness.message(subject="SMS campaigns failing"))
    tap.check("SMS campaigns failing" in subjects(world),
              "the restarted daemon stores mail", subjects(world)[-3:])

    os.remove(store + "-shm")
    stops_by_itself(world, tap, "log index removed")
    tap.check(integrity(store) == "ok",
              "log index removed: the store stays sound", integrity(store))

    world.start_daemon()
    os.rename(store, store + ".moved")
    stops_by_itself(world, tap, "database moved")
    tap.check("database file" in world.log(),
              "database moved: the log names the database file",
              world.log()[-1500:])


if __name__ == "__main__":
    sys.exit(harness.run(body))
