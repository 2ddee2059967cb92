#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A command from a newer critgate leaves the schema of a store that an
older daemon is serving as it is: the daemon would not keep the newer
schema up to date, and could not start again on it.  The command
reports why, and "critgate deliver" asks the MTA to try again later.
Once no daemon serves the store, the command upgrades it.  A second daemon on
the same store refuses to start."""

import os
import sqlite3
import subprocess
import sys

import harness


# Undoes the newest schema version, making the store of the build before.
# A new schema version adds the statements that undo it here.
UNDO_NEWEST = {
    22: "DROP TABLE past_requests;"
        "ALTER TABLE pages DROP COLUMN found_ms;"
        "CREATE INDEX pages_resent ON pages(member, channel, resent_ms) "
        "  WHERE resent_ms IS NOT NULL;"
        "PRAGMA user_version = 21;",
}


def user_version(path, value=None):
    db = sqlite3.connect(path, timeout=10)
    try:
        if value is not None:
            db.execute(f"PRAGMA user_version = {int(value)}")
            db.commit()
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def body(world, tap):
    store = os.path.join(world.store_dir, "critgate.db")
    world.start_daemon()
    world.send(harness.message())
    harness.wait_for(world.incidents, 10, "incident")
    current = user_version(store)

    # A second daemon on the same store would page the team twice: it
    # refuses to start, and leaves the store and the first daemon alone.
    second = subprocess.run([harness.CRITGATE, "serve", "--config",
                             world.config], capture_output=True, text=True,
                            timeout=30)
    tap.check(second.returncode != 0 and
              f"critgate pid={world.daemon.pid} serves the store" in
              second.stderr and "as its lock" in second.stderr,
              "a second daemon refuses to start, as the lock shows",
              f"{second.returncode} {second.stderr}")
    rc, out = world.cli("reload")
    tap.check(rc == 0 and f"pid {world.daemon.pid}" in out,
              "reload still finds the first daemon", f"{rc} {out}")
    rc, out = world.cli("status", "--json")
    tap.check(rc == 0 and harness.json.loads(out)["daemon_pid"] ==
              world.daemon.pid, "status names the daemon serving the store",
              out)
    # Its lock file removed, the daemon takes the lock again.
    os.remove(store + ".lock")
    harness.wait_for(lambda: os.path.exists(store + ".lock"), 10,
                     "the lock file again")
    second = subprocess.run([harness.CRITGATE, "serve", "--config",
                             world.config], capture_output=True, text=True,
                            timeout=30)
    tap.check(second.returncode != 0 and "as its lock" in second.stderr,
              "after the lock file was removed, a second daemon still "
              "refuses", f"{second.returncode} {second.stderr}")

    # The store marks the running daemon as an older build.
    user_version(store, current - 1)
    rc, out = world.cli("incidents", "--json")
    pid = str(world.daemon.pid)
    tap.check(rc != 0 and f"running critgate (pid {pid})" in out and
              "restart the daemon" in out,
              "a command refuses to upgrade a store being served",
              f"{rc} {out}")
    rc, err = world.deliver(harness.message(subject="Second outage"),
                            "dana@customer.example.net")
    tap.check(rc == 75, "deliver exits 75 (EX_TEMPFAIL) so the MTA retries",
              f"{rc} {err}")
    tap.check(user_version(store) == current - 1,
              "the schema was left as it was", user_version(store))
    rc, out = world.cli("reload")
    tap.check(rc == 0, "reload still reaches the running daemon",
              f"{rc} {out}")

    # No daemon serves the store any more: the command upgrades it.
    harness.stop_world(world, tap, "served store")
    user_version(store, current)
    rc, out = world.cli("status")
    tap.check(rc == 0 and "No critgate serves this store" in out,
              "with the daemon stopped, status says so", out)
    tap.check(current in UNDO_NEWEST, "the test knows how to undo the "
              "newest schema version", current)
    if current not in UNDO_NEWEST:
        return
    db = sqlite3.connect(store, timeout=10)
    db.executescript(UNDO_NEWEST[current])
    db.close()
    rc, out = world.cli("incidents", "--json")
    tap.check(rc == 0 and len(harness.json.loads(out)) == 1,
              "with the daemon stopped the command reads the store",
              f"{rc} {out}")
    tap.check(user_version(store) == current, "and upgrades it",
              user_version(store))
    rc, err = world.deliver(harness.message(subject="Second outage"),
                            "dana@customer.example.net")
    tap.check(rc == 0, "deliver stores once the daemon is stopped",
              f"{rc} {err}")

if __name__ == "__main__":
    sys.exit(harness.run(body))
