#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Store files removed or replaced under the running daemon.  A restart
would not find what the daemon writes into such a file, and another
process (a command, "critgate deliver") would start a log of its own
beside the one the daemon still writes, which corrupts the store.  So
within a tick, whether or not mail comes, the daemon puts the files it
has open back at the path (or, for a database file replaced, sets the
log there aside) and stops at once.  Mail accepted before is kept, the store
stays sound, and the restarted daemon carries on."""

import json
import os
import shutil
import smtplib
import sqlite3
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import harness


# Holds a read transaction on the store until killed, as a backup tool
# or an sqlite3 shell would.
READER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN")
db.execute("SELECT count(*) FROM messages").fetchone()
print("reading", flush=True)
time.sleep(120)
"""


def subjects(world):
    rc, out = world.cli("messages", "--json", "--limit", "1000")
    return [m["subject"] for m in json.loads(out)] if rc == 0 else []


def stops_by_itself(world, tap, case, mark):
    """Checks that the daemon stops, and what it logs after mark (the
    length of the log before the removal)."""
    try:
        harness.wait_for(lambda: world.daemon.poll() is not None, 10,
                         "the daemon to stop")
    except TimeoutError:
        pass
    tap.check(world.daemon.poll() not in (None, 0),
              f"{case}: the daemon stops with a failure status",
              world.daemon.poll())
    log = world.log()[mark:]
    tap.check("stopping at once" in log and "restart critgate" in log,
              f"{case}: the log says what happened and what to do",
              log[-1500:])


def health(world):
    try:
        with urllib.request.urlopen(
                f"http://127.0.0.1:{world.http_port}/healthz",
                timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


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
    mark = len(world.log())
    os.remove(store + "-wal")
    stops_by_itself(world, tap, "log removed", mark)
    world.start_daemon()
    found = subjects(world)
    tap.check(all(s in found for s in sent),
              "log removed: every message answered 250 is kept",
              sorted(set(sent) - set(found)))

    # A command beside the daemon, right after the removal, must not start
    # a log of its own.
    mark = len(world.log())
    os.remove(store + "-wal")
    rc, err = world.deliver(harness.message(subject="Login broken"),
                            "dana@customer.example.net")
    stops_by_itself(world, tap, "log removed, deliver beside", mark)
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

    # An older copy of the log put back at its path would undo what came
    # after it, if a restart applied it.
    copy = store + "-wal.copy"
    shutil.copyfile(store + "-wal", copy)
    later = [f"Payments failing {n}" for n in range(10)]
    for subject in later:
        world.send(harness.message(subject=subject))
    mark = len(world.log())
    os.rename(copy, store + "-wal")
    stops_by_itself(world, tap, "log replaced by an older copy", mark)
    world.start_daemon()
    found = subjects(world)
    tap.check(all(s in found for s in sent + later) and
              integrity(store) == "ok",
              "log replaced by an older copy: nothing is undone",
              sorted(set(sent + later) - set(found)))

    # A reader of an older snapshot (a backup tool, an sqlite3 shell)
    # does not hold the daemon back: it puts its own log back in place.
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, store], stdout=subprocess.PIPE,
        text=True)
    reader.stdout.readline()
    world.send(harness.message(subject="Checkout slow"))
    mark = len(world.log())
    os.remove(store + "-wal")
    stops_by_itself(world, tap, "reader", mark)
    reader.kill()
    reader.wait()
    world.start_daemon()
    found = subjects(world)
    tap.check("Checkout slow" in found and
              all(s in found for s in sent + later),
              "reader: every message answered 250 is kept", found[-5:])

    # While the log cannot be put back, the daemon runs on and refuses
    # mail.  Here a folder is in the way of its copy, as a full disk would
    # be.  A stop then ends it with a failure status, because a clean
    # close would lose the log.
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, store], stdout=subprocess.PIPE,
        text=True)
    reader.stdout.readline()
    blocker = store + "-wal.copy"
    os.mkdir(blocker)
    world.send(harness.message(subject="Login slow"))
    mark = len(world.log())
    os.remove(store + "-wal")
    code = 250
    try:
        world.send(harness.message(subject="Login slower"))
    except smtplib.SMTPDataError as exc:
        code = exc.smtp_code
    tap.check(code == 451, "log not put back: mail gets 451", code)
    harness.wait_for(lambda: "copying the file" in world.log()[mark:],
                     10, "the failed copy logged")
    tap.check(world.daemon.poll() is None and health(world) == 503,
              "log not put back: the daemon runs on, and /healthz says "
              "503", (world.daemon.poll(), health(world)))
    os.rmdir(blocker)
    world.kill_daemon(signal.SIGTERM)
    tap.check(world.daemon.returncode != 0,
              "log not put back: a stop ends with a failure status",
              world.daemon.returncode)
    reader.kill()
    reader.wait()
    world.start_daemon()
    tap.check("Login slow" in subjects(world),
              "log not put back: the message answered 250 is kept",
              subjects(world)[-3:])

    mark = len(world.log())
    os.remove(store + "-shm")
    stops_by_itself(world, tap, "log index removed", mark)
    tap.check(integrity(store) == "ok",
              "log index removed: the store stays sound", integrity(store))

    # An older copy of the database put in its place: the daemon's log
    # belongs to the file it had open, not to the copy.
    world.start_daemon()
    backup = sqlite3.connect(store + ".copy")
    with sqlite3.connect(store) as live:
        live.backup(backup)
    backup.close()
    mark = len(world.log())
    os.rename(store + ".copy", store)
    stops_by_itself(world, tap, "database replaced by an older copy", mark)
    tap.check(integrity(store) == "ok",
              "database replaced by an older copy: the store stays sound",
              integrity(store))
    # Removed with its log, nothing in their place: both go back.
    world.start_daemon()
    kept = subjects(world)
    world.send(harness.message(subject="Refunds failing"))
    mark = len(world.log())
    os.rename(store, store + ".moved")
    os.remove(store + "-wal")
    stops_by_itself(world, tap, "database and log moved", mark)
    tap.check("database file" in world.log()[mark:],
              "database and log moved: the log names the database file",
              world.log()[-1500:])
    tap.check(integrity(store) == "ok",
              "database and log moved: the store stays sound",
              integrity(store))
    world.start_daemon()
    found = subjects(world)
    tap.check("Refunds failing" in found and all(s in found for s in kept),
              "database and log moved: every message answered 250 is "
              "kept", found[-5:])


