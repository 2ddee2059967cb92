#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A stop while the disk is slow: every flush of the store's log takes
two seconds (strace delays it), and SIGTERM comes while the flusher is
still flushing a message that the writer has committed.  The stop's
deadline for sessions (one second) passes first, and the loop is gone
when the flush ends.  The daemon still exits 0, without touching the
sessions it has freed, and the message is stored; its sender got no
reply and sends again."""

import os
import signal
import sqlite3
import subprocess
import sys

import harness

FLUSH_DELAY_US = 2000000


def start_slow_disk(world):
    """Starts the daemon, then attaches strace, which delays every flush
    from then on; returns the strace process."""
    env = dict(os.environ)
    # LeakSanitizer stops the threads with ptrace at exit, which fails
    # under strace; the other suites check for leaks.
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    world.daemon_log_path = os.path.join(world.dir, "critgate.log")
    world.daemon_log = open(world.daemon_log_path, "a")
    world.daemon = subprocess.Popen(
        [harness.CRITGATE, "serve", "--config", world.config, "--verbose"],
        stdout=world.daemon_log, stderr=subprocess.STDOUT, env=env)
    harness.wait_for(world.daemon_ready, 20, "daemon listening")
    tracer = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", "/dev/null", "-p",
         str(world.daemon.pid), "-e", "trace=fdatasync,fsync", "-e",
         f"inject=fdatasync,fsync:delay_exit={FLUSH_DELAY_US}"])
    harness.wait_for(lambda: all_traced(world.daemon.pid), 20,
                     "strace attached to every thread")
    return tracer


def all_traced(pid):
    """Tells whether every thread of pid has a tracer."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            if "TracerPid:\t0\n" in f.read():
                return False
    return True


def stored_count(world):
    """Counts the committed messages, flushed or not."""
    db = sqlite3.connect(f"file:{world.store_dir}/critgate.db?mode=ro",
                         uri=True, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM messages").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def body(world, tap):
    tracer = start_slow_disk(world)
    conn = harness.smtp_open_data(world.smtp_port)
    conn.sendall(harness.message(message_id="slow-disk@customer.example.net")
                 .encode() + b".\r\n")
    # Committed, so the flusher has begun the flush that takes 2 s.
    harness.wait_for(lambda: stored_count(world) == 1, 20,
                     "the message committed")

    world.daemon.send_signal(signal.SIGTERM)
    world.daemon.wait(timeout=60)
    tracer.wait(timeout=20)
    status = world.daemon.returncode
    world.daemon = None
    tap.check(status == 0, "daemon exits 0 after the slow flush",
              f"exit status {status}")
    tap.check("writer: stopped" in world.log(),
              "the writer's threads end", world.log()[-2000:])

    reply = harness.smtp_reply(conn)
    tap.check(not reply.startswith("250"),
              "the sender gets no 250 from the stopped loop", reply)
    conn.close()
    rc, out = world.cli("messages", "--json")
    stored = harness.json.loads(out) if rc == 0 else []
    tap.check(len(stored) == 1, "the message is stored", stored)


if __name__ == "__main__":
    sys.exit(harness.run(body, extra_config="shutdown_timeout_s = 1;"))
