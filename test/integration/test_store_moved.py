#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Store files removed under the running daemon.  Without its log file, a
restart would find none of the commits since the last checkpoint: the
daemon copies the log into the database file at each flush instead, so
mail accepted before and after the removal survives a kill -9.
Without its database file nothing it writes can last, so it answers 451
and the sender keeps the message."""

import json
import os
import smtplib
import sys

import harness


def subjects(world):
    rc, out = world.cli("messages", "--json", "--limit", "100")
    return {m["subject"] for m in json.loads(out)} if rc == 0 else set()


def body(world, tap):
    store = os.path.join(world.store_dir, "critgate.db")
    world.start_daemon()
    world.send(harness.message(subject="Checkout down before"))
    harness.wait_for(lambda: "Checkout down before" in subjects(world), 10,
                     "first message read")

    os.remove(store + "-wal")
    world.send(harness.message(subject="Login broken after"))
    harness.wait_for(lambda: "was removed or replaced" in world.log(), 10,
                     "the removed log file logged")
    tap.check(world.log().count("log file") >= 1 and
              "restart critgate" in world.log(),
              "the log says what happened and what to do",
              [l for l in world.log().splitlines() if "log file" in l])
    world.kill_daemon()
    world.start_daemon()
    found = subjects(world)
    tap.check({"Checkout down before", "Login broken after"} <= found,
              "mail answered 250 around the removal survives kill -9",
              found)

    os.rename(store, store + ".moved")
    code = 250
    try:
        world.send(harness.message(subject="SMS campaigns failing"))
    except smtplib.SMTPDataError as e:
        code = e.smtp_code
    tap.check(code == 451, "without its database file the daemon "
              "answers 451", code)
    tap.check("database file" in world.log() and "was removed" in
              world.log(), "the log names the database file",
              world.log()[-2000:])


if __name__ == "__main__":
    sys.exit(harness.run(body))