def log_is_open(pid, log):
    """Tells whether process pid has the file log open."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == log:
                return True
        except OSError:
            pass
    return False


def command_after_move(tap):
    """Checks that a command whose log is moved while it waits for the
    write lock exits 1 and reports that its record may be lost."""
    world = harness.World()
    try:
        store = os.path.join(world.store_dir, "critgate.db")
        world.start_daemon()
        world.send(harness.message())
        inc = harness.wait_for(world.incidents, what="incident opened")[0]
        world.kill_daemon(signal.SIGTERM)
        holder = sqlite3.connect(store, isolation_level=None, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        ack = subprocess.Popen(
            [harness.CRITGATE, "ack", str(inc["id"]), "--by", "alice",
             "--config", world.config], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        harness.wait_for(lambda: log_is_open(ack.pid, store + "-wal"), 10,
                         "the command to open the log")
        os.rename(store + "-wal", store + "-wal.moved")
        holder.execute("ROLLBACK")
        out, err = ack.communicate(timeout=30)
        holder.close()
        tap.check(ack.returncode == 1,
                  "command after a move: ack exits 1", ack.returncode)
        tap.check("removed or replaced while this command wrote" in err and
                  "run the command again only if" in err,
                  "command after a move: ack says its record may be lost",
                  out + err)
    finally:
        harness.stop_world(world, tap, "command after a move")


def folder_missing(tap):
    """Checks that a missing store folder stops the start with an error
    that names the folder to create."""
    world = harness.World()
    missing = os.path.join(world.dir, "no-such-folder")
    world.store_dir = missing
    world.write_config()
    try:
        proc = subprocess.run([harness.CRITGATE, "serve", "--config",
                               world.config], capture_output=True,
                              text=True, timeout=30)
        tap.check(proc.returncode != 0, "folder missing: serve fails",
                  proc.returncode)
        tap.check(f"the store's folder {missing} does not exist; create it"
                  in proc.stderr, "folder missing: the error names the "
                  "folder to create", proc.stderr)
    finally:
        harness.stop_world(world, tap, "folder missing")


def body_all(world, tap):
    body(world, tap)
    command_after_move(tap)
    folder_missing(tap)


if __name__ == "__main__":
    sys.exit(harness.run(body_all))
