#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""No message gets its 250, and no page is requested, before it is on
disk.

The writer thread commits each message, and a flusher thread then flushes
the store's log, outside the write lock.  The pass thread records what the message is
meanwhile, without a flush, and the main loop marks the pages and flushes
the log itself before it requests them.  The daemon runs under strace:
every 250 to the end of data must follow a flush that came after the
writer's last write to the log, and every provider request one that came
after the main thread's and the pass thread's.  The same trace shows that
SQLite keeps its statement journals in memory rather than in temporary
files.
"""

import os
import re
import signal
import subprocess
import sys

import harness

SYSCALLS = "openat,close,pwrite64,fdatasync,fsync,sendto"
LINE = re.compile(r"^(\d+) +(?:<\.\.\. )?(\w+)(?:\(| resumed>)(.*)$")


def start_traced(world, trace_path):
    """Starts the daemon under strace; returns the strace process."""
    env = dict(os.environ)
    # LeakSanitizer stops the threads with ptrace at exit, which fails
    # under strace; the other suites check for leaks.
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    world.daemon_log_path = os.path.join(world.dir, "critgate.log")
    world.daemon_log = open(world.daemon_log_path, "a")
    world.daemon = subprocess.Popen(
        ["strace", "-f", "--seccomp-bpf", "-qq", "-s", "32", "-e",
         "trace=" + SYSCALLS, "-o", trace_path, harness.CRITGATE, "serve",
         "--config", world.config, "--verbose"],
        stdout=world.daemon_log, stderr=subprocess.STDOUT, env=env)
    harness.wait_for(world.daemon_ready, 20, "traced daemon listening")


def traced_pid(strace_pid):
    with open(f"/proc/{strace_pid}/task/{strace_pid}/children") as f:
        return int(f.read().split()[0])


def thread_ids(pid):
    """Returns the daemon's thread ids by thread name."""
    tids = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            tids[f.read().strip()] = tid
    return tids


def read_trace(path):
    """Returns the completed calls in order: (tid, name, args, result)."""
    calls, pending = [], {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if m is None:
                continue
            tid, name, rest = m.groups()
            if rest.endswith("<unfinished ...>"):
                pending[(tid, name)] = rest
                continue
            if (tid, name) in pending:
                rest = pending.pop((tid, name)) + rest
            args, _, result = rest.rpartition(" = ")
            calls.append((tid, name, args, result.split(" ")[0]))
    return calls


def check_order(calls, tids, tap):
    wal_fds, opened = set(), 0
    main_tid = calls[0][0] if calls else None
    writer_tid = tids.get("critgate-writer")
    pass_tid = tids.get("critgate-pass")
    tap.check(writer_tid is not None and pass_tid is not None,
              "the writer and the pass threads are found", tids)
    # Threads whose writes to the log no flush has followed yet.
    unflushed = set()
    posts = early = accepted = early_accepted = 0
    for tid, name, args, result in calls:
        fd = re.match(r"\s*(\d*)", args).group(1)
        if name == "openat" and '-wal"' in args and result.isdigit():
            wal_fds.add(result)
            opened += 1
        elif name == "close" and fd in wal_fds:
            wal_fds.discard(fd)
        elif name == "pwrite64" and fd in wal_fds:
            unflushed.add(tid)
        elif name in ("fdatasync", "fsync") and fd in wal_fds and \
                result == "0":
            unflushed.clear()
        elif name == "sendto" and '"POST /2010-04-01/Accounts/' in args:
            posts += 1
            if unflushed & {main_tid, pass_tid}:
                early += 1
        elif name == "sendto" and "message accepted" in args:
            # The writer thread commits the message, the flusher
            # flushes after.
            accepted += 1
            if writer_tid in unflushed:
                early_accepted += 1
    tap.check(opened >= 2, "the trace shows the main thread and the "
              "writer opening the store's log", f"opened={opened}")
    tap.check(posts >= 12, "the trace holds every provider request",
              f"posts={posts}")
    tap.check(early == 0, "every request follows a flush of the main "
              "and the pass threads' writes",
              f"{early} of {posts} came first")
    tap.check(accepted == 3, "the trace holds every 250 to the end of "
              "data", f"accepted={accepted}")
    tap.check(early_accepted == 0, "every 250 follows a flush of the "
              "writer thread's commit",
              f"{early_accepted} of {accepted} came first")
    # SQLite names its temporary files etilqs_*.  A statement journal
    # kept in such a file costs two writes for every page a statement
    # changes.
    temp_files = [args for _, name, args, _ in calls
                  if name == "openat" and "etilqs_" in args]
    tap.check(not temp_files, "no temporary file holds a statement "
              "journal", temp_files[:3])


def body(world, tap):
    trace_path = os.path.join(world.dir, "strace.out")
    # Without status callbacks, and with one incident at a time, the main
    # thread's only writes to the log are the marks of the pages and the
    # records of the provider's responses.
    world.sim_call("POST", "/_sim/config", {"event_delay_ms": 60000})
    start_traced(world, trace_path)
    tids = thread_ids(traced_pid(world.daemon.pid))
    for n in range(3):
        world.send(harness.message(
            subject=f"Checkout down, report {n}",
            message_id=f"order-{n}@customer.example.net",
            sender=f"Customer {n} <c{n}@customer.example.net>"))
        # Two members, a call and an SMS each.
        harness.wait_for(
            lambda: world.log().count("notify: page sent") >= 4 * (n + 1),
            30, f"the requests of incident {n + 1} answered")
    # strace blocks SIGTERM while it runs a command, so the daemon gets
    # it directly, and strace then ends with the daemon's status.
    os.kill(traced_pid(world.daemon.pid), signal.SIGTERM)
    world.daemon.wait(timeout=30)
    check_order(read_trace(trace_path), tids, tap)


if __name__ == "__main__":
    sys.exit(harness.run(body))
