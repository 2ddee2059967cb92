#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Benchmark critgate against the peers a user would run instead.

Every scenario runs critgate and its peers in the same run on 127.0.0.1
and writes a Markdown report with each figure and the ratio between them.
run.sh installs the tools, builds critgate and the blocks helper, then
calls this script. Waits poll a condition with a bound; figures come from
timestamps and /proc counters, never from the length of a sleep.
"""

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SIM = os.path.join(ROOT, "test", "stub", "twilio_sim.py")
ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "bench_auth_token_0123456789abcdef"
OUR_NUMBER = "+15550100000"
RCPT = "critical@support.example.com"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CLI_LIMIT_S = 60

# Sizes per mode: (quick, full).
SIZES = {
    # 1,500 copies of 1 KB took critgate 0.15 s at 20 sessions, and its
    # rate moved by a fifth from run to run.
    "intake_count_1k": (40, 6000),
    "intake_count_64k": (20, 1000),
    "intake_sessions": ((1, 20), (1, 8, 20)),
    "flush_count": (40, 400),
    # With 100 probes the p99 was the slowest one, and one stall of the
    # machine decided it; with 300 it is the third slowest.
    "ttfp_probes": (5, 300),
    "storm_alerts": (40, 10000),
    "storm_customers": (10, 1000),
    "memory_checkpoints": ((200, 600), (10000, 40000)),
    "store_sizes": ((1000, 5000), (10000, 1000000)),
    "parse_iterations": ((200, 50, 5), (5000, 500, 30)),
    "block_count": (50, 500),
    "slow_wait_s": (5.0, 20.0),
}


def size(name, quick):
    return SIZES[name][0 if quick else 1]


PORTS_GIVEN = set()


def free_port():
    """Returns a free port, never one returned before: one handed out may
    not be bound yet, and the kernel could give it again."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in PORTS_GIVEN:
            PORTS_GIVEN.add(port)
            return port


def wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for "
                               f"{what}")
        time.sleep(0.02)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ------------------------------------------------------------ /proc figures


def proc_children(pid):
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def tree_cpu_s(pid):
    """CPU seconds of pid, its waited-for children and live descendants."""
    total = 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in fields[11:15]) / CLK_TCK
    except OSError:
        return 0.0
    for kid in proc_children(pid):
        total += tree_cpu_s(kid)
    return total


def proc_status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# ------------------------------------------------------------ messages


def write_message_file(path, body_bytes, message_id):
    """Writes an LF message for smtp-source -F, which sends CRLF lines."""
    line = "Checkout fails with 502 for EU customers; order ids follow. " \
        "0123456789\n"
    body = line * max(1, body_bytes // len(line))
    with open(path, "w") as f:
        f.write("From: Dana Customer <dana@customer.example.net>\n"
                f"To: {RCPT}\nSubject: Checkout down for EU customers\n"
                f"Message-ID: <{message_id}>\n"
                "Date: Thu, 15 Jan 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
                "Content-Type: text/plain; charset=utf-8\n\n" + body)
    return path


def crlf_message(subject, message_id, sender="dana@customer.example.net",
                 body="Payments fail with error 502 in all our shops."):
    return (f"From: <{sender}>\r\nTo: {RCPT}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{message_id}>\r\n"
            "Date: Thu, 15 Jan 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n")


class SmtpClient:
    """SMTP client that timestamps the final dot of each message."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        # Without it Nagle delays the final dot until the previous segment
        # is acknowledged, which adds a delayed ACK (40 ms) to the figure.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.reply()
        self.command(b"EHLO bench.example\r\n")

    def reply(self):
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            if line[3:4] != b"-":
                return int(line[:3])

    def command(self, data):
        self.sock.sendall(data)
        return self.reply()

    def send(self, text, sender="dana@customer.example.net"):
        """Returns (reply code, wall-clock time of the final dot)."""
        self.command(f"MAIL FROM:<{sender}>\r\n".encode())
        self.command(f"RCPT TO:<{RCPT}>\r\n".encode())
        self.command(b"DATA\r\n")
        self.sock.sendall(text.encode())
        dot_at = time.time()
        self.sock.sendall(b".\r\n")
        return self.reply(), dot_at

    def close(self):
        try:
            self.command(b"QUIT\r\n")
        except OSError:
            pass
        self.sock.close()


# ------------------------------------------------------------ servers


class Simulator:
    def __init__(self, workdir):
        self.dir = workdir
        port_file = os.path.join(workdir, "sim.port")
        self.log = open(os.path.join(workdir, "sim.log"), "a")
        self.proc = subprocess.Popen(
            [sys.executable, SIM, "--account-sid", ACCOUNT_SID,
             "--auth-token", AUTH_TOKEN, "--port", "0", "--port-file",
             port_file, "--our-number", OUR_NUMBER, "--seed", "1"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(port_file), 10, "simulator port")
        with open(port_file) as f:
            self.port = int(f.read())
        self.base = f"http://127.0.0.1:{self.port}"

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method, headers={
                                         "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else None

    def requests(self, count=0, timeout_ms=0):
        """Returns every API request so far, once there are count."""
        return self.call("GET", f"/_sim/requests?count={count}"
                         f"&timeout_ms={timeout_ms}")

    def pages(self, count=0, timeout_ms=0):
        return [r for r in self.requests(count, timeout_ms)
                if r["path"].endswith(("/Messages.json", "/Calls.json"))]

    def stop(self):
        stop_process(self.proc)
        self.log.close()


def stop_process(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Critgate:
    name = "critgate"

    def __init__(self, exe, workdir, sim, team_size=2, strace_out=None,
                 extra_config=""):
        self.exe = exe
        self.dir = tempfile.mkdtemp(prefix="critgate.", dir=workdir)
        self.port = free_port()
        self.http_port = free_port()
        self.db = os.path.join(self.dir, "critgate.db")
        self.team = [f"+1555020{i:04d}" for i in range(team_size)]
        team = ",\n".join(
            f'{{ name = "m{i}"; full_name = "Member {i}"; phone = "{p}"; '
            f'email = "m{i}@example.com"; }}' for i, p in enumerate(self.team))
        self.config = os.path.join(self.dir, "critgate.conf")
        with open(self.config, "w") as f:
            f.write(f"""
listen = {{ smtp = "127.0.0.1:{self.port}"; http = "127.0.0.1:{self.http_port}"; }};
public_url = "http://127.0.0.1:{self.http_port}";
store = "{self.db}";
hostname = "mx.bench.example";
max_message_bytes = 4194304;
routes = ( {{ address = "{RCPT}"; severity = "critical"; }} );
escalation = {{ repeat_minutes = 600; }};
page_limits = {{ voice = "1000/1s"; sms = "1000/1s"; }};
team = ( {team} );
twilio = {{ api_base = "{sim.base}"; account_sid = "{ACCOUNT_SID}";
           auth_token = "{AUTH_TOKEN}"; from = "{OUR_NUMBER}";
           timeout_s = 30; }};
{extra_config}
""")
        # page_limits is set out of reach above: the scenarios measure how
        # fast each incident pages, not how the caps hold back a member's
        # phone.
        os.chmod(self.config, 0o600)
        self.command = [exe, "serve", "--config", self.config]
        argv = self.command
        if strace_out:
            argv = ["strace", "-f", "--seccomp-bpf", "-ttt", "-e",
                    "trace=fsync,fdatasync", "-o", strace_out] + argv
        self.log = open(os.path.join(self.dir, "critgate.log"), "a")
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: port_open(self.port), 15, "critgate SMTP port")
        self.pid = self.proc.pid
        if strace_out:
            self.pid = wait_for(lambda: (proc_children(self.proc.pid) or
                                         [None])[0], 5, "traced critgate")

    def cpu_s(self):
        return tree_cpu_s(self.pid)

    def unprocessed(self):
        try:
            db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True,
                                 timeout=5)
            try:
                return db.execute("SELECT count(*) FROM messages WHERE "
                                  "is_processed = 0").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return -1

    def drain(self, timeout_s=120):
        wait_for(lambda: self.unprocessed() == 0, timeout_s,
                 "critgate to process its stored messages")

    def settle(self, timeout_s=30):
        """Waits until every page has its final provider status, so that
        no status callback arrives later."""
        final = ("delivered", "undelivered", "failed", "completed", "busy",
                 "no-answer", "canceled")

        def settled():
            db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True,
                                 timeout=5)
            try:
                total, done = db.execute(
                    "SELECT count(*), count(*) FILTER (WHERE "
                    f"provider_status IN ({','.join('?' * len(final))})) "
                    "FROM pages", final).fetchone()
            finally:
                db.close()
            return total > 0 and total == done
        wait_for(settled, timeout_s, "final statuses of the first round")

    def count_messages(self):
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM messages").fetchone()[0]
        finally:
            db.close()

    def cli(self, *args, timeout_s=600):
        """Returns (exit status, stdout, wall seconds); status -1 and
        timeout_s when the command did not finish in time."""
        started = time.monotonic()
        try:
            proc = subprocess.run([self.exe, *args, "--config", self.config],
                                  capture_output=True, text=True,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return -1, "", float(timeout_s)
        return proc.returncode, proc.stdout, time.monotonic() - started

    def stop(self):
        if self.pid != self.proc.pid and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        stop_process(self.proc)
        self.log.close()


class SmtpSink:
    name = "smtp-sink"

    def __init__(self, workdir):
        self.port = free_port()
        self.command = ["smtp-sink", "-u", "nobody", f"127.0.0.1:{self.port}",
                        "256"]
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        wait_for(lambda: port_open(self.port), 10, "smtp-sink port")

    def cpu_s(self):
        return tree_cpu_s(self.pid)

    def drain(self, timeout_s=0):
        pass

    def stop(self):
        stop_process(self.proc)


POSTFIX_MAIN = """compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.invalid
mydomain = bench.invalid
mydestination = support.example.com
local_recipient_maps =
local_transport = discard:
default_transport = discard:
relay_transport = discard:
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
default_process_limit = 100
alias_maps =
alias_database =
biff = no
"""

POSTFIX_MASTER = """127.0.0.1:{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A private Postfix instance that queues to disk, then discards."""

    name = "postfix"

    def __init__(self, workdir, strace_out=None):
        self.dir = tempfile.mkdtemp(prefix="postfix.", dir=workdir)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        conf = os.path.join(self.dir, "conf")
        for sub in ("conf", "queue", "data"):
            os.mkdir(os.path.join(self.dir, sub))
        shutil.chown(os.path.join(self.dir, "data"), user="postfix")
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN.format(dir=self.dir))
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER.format(port=self.port))
        self.conf = conf
        self.command = ["postfix", "-c", conf, "start-fg"]
        argv = self.command
        if strace_out:
            argv = ["strace", "-f", "--seccomp-bpf", "-ttt", "-e",
                    "trace=fsync,fdatasync", "-o", strace_out] + argv
        self.log = open(os.path.join(self.dir, "start.log"), "a")
        subprocess.run(["postfix", "-c", conf, "check"], stdout=self.log,
                       stderr=subprocess.STDOUT)
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: port_open(self.port), 20, "postfix SMTP port")
        self.pid = self.proc.pid

    def cpu_s(self):
        return tree_cpu_s(self.pid)

    def queued(self):
        count = 0
        for sub in ("incoming", "active", "deferred", "maildrop"):
            for _, _, files in os.walk(os.path.join(self.dir, "queue", sub)):
                count += len(files)
        return count

    def drain(self, timeout_s=120):
        wait_for(lambda: self.queued() == 0, timeout_s, "postfix queue empty")

    def stop(self):
        subprocess.run(["postfix", "-c", self.conf, "stop"],
                       stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop_process(self.proc, signal.SIGKILL)
        self.log.close()


class GatewayPeer:
    name = "script gateway"

    def __init__(self, workdir, sim, team_size=2, strace_out=None,
                 spool=True):
        if not spool:
            self.name = "script gateway, no disk"
        self.dir = tempfile.mkdtemp(prefix="gateway.", dir=workdir)
        self.port = free_port()
        self.team = [f"+1555030{i:04d}" for i in range(team_size)]
        self.command = [sys.executable, os.path.join(HERE, "gateway_peer.py"),
                        "--port", str(self.port), "--spool", self.dir,
                        "--api-base", sim.base, "--account-sid", ACCOUNT_SID,
                        "--auth-token", AUTH_TOKEN, "--sender", OUR_NUMBER,
                        "--team", *self.team]
        if not spool:
            self.command.append("--no-spool")
        argv = self.command
        if strace_out:
            argv = ["strace", "-f", "--seccomp-bpf", "-ttt", "-e",
                    "trace=fsync,fdatasync", "-o", strace_out] + argv
        self.log = open(os.path.join(self.dir, "..", "gateway.log"), "a")
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: port_open(self.port), 15, "gateway peer port")
        self.pid = self.proc.pid
        if strace_out:
            self.pid = wait_for(lambda: (proc_children(self.proc.pid) or
                                         [None])[0], 5, "traced gateway")

    def cpu_s(self):
        return tree_cpu_s(self.pid)

    def drain(self, timeout_s=0):
        pass

    def stop(self):
        if self.pid != self.proc.pid and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
        stop_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------ load


def smtp_source(port, sessions, count, message_file, reuse):
    """Runs smtp-source; returns (wall seconds, client CPU seconds)."""
    argv = ["smtp-source", "-s", str(sessions), "-m", str(count), "-F",
            message_file, "-f", "dana@customer.example.net", "-t", RCPT]
    if reuse:
        argv.append("-d")
    argv.append(f"127.0.0.1:{port}")
    cpu0 = children_cpu_s()
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"smtp-source failed: {proc.stderr.strip()}")
    return wall, children_cpu_s() - cpu0


def smtp_source_argv_text(sessions, count, size_name, reuse):
    return (f"smtp-source -s {sessions} -m {count} -F msg-{size_name}.txt "
            f"-f dana@customer.example.net -t {RCPT}"
            f"{' -d' if reuse else ''} 127.0.0.1:PORT")


def measure_intake(server, sessions, count, message_file, reuse):
    cpu0 = server.cpu_s()
    wall, client_cpu = smtp_source(server.port, sessions, count,
                                   message_file, reuse)
    server.drain()
    server_cpu = server.cpu_s() - cpu0
    return {"rate": count / wall, "wall_s": wall,
            "server_cpu_per_msg": server_cpu / count,
            "client_cpu_per_msg": client_cpu / count}


# ------------------------------------------------------------ report


class Report:
    def __init__(self):
        self.sections = []
        self.checks = []
        self.commands = []

    def section(self, title, text=""):
        self.sections.append(f"## {title}\n\n{text}")

    def table(self, header, rows):
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "---|" * len(header)]
        for row in rows:
            lines.append("| " + " | ".join(str(c) for c in row) + " |")
        self.sections[-1] += "\n".join(lines) + "\n\n"

    def note(self, text):
        self.sections[-1] += text + "\n\n"

    def check(self, ok, what):
        self.checks.append((bool(ok), what))


def fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def ratio(a, b):
    if a is None or b is None or not b:
        return "-"
    return f"{a / b:.2f}"


def sane(value):
    return value is not None and value == value and value > 0


# ------------------------------------------------------------ scenarios


def scenario_blocks(ctx):
    quick, rep = ctx.quick, ctx.report
    count = size("block_count", quick)
    db = os.path.join(ctx.workdir, "blocks.db")
    out = subprocess.run([ctx.blocks, "sqlite", db, str(count)],
                         capture_output=True, text=True, check=True)
    commit = json.loads(out.stdout)
    url = (f"{ctx.sim.base}/2010-04-01/Accounts/{ACCOUNT_SID}/"
           "Messages.json")
    out = subprocess.run([ctx.blocks, "post", url,
                          f"{ACCOUNT_SID}:{AUTH_TOKEN}", str(count)],
                         capture_output=True, text=True, check=True)
    post = json.loads(out.stdout)
    ctx.commit, ctx.post = commit, post
    rep.section("Building blocks")
    rep.table(["block", "p50 ms", "p99 ms", "max ms", "CPU ms per op"], [
        ["SQLite commit, WAL, synchronous=FULL, 1 KB row",
         fmt(commit["p50_s"] * 1e3), fmt(commit["p99_s"] * 1e3),
         fmt(commit["max_s"] * 1e3), fmt(commit["cpu_s_per_op"] * 1e3)],
        ["libcurl POST to the simulator, new handle",
         fmt(post["p50_s"] * 1e3), fmt(post["p99_s"] * 1e3),
         fmt(post["max_s"] * 1e3), fmt(post["cpu_s_per_op"] * 1e3)]])
    rep.check(sane(commit["p50_s"]) and sane(post["p50_s"]),
              "building blocks measured")


def scenario_intake(ctx):
    quick, rep = ctx.quick, ctx.report
    files = {"1 KB": (ctx.msg_1k, size("intake_count_1k", quick)),
             "64 KB": (ctx.msg_64k, size("intake_count_64k", quick))}
    servers = [Critgate(ctx.critgate, ctx.workdir, ctx.sim),
               SmtpSink(ctx.workdir), Postfix(ctx.workdir),
               GatewayPeer(ctx.workdir, ctx.sim)]
    rep.section("Durable intake", "Messages per second until the last "
                "`250`, one Message-ID for every message so that paging "
                "work stays out of the figure (critgate and the script "
                "gateway page once per Message-ID). CPU is server CPU "
                "seconds per message, measured after the server finished "
                "its backlog (critgate: every stored message processed; "
                "Postfix: queue empty); load-generator CPU is in its own "
                "column.\n\n")
    rows = []
    try:
        for size_name, (path, count) in files.items():
            for sessions in size("intake_sessions", quick):
                for reuse in (True, False):
                    rows.append(intake_row(ctx, servers, size_name, path,
                                           count, sessions, reuse))
        critgate = servers[0]
        stored = critgate.count_messages()
        ctx.rss_20 = proc_status_kb(critgate.pid, "VmHWM")
    finally:
        for server in servers:
            server.stop()
    rep.table(["size", "sessions", "connections", "critgate msg/s",
               "smtp-sink msg/s", "Postfix msg/s", "script gw msg/s",
               "vs sink", "vs Postfix", "vs script", "critgate CPU ms/msg",
               "sink", "Postfix", "script", "smtp-source CPU ms/msg"], rows)
    rep.check(stored > 0, "critgate stored intake messages")


def intake_row(ctx, servers, size_name, path, count, sessions, reuse):
    results = [measure_intake(s, sessions, count, path, reuse)
               for s in servers]
    for server, result in zip(servers, results):
        ctx.report.check(sane(result["rate"]),
                         f"intake {server.name} {size_name} {sessions}")
    key = (size_name, sessions, reuse)
    ctx.intake[key] = results
    rates = [r["rate"] for r in results]
    cpu = [fmt(r["server_cpu_per_msg"] * 1e3) for r in results]
    return [size_name, sessions, "reused" if reuse else "new",
            *[fmt(r) for r in rates], ratio(rates[0], rates[1]),
            ratio(rates[0], rates[2]), ratio(rates[0], rates[3]), *cpu,
            fmt(results[0]["client_cpu_per_msg"] * 1e3)]


def count_flushes(trace_path, window):
    count = 0
    with open(trace_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or not parts[2].startswith(("fsync(",
                                                          "fdatasync(")):
                continue
            if window[0] <= float(parts[1]) <= window[1]:
                count += 1
    return count


def scenario_flushes(ctx):
    quick, rep = ctx.quick, ctx.report
    count = size("flush_count", quick)
    rows = []
    makers = [("critgate", lambda t: Critgate(ctx.critgate, ctx.workdir,
                                              ctx.sim, strace_out=t)),
              ("postfix", lambda t: Postfix(ctx.workdir, strace_out=t)),
              ("script gateway", lambda t: GatewayPeer(ctx.workdir, ctx.sim,
                                                       strace_out=t))]
    for sessions in (1, 20):
        row = [sessions]
        for name, make in makers:
            trace = os.path.join(ctx.workdir, f"flush-{name[:6]}-{sessions}")
            server = make(trace)
            try:
                # One message first, outside the window: every message
                # after it is a copy, so that what is counted is the cost
                # of taking mail in, not of the one round of pages.
                smtp_source(server.port, 1, 1, ctx.msg_1k, True)
                server.drain()
                if hasattr(server, "settle"):
                    server.settle()
                started = time.time()
                smtp_source(server.port, sessions, count, ctx.msg_1k, True)
                server.drain()
                window = (started, time.time())
            finally:
                server.stop()
            per_msg = count_flushes(trace, window) / count
            row.append(fmt(per_msg))
            ctx.flushes[(name, sessions)] = per_msg
            rep.check(per_msg > 0, f"flushes counted for {name}")
        rows.append(row)
    rep.section("Disk flushes per message", "fsync and fdatasync calls "
                "counted with `strace -f --seccomp-bpf -ttt -e "
                "trace=fsync,fdatasync` on the server (every process of "
                "the Postfix instance), between the first message and the "
                "end of the backlog, divided by the message count; "
                f"{count} messages of 1 KB, reused connections.  One copy "
                "of the message goes first, outside the count, and its "
                "round of pages is left to finish (critgate: every page "
                "has its final status), so that the figure is the cost of "
                "intake: a round of pages costs one flush per request "
                "answered and per status callback, whatever the load.\n\n")
    rep.table(["sessions", "critgate", "Postfix", "script gateway"], rows)


def first_page_latencies(server, sim, probes, tag, load_pages_from=None):
    """Sends probes one by one; returns final dot -> first request times.

    Under load, load_pages_from is the simulator's page count before the
    load started: the load's copies open at most one incident of their
    own, whose pages must be in before a probe, or they would be taken for
    its own.  When the copies join an incident that an earlier scenario
    left open in the same store, they page nobody, and after a few
    seconds the probes go ahead.
    """
    latencies = []
    client = SmtpClient(server.port)
    expected = len(server.team) * 2
    if load_pages_from is not None:
        try:
            wait_for(lambda: len(sim.pages()) >= load_pages_from + expected
                     or None, 5, "the load's own pages")
        except TimeoutError:
            pass
    try:
        for n in range(probes):
            before = len(sim.requests())
            # Each probe is a new customer: mail from one sender within
            # the dedup window joins that sender's open incident.
            code, dot_at = client.send(crlf_message(
                f"{tag} probe {n}", f"{tag}-probe-{n}-{time.time()}"
                "@bench.example", sender=f"probe-{n}@bench.example"))
            if code != 250:
                raise RuntimeError(f"probe got reply {code}")
            # One request that waits in the simulator until the pages are
            # in: polling instead would have the simulator list every
            # request so far while the pages arrive, and delay them.
            new = [r for r in sim.requests(before + expected, 60000)[before:]
                   if r["path"].endswith(("/Messages.json", "/Calls.json"))]
            if len(new) < expected:
                raise TimeoutError("probe pages at the simulator")
            latencies.append(min(r["time"] for r in new) - dot_at)
    finally:
        client.close()
    return latencies


def scenario_first_page(ctx):
    quick, rep = ctx.quick, ctx.report
    probes = size("ttfp_probes", quick)
    rows = []
    makers = [lambda: Critgate(ctx.critgate, ctx.workdir, ctx.sim),
              lambda: GatewayPeer(ctx.workdir, ctx.sim),
              lambda: GatewayPeer(ctx.workdir, ctx.sim, spool=False)]
    results = {}
    for load in ("idle", "20 sessions"):
        for make in makers:
            server = make()
            loader = None
            pages_before = len(ctx.sim.pages())
            try:
                if load != "idle":
                    loader = subprocess.Popen(
                        ["smtp-source", "-s", "20", "-m", "1000000", "-d",
                         "-F", ctx.msg_1k, "-f", "dana@customer.example.net",
                         "-t", RCPT, f"127.0.0.1:{server.port}"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                lat = first_page_latencies(
                    server, ctx.sim, probes, server.name.split()[0],
                    None if load == "idle" else pages_before)
            finally:
                if loader is not None:
                    stop_process(loader)
                server.stop()
            results[(load, server.name)] = lat
        crit = results[(load, "critgate")]
        peer = results[(load, "script gateway")]
        floor = results[(load, "script gateway, no disk")]
        rows.append([load, fmt(percentile(crit, 0.5) * 1e3),
                     fmt(percentile(crit, 0.99) * 1e3),
                     fmt(max(crit) * 1e3),
                     fmt(percentile(peer, 0.5) * 1e3),
                     fmt(percentile(peer, 0.99) * 1e3), fmt(max(peer) * 1e3),
                     ratio(percentile(crit, 0.99), percentile(peer, 0.99)),
                     fmt(percentile(floor, 0.5) * 1e3),
                     fmt(percentile(floor, 0.99) * 1e3)])
        rep.check(all(x > 0 for x in crit + peer + floor),
                  f"first page latencies {load}")
    ctx.ttfp = results
    budget = ctx.commit["p50_s"] + ctx.post["p50_s"]
    rep.section("Time to first page", "Final dot sent by the client "
                "(wall clock) to the first Messages or Calls request "
                "recorded by the simulator (its `time`, same clock), "
                f"{probes} probes one after the other, each with a new "
                "Message-ID, team of 2. Under load, 20 smtp-source sessions "
                "send copies of one message meanwhile. Reference: one "
                "durable commit + one loopback POST = "
                f"{fmt(budget * 1e3)} ms (building blocks, p50). The "
                "script gateway with no disk keeps nothing (no file, no "
                "fsync) and POSTs after the 250: what is left is the "
                "harness (Python client and simulator) and the gateway's "
                "own Python.\n\n")
    rep.table(["load", "critgate p50 ms", "p99 ms", "max ms",
               "script gw p50 ms", "p99 ms", "max ms", "p99 ratio",
               "no-disk gw p50 ms", "p99 ms"], rows)
    ctx.ttfp_budget = budget


def paced_sender(port, messages, rate, sessions, accepted):
    """Sends (text, sender) pairs at rate per second over sessions."""
    started = time.monotonic()
    lock = threading.Lock()
    next_index = [0]

    def worker():
        client = SmtpClient(port)
        try:
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= len(messages):
                    return
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                code, _ = client.send(*messages[i])
                if code == 250:
                    with lock:
                        accepted[0] += 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started


def storm_messages(alerts, customers):
    messages = []
    for i in range(alerts):
        messages.append((crlf_message(
            f"[FIRING:1] DiskUsageHigh db-3 /var at {80 + i % 20}%",
            f"alert-{i}-{time.time()}@monitor.example",
            sender="alertmanager@monitor.example",
            body=f"Alert DiskUsageHigh on db-3: /var is {80 + i % 20}% full."
                 f" Fired at sequence {i}."), "alertmanager@monitor.example"))
    for i in range(customers):
        sender = f"customer{i}@shop{i}.example"
        messages.append((crlf_message(
            "Checkout down" if i % 2 else "URGENT: payments failing",
            f"cust-{i}-{time.time()}@shop{i}.example", sender=sender,
            body="Our checkout fails with 502 since 10:02, please help."),
            sender))
    # Customers write while the alert storm is going on.
    step = max(1, alerts // max(1, customers))
    mixed = messages[:alerts]
    for j, item in enumerate(messages[alerts:]):
        mixed.insert(min(len(mixed), (j + 1) * step + j), item)
    return mixed


STORM_MODES = (("default settings", ""),
               ("storm grouping on", "dedup = { storm_minutes = 10; };"))


def storm_run(ctx, messages, extra_config):
    """One storm against a fresh critgate; returns its figures."""
    rate = 10000 / 60.0
    ctx.sim.call("POST", "/_sim/reset")
    server = Critgate(ctx.critgate, ctx.workdir, ctx.sim,
                      extra_config=extra_config)
    accepted = [0]
    try:
        wall = paced_sender(server.port, messages, rate, 10, accepted)
        server.drain(300)
        # Pages of the first round settle once no request arrived for 2 s.
        last = [-1, time.monotonic()]

        def settled():
            n = len(ctx.sim.pages())
            if n != last[0]:
                last[0], last[1] = n, time.monotonic()
            return time.monotonic() - last[1] > 2.0
        wait_for(settled, 300, "page requests to settle")
        code, out, _ = server.cli("incidents", "--json")
        incidents = len(json.loads(out)) if code == 0 else None
        stored = server.count_messages()
        requests = len(ctx.sim.pages())
    finally:
        server.stop()
    return {"incidents": incidents, "requests": requests, "wall_s": wall,
            "accepted": accepted[0], "stored": stored, "rate": rate}


def scenario_storm(ctx):
    quick, rep = ctx.quick, ctx.report
    alerts, customers = size("storm_alerts", quick), \
        size("storm_customers", quick)
    messages = storm_messages(alerts, customers)
    runs = {name: storm_run(ctx, messages, extra)
            for name, extra in STORM_MODES}
    per_round = 2 * 2
    ctx.storm = runs["storm grouping on"]
    first = runs["default settings"]
    rep.section("Page storm", f"{alerts} copies of one monitoring alert "
                "(new Message-ID each, changing value) and "
                f"{customers} customer messages about the same outage in "
                "two wordings (\"Checkout down\", \"URGENT: payments "
                f"failing\"), sent at {first['rate']:.0f} messages/s (the "
                "rate of 10,000 in 60 s) over 10 sessions; each run took "
                f"{first['wall_s']:.1f} s. Team of 2, calls and SMS: one "
                f"round is {per_round} provider requests. Requests are "
                "counted once no new request arrived for 2 s "
                "(repeat_minutes = 600, so only the first round). Run "
                "twice: with the default settings, where copies and "
                "reports under one subject join but each wording opens an "
                "incident of its own, and with storm grouping "
                "(`dedup = { storm_minutes = 10; }`), where every report "
                "joins the first unacknowledged incident.\n\n")
    rows = []
    for label, key, target in (
            ("incidents opened", "incidents", "1 (one outage)"),
            ("provider requests", "requests", f"{per_round} (one round)"),
            ("messages answered 250", "accepted", f"{alerts + customers}"),
            ("messages stored", "stored", "= messages answered 250")):
        rows.append([label] + [runs[name][key] for name, _ in STORM_MODES]
                    + [target])
    rep.table(["figure"] + [f"critgate, {name}" for name, _ in STORM_MODES]
              + ["target"], rows)
    for name, _ in STORM_MODES:
        r = runs[name]
        rep.check(r["incidents"] and r["requests"] and
                  r["stored"] >= r["accepted"] > 0,
                  f"page storm ran ({name}) and nothing 250'd was lost")
    rep.check(ctx.storm["incidents"] == 1,
              "storm grouping joined the storm into one incident")


def scenario_parse(ctx):
    quick, rep = ctx.quick, ctx.report
    rows = []
    for (label, nbytes), iterations in zip(
            (("1 KB", 1024), ("64 KB", 65536), ("1 MB", 1 << 20)),
            size("parse_iterations", quick)):
        path = os.path.join(ctx.workdir, f"parse-{nbytes}.eml")
        with open(path, "w", newline="") as f:
            text = crlf_message("Checkout down", "parse@bench.example")
            line = "Checkout fails with 502 for EU customers. 0123456789\r\n"
            f.write(text + line * max(1, nbytes // len(line)))
        out = subprocess.run([ctx.blocks, "parse", path, str(iterations)],
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)
        rows.append([label, fmt(result["critgate_cpu_s"] * 1e6),
                     fmt(result["gmime_cpu_s"] * 1e6),
                     ratio(result["critgate_cpu_s"], result["gmime_cpu_s"])])
        ctx.parse[label] = result
        rep_ok = sane(result["critgate_cpu_s"]) and sane(result["gmime_cpu_s"])
        rep.check(rep_ok, f"parse cost {label}")
    rep.section("Parse cost", "CPU per message of critgate's "
                "`parse_message` (GMime parse plus the decoded subject, "
                "sender, ids, summary text and the headers classification "
                "reads) against a bare GMime parse that builds the message "
                "and reads Subject and Message-ID, in the same process "
                "(`blocks parse`).\n\n")
    rep.table(["size", "critgate µs", "bare GMime µs", "ratio"], rows)


def scenario_memory(ctx):
    quick, rep = ctx.quick, ctx.report
    first, last = size("memory_checkpoints", quick)
    sink = SmtpSink(ctx.workdir)
    sink_rss = proc_status_kb(sink.pid, "VmRSS")
    sink_parts = [proc_status_kb(sink.pid, k) for k in ("RssFile",
                                                        "RssAnon")]
    sink.stop()
    server = Critgate(ctx.critgate, ctx.workdir, ctx.sim)
    try:
        idle = proc_status_kb(server.pid, "VmRSS")
        parts = [proc_status_kb(server.pid, k) for k in ("RssFile",
                                                         "RssAnon")]
        smtp_source(server.port, 20, first, ctx.msg_1k, True)
        server.drain()
        at_first = proc_status_kb(server.pid, "VmRSS")
        smtp_source(server.port, 20, last - first, ctx.msg_1k, True)
        server.drain()
        at_last = proc_status_kb(server.pid, "VmRSS")
        peak = proc_status_kb(server.pid, "VmHWM")
    finally:
        server.stop()
    ctx.memory = {"idle": idle, "sink": sink_rss, "first": at_first,
                  "last": at_last, "idle_file": parts[0],
                  "idle_anon": parts[1], "sink_file": sink_parts[0],
                  "sink_anon": sink_parts[1]}
    rep.section("Memory", "Resident set size from /proc/PID/status "
                "(VmRSS, and VmHWM for the peak). Messages are 1 KB, 20 "
                "sessions, reused connections.\n\n")
    rep.table(["figure", "critgate KiB", "smtp-sink KiB", "ratio"], [
        ["idle", idle, sink_rss, ratio(idle, sink_rss)],
        ["idle: program and library files (RssFile)", parts[0],
         sink_parts[0], ratio(parts[0], sink_parts[0])],
        ["idle: memory of its own (RssAnon)", parts[1], sink_parts[1],
         ratio(parts[1], sink_parts[1])],
        ["peak during the 20-session intake runs", ctx.rss_20, "-", "-"],
        [f"after {first} messages", at_first, "-", "-"],
        [f"after {last} messages", at_last, "-", "-"],
        [f"growth from {first} to {last} messages", at_last - at_first,
         "-", "-"],
        ["peak (VmHWM) of this run", peak, "-", "-"]])
    rep.check(sane(idle) and sane(at_last), "memory measured")


def fill_store(db_path, messages, per_incident=10):
    """Clones the first processed message and its incident until the store
    contains `messages` messages, one incident per `per_incident` messages."""
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA synchronous=OFF")

    def cols(table):
        return [r[1] for r in db.execute(f"PRAGMA table_info({table})")
                if r[1] != "id"]

    template_inc = db.execute("SELECT min(id) FROM incidents").fetchone()[0]
    template_msg = db.execute("SELECT message FROM incidents WHERE id = ?",
                              (template_inc,)).fetchone()[0]
    have = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    need_inc = max(0, (messages - have) // per_incident)
    base = db.execute("SELECT max(id) FROM incidents").fetchone()[0]
    inc_cols = cols("incidents")
    inc_expr = [{"opened_ms": "opened_ms + s.n * 60000",
                 "ack_deadline_ms": "ack_deadline_ms + s.n * 60000",
                 "acked_ms": "CASE WHEN s.n % 2 = 0 THEN opened_ms + "
                             "s.n * 60000 + (s.n % 97) * 1000 END",
                 "acked_by": "CASE WHEN s.n % 2 = 0 THEN 'm0' END",
                 "acked_channel": "CASE WHEN s.n % 2 = 0 THEN 'sms' END",
                 "message_count": str(per_incident),
                 }.get(c, c) for c in inc_cols]
    seq = ("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
           "WHERE n < ?) ")
    db.execute(seq + f"INSERT INTO incidents ({', '.join(inc_cols)}) SELECT "
               f"{', '.join(inc_expr)} FROM s, incidents WHERE "
               f"incidents.id = {template_inc}", (need_inc,))
    msg_cols = cols("messages")
    msg_expr = [{"message_id": "'fill-' || s.n || '@bench.example'",
                 "incident_id": f"{base} + 1 + (s.n - 1) / {per_incident}",
                 "received_ms": "received_ms + s.n * 6000",
                 "duplicate_of": "NULL"}.get(c, c) for c in msg_cols]
    db.execute(seq + f"INSERT INTO messages ({', '.join(msg_cols)}) SELECT "
               f"{', '.join(msg_expr)} FROM s, messages WHERE "
               f"messages.id = {template_msg}", (need_inc * per_incident,))
    db.execute("INSERT INTO message_raw (message, raw) SELECT m.id, r.raw "
               "FROM messages m, message_raw r WHERE r.message = ? AND "
               "m.id > (SELECT max(message) FROM message_raw)",
               (template_msg,))
    for table in ("pages", "events"):
        tcols = cols(table)
        expr = ["i.id" if c == "incident" else f"t.{c}" for c in tcols]
        db.execute(f"INSERT INTO {table} ({', '.join(tcols)}) SELECT "
                   f"{', '.join(expr)} FROM incidents i, {table} t WHERE "
                   f"i.id > {base} AND t.incident = {template_inc}")
    db.commit()
    total = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    db.close()
    return total


def scenario_store(ctx):
    quick, rep = ctx.quick, ctx.report
    rows, timings = [], {}
    rep.section("Store growth", "A store made by critgate (one real "
                "message, its incident, pages and events), grown by cloning "
                "those rows with SQL: one incident per 10 messages, half of "
                "them acknowledged. Median of 3 runs of each command, "
                "wall time including process start.\n\n")
    for messages in size("store_sizes", quick):
        server = Critgate(ctx.critgate, ctx.workdir, ctx.sim)
        client = SmtpClient(server.port)
        client.send(crlf_message("Checkout down", f"store-{messages}@b.example"))
        client.close()
        wait_for(lambda: len(ctx.sim.pages()) > 0, 30, "first page")
        server.drain()
        server.stop()
        started = time.monotonic()
        total = fill_store(server.db, messages)
        fill_s = time.monotonic() - started
        figures = {}
        for command in (("incidents",), ("incidents", "--json"),
                        ("report",)):
            runs = [server.cli(*command, timeout_s=CLI_LIMIT_S)]
            if runs[0][0] == 0:
                runs += [server.cli(*command) for _ in range(2)]
            else:
                rep.note(f"`critgate {' '.join(command)}` on {total} "
                         f"messages did not finish in {CLI_LIMIT_S} s; the "
                         "figure shows that bound.")
            rep.check(all(r[0] in (0, -1) for r in runs),
                      f"critgate {' '.join(command)} on {total} messages")
            figures[" ".join(command)] = statistics.median(r[2] for r in runs)
        timings[messages] = figures
        rows.append([total, total // 10, fmt(fill_s),
                     *[fmt(v * 1e3) for v in figures.values()]])
        os.unlink(server.db)
    small, big = size("store_sizes", quick)
    rows.append(["ratio big / small", "", "",
                 *[ratio(timings[big][k], timings[small][k])
                   for k in timings[big]]])
    ctx.store = timings
    rep.table(["messages", "incidents", "fill s", "`incidents` ms",
               "`incidents --json` ms", "`report` ms"], rows)


def round_time(server, sim, wait_s):
    """Final dot -> last request of the round answered (delay included)."""
    sim.call("POST", "/_sim/reset")
    sim.call("POST", "/_sim/faults", {"action": {"delay_ms": 2000},
                                      "method": "POST", "count": None})
    client = SmtpClient(server.port)
    code, dot_at = client.send(crlf_message(
        "Slow provider", f"slow-{time.time()}@bench.example"))
    client.close()
    expected = len(server.team) * 2
    try:
        reqs = wait_for(lambda: (lambda p: p if len(p) >= expected else None)(
            sim.pages(expected, 1000)), wait_s, "the whole round")
    except TimeoutError:
        return None
    return max(r["time"] for r in reqs) - dot_at + 2.0


def scenario_slow(ctx):
    quick, rep = ctx.quick, ctx.report
    wait_s = size("slow_wait_s", quick)
    results = {}
    base_rate = None
    for make in (lambda: Critgate(ctx.critgate, ctx.workdir, ctx.sim,
                                  team_size=20),
                 lambda: GatewayPeer(ctx.workdir, ctx.sim, team_size=20)):
        server = make()
        try:
            results[server.name] = round_time(server, ctx.sim, wait_s)
            if server.name == "critgate":
                count = size("intake_count_1k", quick)
                slow = measure_intake(server, 20, count, ctx.msg_1k, True)
                base_rate = ctx.intake.get(("1 KB", 20, True))
                results["intake"] = slow["rate"]
        finally:
            server.stop()
            ctx.sim.call("DELETE", "/_sim/faults")
    ctx.slow = results
    crit, peer = results["critgate"], results["script gateway"]
    rep.section("Provider slowness", "The simulator answers every API "
                "request after 2 s; team of 20, calls and SMS (40 requests "
                "per round). Round time: final dot to the last request of "
                "the round answered (arrival of the last request + 2 s). "
                f"Waits are bounded at {wait_s:.0f} s; '-' means the round "
                "was not out by then.\n\n")
    rep.table(["figure", "critgate", "script gateway", "target"], [
        ["round time s", fmt(crit), fmt(peer) if peer else f"> {wait_s:.0f}",
         "<= 3.0 (1.5 x 2 s)"],
        ["SMTP intake msg/s, 1 KB, 20 sessions, during slowness",
         fmt(results["intake"]), "-",
         f"unchanged (baseline {fmt(base_rate[0]['rate'])})"
         if base_rate else "unchanged"]])
    rep.check(crit is not None and crit > 0, "slow provider round measured")


# ------------------------------------------------------------ targets


def target_rows(ctx):
    rows = []

    def add(what, value, target, ok):
        rows.append([what, value, target,
                     "-" if ok is None else ("met" if ok else "missed")])

    big = max(s for s in size("intake_sessions", ctx.quick))
    res = ctx.intake.get(("1 KB", big, True))
    if res:
        crit, sink, postfix, script = (r["rate"] for r in res)
        add(f"intake 1 KB, {big} sessions, vs smtp-sink",
            ratio(crit, sink), ">= 0.50", crit >= 0.5 * sink)
        add(f"intake 1 KB, {big} sessions, vs script gateway",
            ratio(crit, script), ">= 3", crit >= 3 * script)
        add(f"intake 1 KB, {big} sessions, vs Postfix",
            ratio(crit, postfix), ">= 1", crit >= postfix)
    one, many = ctx.flushes.get(("critgate", 1)), \
        ctx.flushes.get(("critgate", 20))
    if one is not None:
        add("flushes per message, 1 session", fmt(one), "1",
            abs(one - 1) < 0.15)
        add("flushes per message, 20 sessions", fmt(many), "<= 0.1",
            many <= 0.1)
    if ctx.ttfp:
        idle = percentile(ctx.ttfp[("idle", "critgate")], 0.99)
        load = percentile(ctx.ttfp[("20 sessions", "critgate")], 0.99)
        add("first page p99 idle / (commit + POST)",
            ratio(idle, ctx.ttfp_budget), "<= 3",
            idle <= 3 * ctx.ttfp_budget)
        add("first page p99 loaded / (commit + POST)",
            ratio(load, ctx.ttfp_budget), "<= 10",
            load <= 10 * ctx.ttfp_budget)
    if ctx.storm:
        st = ctx.storm
        add("page storm, storm grouping on: incidents", st["incidents"],
            "1", st["incidents"] == 1)
        add("page storm, storm grouping on: provider requests",
            st["requests"], "4", st["requests"] == 4)
        add("page storm: stored >= answered 250",
            f"{st['stored']} / {st['accepted']}", "all",
            st["stored"] >= st["accepted"])
    for label, r in ctx.parse.items():
        add(f"parse {label} vs bare GMime",
            ratio(r["critgate_cpu_s"], r["gmime_cpu_s"]), "<= 1.5",
            r["critgate_cpu_s"] <= 1.5 * r["gmime_cpu_s"])
    if ctx.memory:
        m = ctx.memory
        add("idle RSS vs smtp-sink", ratio(m["idle"], m["sink"]), "<= 3",
            m["idle"] <= 3 * m["sink"])
        add("RSS growth after the first checkpoint (KiB)",
            m["last"] - m["first"], "~0 (< 1024)",
            m["last"] - m["first"] < 1024)
    if ctx.store:
        small, big_store = size("store_sizes", ctx.quick)
        r = ctx.store[big_store]["incidents --json"] / \
            ctx.store[small]["incidents --json"]
        add("`incidents` big store / small store", f"{r:.2f}",
            "<= 2 (latest 50)", r <= 2)
    if ctx.slow:
        crit = ctx.slow["critgate"]
        add("slow provider round time (s)", fmt(crit), "<= 3.0",
            crit is not None and crit <= 3.0)
    return rows


def missed_text(ctx):
    """Explains, from this run's own figures, the targets it missed whose
    cause lies outside what critgate can change on this machine."""
    out = []
    big = max(s for s in size("intake_sessions", ctx.quick))
    res = ctx.intake.get(("1 KB", big, True))
    if res and res[0]["rate"] < 0.5 * res[1]["rate"]:
        crit, sink = res[0], res[1]
        cpu = crit["server_cpu_per_msg"] + crit["client_cpu_per_msg"]
        cores = os.cpu_count() or 1
        ceiling = cores / cpu
        out.append(
            f"- **Intake against smtp-sink.** critgate used "
            f"{fmt(crit['server_cpu_per_msg'] * 1e3)} ms of CPU per message "
            f"and smtp-source {fmt(crit['client_cpu_per_msg'] * 1e3)} ms, "
            f"on the same {cores} cores. Even with every core busy all "
            f"the time, that allows at most {ceiling:,.0f} messages per "
            f"second, {ratio(ceiling, sink['rate'])} of smtp-sink's "
            f"{sink['rate']:,.0f}, and sessions that each wait for their "
            "250 after a group flush leave the cores idle part of the time "
            "(a fifth in the profile of the findings). critgate reached "
            f"{crit['rate']:,.0f}. smtp-sink keeps nothing and reads "
            "nothing, while critgate stores each message durably, parses "
            "and classifies it, and records the result. A build that "
            "skipped that understanding reached 0.54 (\"Intake rate\" in "
            "the findings). Without the load generator on the same cores, "
            "critgate's CPU alone would allow at most "
            f"{cores / crit['server_cpu_per_msg']:,.0f} messages per "
            "second, "
            f"{ratio(cores / crit['server_cpu_per_msg'], sink['rate'])} "
            "of smtp-sink's rate.")
    if ctx.ttfp:
        crit = ctx.ttfp[("idle", "critgate")]
        floor = ctx.ttfp[("idle", "script gateway, no disk")]
        budget = 3 * ctx.ttfp_budget
        if percentile(crit, 0.99) > budget:
            left = budget - percentile(floor, 0.99)
            own = percentile(crit, 0.5) - percentile(floor, 0.5)
            out.append(
                f"- **Idle first page at p99.** The target compares a p99 "
                f"with 3x the p50 of one commit and one POST, here "
                f"{fmt(budget * 1e3)} ms. The gateway with no disk, in the "
                f"same harness, had a p99 of "
                f"{fmt(percentile(floor, 0.99) * 1e3)} ms, which leaves "
                f"{fmt(left * 1e3)} ms at p99 for critgate's own work: two "
                "flushes (the message before its 250, and the page's "
                "\"sending\" mark before the request, so that a restart "
                "after a crash does not send the page again), the parse "
                "and the hand-overs between threads. That work took "
                f"{fmt(own * 1e3)} ms at p50 (critgate's p50 less the "
                "no-disk gateway's), so meeting the target would need its "
                f"p99 within {ratio(left, own)}x of its p50. The timestamps "
                "in the findings put every step's p99 at three to four "
                "times its p50 on this machine.")
    m = ctx.memory
    if m and m["idle"] > 3 * m["sink"] and None not in m.values():
        out.append(
            f"- **Idle memory.** Of critgate's {m['idle']:,} KiB, "
            f"{m['idle_file']:,} are pages of its program and shared "
            f"libraries, and {m['idle_anon']:,} memory of its own; "
            f"smtp-sink has {m['sink_file']:,} and {m['sink_anon']:,}. "
            "The libraries are SQLite, GMime, GLib, libcurl with GnuTLS, "
            "and OpenSSL's libcrypto, which libcurl's SSH library sets up "
            "at `curl_global_init` (about 2.9 MB of the files in a "
            "profile of /proc/PID/smaps). The ratio moves with "
            "smtp-sink's own figure from run to run.")
    if not out:
        return ""
    return ("## Targets missed, and why\n\nFrom this run's figures; the "
            "findings of the full report say what was tried.\n\n" +
            "\n".join(out) +
            "\n\n")


def machine_text():
    disk = "unknown"
    try:
        out = subprocess.run(["findmnt", "-no", "SOURCE,FSTYPE,OPTIONS",
                              "-T", tempfile.gettempdir()],
                             capture_output=True, text=True).stdout.strip()
        src = out.split()[0] if out else ""
        dev = os.path.basename(os.path.realpath(src))
        rot = f"/sys/block/{dev}/queue/rotational"
        kind = ""
        if os.path.exists(rot):
            kind = ", rotational" if open(rot).read().strip() == "1" \
                else ", non-rotational"
        disk = f"{out}{kind}"
    except (OSError, IndexError):
        pass
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"- cores: {os.cpu_count()} ({cpu})\n"
            f"- kernel: {platform.release()}\n"
            f"- disk under the temporary folder: {disk}\n"
            f"- Python {platform.python_version()}, "
            f"{subprocess.run(['postconf', '-d', 'mail_version'], capture_output=True, text=True).stdout.strip()}\n")


class Context:
    def __init__(self, args):
        self.quick = args.quick
        self.critgate = args.critgate
        self.blocks = args.blocks
        self.workdir = tempfile.mkdtemp(prefix="critgate-bench.")
        os.chmod(self.workdir, 0o755)
        self.report = Report()
        self.intake, self.flushes, self.parse = {}, {}, {}
        self.ttfp = self.storm = self.memory = self.store = None
        self.slow = None
        self.rss_20 = None
        self.msg_1k = write_message_file(
            os.path.join(self.workdir, "msg-1k.txt"), 700,
            "intake-1k@bench.example")
        self.msg_64k = write_message_file(
            os.path.join(self.workdir, "msg-64k.txt"), 65000,
            "intake-64k@bench.example")
        self.sim = Simulator(self.workdir)


SCENARIOS = [("blocks", scenario_blocks), ("intake", scenario_intake),
             ("flushes", scenario_flushes), ("first-page", scenario_first_page),
             ("storm", scenario_storm), ("parse", scenario_parse),
             ("memory", scenario_memory), ("store", scenario_store),
             ("slow", scenario_slow)]


def main():
    parser = argparse.ArgumentParser(description="critgate benchmark")
    parser.add_argument("--quick", action="store_true",
                        help="every scenario at a small size")
    parser.add_argument("--out", required=True, help="Markdown report path")
    parser.add_argument("--critgate", required=True)
    parser.add_argument("--blocks", required=True)
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder")
    args = parser.parse_args()
    ctx = Context(args)
    started = time.monotonic()
    only = set(args.only.split(",")) if args.only else None
    failed = []
    try:
        for name, fn in SCENARIOS:
            if only and name not in only and name != "blocks":
                continue
            t0 = time.monotonic()
            print(f"bench: scenario {name} started", flush=True)
            try:
                fn(ctx)
            except Exception as exc:
                failed.append(name)
                ctx.report.check(False, f"scenario {name} ran: {exc!r}")
            print(f"bench: scenario {name} done in "
                  f"{time.monotonic() - t0:.1f} s", flush=True)
    finally:
        ctx.sim.stop()
    write_report(ctx, args, time.monotonic() - started)
    bad = [what for ok, what in ctx.report.checks if not ok]
    for what in bad:
        print(f"bench: check failed: {what}", flush=True)
    if not args.keep:
        shutil.rmtree(ctx.workdir, ignore_errors=True)
    print(f"bench: {len(ctx.report.checks) - len(bad)} checks passed, "
          f"{len(bad)} failed; report in {args.out}", flush=True)
    return 1 if bad else 0


def write_report(ctx, args, elapsed):
    mode = "--quick" if args.quick else "full"
    head = (f"# critgate benchmark results\n\nWritten by "
            f"`sh contrib/bench/run.sh{' --quick' if args.quick else ''}` "
            f"({mode} mode) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            f", {elapsed:.0f} s in all. Every figure comes from this one "
            "run on 127.0.0.1; ratios are critgate / peer.\n\n"
            "## Machine\n\n" + machine_text() + "\n"
            "## Commands\n\n"
            f"- critgate: `critgate serve --config critgate.conf` (release "
            "build, team of 2 unless stated, simulator "
            "`test/stub/twilio_sim.py`)\n"
            "- smtp-sink: `smtp-sink -u nobody 127.0.0.1:PORT 256`\n"
            "- Postfix: `postfix -c DIR start-fg`, private main.cf/master.cf, "
            "smtpd on 127.0.0.1:PORT, every recipient queued to disk then "
            "delivered by the `discard` transport\n"
            "- script gateway: `python3 contrib/bench/gateway_peer.py` "
            "(aiosmtpd, fsync per message, then POSTs)\n"
            "- load: " + "; ".join(
                smtp_source_argv_text(s, "N", z, r)
                for z in ("1k",) for s in (20,) for r in (True, False)) +
            " (64k likewise); Python clients for first page, storm and "
            "slowness\n\n")
    targets = target_rows(ctx)
    lines = ["| target | measured | wanted | status |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in targets]
    body = "\n".join(ctx.report.sections)
    checks = "\n".join(f"- {'ok' if ok else 'FAILED'}: {what}"
                       for ok, what in ctx.report.checks if not ok)
    with open(args.out, "w") as f:
        f.write(head + "## Targets\n\n" + "\n".join(lines) + "\n\n" +
                missed_text(ctx) + (ANALYSIS if not args.quick else "") +
                body +
                ("\n## Failed checks\n\n" + checks + "\n" if checks else ""))


# Findings that the figures alone do not show; kept beside the tables.
ANALYSIS = """## What was found

Profiled with `perf record -g` on the daemon during the scenarios below,
and by reading the flush traces.

- **Flushes.** The first version committed each message twice, one fsync
  each, whatever the load (2.1 per message). Now a writer thread commits
  every message waiting at that moment in one transaction (waiting up to
  1 ms for messages other sessions are still sending). A pass (now on a
  thread of its own) understands all new messages, and the main loop
  starts their rounds and marks their pages as sending, in transactions
  of their own. Those used to flush too, which kept 20 sessions at 0.2 flushes per message and
  1 session at 2. It now commits without a flush of its own: what it
  records follows from messages already on disk, and if a power loss takes
  it, the same messages are understood again after the restart. When
  pages or mail are about to leave, the pass requests a flush from the
  writer thread, which in WAL mode makes every earlier commit durable, and
  the requests leave once it is done. So no page is requested before its
  "sending" mark is on disk, and the loop goes on serving SMTP meanwhile.
  A test runs the daemon under strace and checks that order for every
  request, and that every 250 follows the flush of its message. The
  provider's responses and status callbacks (about a dozen per round for a
  team of 2) each used to flush on the main loop. They now commit without
  a flush. Once the loop has handled the events at hand, the writer
  flushes them all, so a burst costs one flush, made off the loop. The
  writer waited only for the sessions in DATA, so batches at 20 sessions
  held about 9 messages (0.115 flushes per message once its flush got
  shorter, below). It now waits for every session between MAIL FROM and
  the final dot: 0.06 to 0.07. The scenario sends one message before it
  counts, and lets that message's round of pages finish, so that the
  figure is the cost of intake.
- **Checkpoints.** SQLite starts a checkpoint (copy the log into the
  database, flush both) inside the commit that makes the log pass 1,000
  pages, before that commit's senders get their 250. The writer now runs
  it itself, after reporting the commit. A first try ran passive
  checkpoints on a thread of their own: the log then never started over,
  as new frames always arrived before a checkpoint ended, and it reached
  450 MB in a burst of 20,000 messages. The writer's checkpoint now waits
  up to 20 ms for readers, so that the next commit starts the log over
  (about 4.5 MB at most in the same burst), and runs only each time the
  log grows by another 1,000 pages, so that a reader that stays open (an
  sqlite3 shell, a backup tool) costs one short wait per 4 MB, not a
  flush per commit. A tester found that a 5 s wait there (SQLite's busy
  timeout) stalled every writer behind such a reader and led to pages
  sent twice. A test now keeps a reader open across a checkpoint.
- **Time to first page.** Was 28 ms at p50 (three to five fsyncs between
  the final dot and the request). Now two flushes (the message before its
  250, the "sending" marks before the request), the parse and the
  classification precede the request, and the pass runs ahead of other
  events on the loop. A profile of that pass showed two costs that grew
  with the store: every pass after new mail checked every open incident
  for due rounds (a hundred probes leave a hundred open), and SQLite
  compiled each statement again at every call. A pass after mail now
  checks only the incidents that mail opened or joined (the half-second
  timer still checks all of them), and statements are compiled once per
  store handle. Most of the p99 under load was the harness. Each probe
  polled the simulator every 20 ms for its requests. Each poll had the
  simulator list every request so far while holding Python's global
  lock, which delayed the requests arriving meanwhile. critgate replies
  250 before it sends its requests, so they met the first poll. The
  script gateway sends its requests before its 250. The probes now make one request that
  waits in the simulator until the pages are in, and the simulator stamps
  a request when its first line arrives. Loaded p99 went from 21.5 to
  about 5.5 to 8 ms. Timestamps added to the daemon for 100 idle probes
  put its own part at 2.7 ms at p50 and 5 ms at p90: the message's commit
  0.5 ms, the pass 0.8 ms, the flush of its marks 0.7 to 1 ms, and waits
  for the writer while it flushed the outcomes of the probe before. That
  is two flushes and a pass, where the reference is one flush and one
  POST. The harness alone takes most of 3x the reference at p99: the
  script gateway with no disk at all (nothing but the Python client, the
  simulator and the gateway's own Python) had a p99 of 2.02 to 2.05 ms in
  the last two runs, 2.15 to 2.75x the reference (0.734 and 0.952 ms).
  That leaves a quarter to a whole reference for two flushes and a pass.
  With the intake changes below, critgate's idle p99 went from 5.5 ms to
  3.7 and 4.8 ms in those runs, and its loaded p99 to 3.5 and 4.7 ms. In
  the last three runs the reference was 0.8 to 0.87 ms and the no-disk
  gateway's p99 1.15 to 1.34 ms. critgate's idle p99 was 4.05 to 4.89 ms,
  with the p50 at 1.8 to 2.0 ms. Moving the pass to a thread adds two
  handovers between threads to this path.
  Timestamps in the daemon for 100 idle probes put the steps after the
  250 at a median of 0.12 ms for the pass thread to wake, 0.15 to load and
  parse, 0.13 to classify and record, 0.06 to commit, 0.26 for the loop
  to start the round and mark the pages, and 0.34 for the writer's flush
  of the marks. The loaded p99 was 4.46 ms in one run and 10.7 ms in the
  next: one probe of 100. The build from before the thread had single
  probes at 11, 18 and 56 ms in three runs of 100 on this machine. The
  writer's checkpoints took 1 to 1.7 ms meanwhile, so these outliers are
  neither the checkpoints nor new. The scenario now sends 300 probes, so that
  its p99 is no longer the single slowest one: 3.76 ms loaded in the
  latest run, with the slowest probe at 5.95 ms (and at 55 ms idle).
  Three changes since, each run against the build before it, in turns,
  over 300 idle probes. The writer wakes the pass as soon as its commit
  lets go of the write lock, so that the pass reads the message while the
  writer flushes it (the pages still leave only after a later flush):
  p50 from 2.1 to 2.2 ms down to 1.72 to 1.77, p90 from 3.5 to 2.9 to 3.1.
  The loop flushes the marks of a page itself instead of handing the
  flush to the writer and waiting for its reply: p50 lower by 0.2 to
  0.25 ms in each of four pairs of runs. Provider outcomes (sids,
  delivery statuses) no longer get a flush of their own when mail or
  pages make one within 100 ms: 1,750 flushes for 300 probes before, 436
  after, and the same latency. Timestamps in the daemon over 300 idle
  probes now give, at p50 and p90: the writer's commit 0.13 and 0.23 ms,
  its flush 0.68 and 1.18 while the pass wakes (0.05 and 0.24) and runs
  (0.44 and 0.84) meanwhile, the loop's wake 0.04 and 0.22, its round and
  marks 0.31 and 0.48, its flush 0.22 and 0.38, and from the request's
  start to its first line at the simulator 0.17 and 0.70. Every step has
  a p90 about twice its p50 on this machine, and a p99 three to four
  times: the tail is in every step, not in one. In the latest full run:
  p50 1.45 ms idle and 1.4 loaded, p99 5.54 (8.1x the reference of
  0.679 ms) and 3.93. The SQLite commit of the same run had a slowest
  case of 3.54 ms, against 0.26 ms in the run before. Two pairs of 300
  idle probes, the build of the run before and this one taking turns,
  gave p50 of 1.41 and 1.41 ms against 1.50 and 1.47, and p99 of 4.04
  and 4.69 against 4.60 and 4.16; this build checks, at every flush,
  that the store's files are still in place (three stat calls, about
  1.5 us each here). In the run before: p50 1.34 ms idle and 1.32
  loaded, p99 3.9 (5.7x the reference of 0.686 ms) and 3.14; in the
  three before that, the idle p99 was 4.24, 4.28 and 4.31 ms (5.0x, 4.5x
  and 5.3x of references from 0.815 to 0.95 ms). The flusher thread (under intake rate, below) left
  the idle first page as it was: 300 probes each, the build before and
  this one taking turns, gave p99 of 5.02 and 4.61 ms before, 5.10 and
  4.40 after. The script gateway, which does all its work on one thread,
  had an idle p99 of 3.0 ms in the latest run, and 2.12 and 4.35 in the
  two before, with a p50 of 2.27, 1.55 and 2.74. Pinning critgate to
  one core (`taskset -c 1`) left its tail as it was: p99 of 5.59 and
  6.11 ms pinned against 6.99 and 4.87 not, in turns. critgate's page crosses from the
  loop to the writer, to the pass and back to the loop, and each wake-up
  of a sleeping thread had a p90 of 0.22 to 0.24 ms here.
- **Intake rate.** The latest steps, measured one after the other:
  - The main thread wrote forty times per message to a temporary file:
    inside a transaction SQLite copies each page a statement changes to a
    statement journal, and this build keeps it in a file. With
    `temp_store=MEMORY` it stays in memory: 4,400 to 5,300 messages per
    second, and 0.17 to 0.13 ms of CPU per message.
  - GLib blocked each socket's source while its callback ran, which
    wrote twice to the loop's wakeup fd and added an empty turn of the
    loop per SMTP command (eight writes per message). Socket sources now
    skip the block. Fewer system calls, and no change in the rate beyond
    the noise.
  - `perf stat` showed the main thread busy half the time and asleep in
    SQLite's busy handler 969 times in a 20,000-message run, waiting for
    the writer thread's commits, which held the write lock through their
    fsync. Three changes, measured one after the other: a busy handler
    that retries every 100 us (6,400 per second); the writer flushing the
    log after its commit has let go of the lock, so the pass commits
    during the fsync (6,900); and a mutex through which the process's
    handles take turns, so a waiting thread wakes when the other's
    transaction ends (7,700, no sleeps left).
  - The pass was two thirds of the main thread's time: the GMime parse
    and the UPDATE that records each message, a third each. That UPDATE
    also wrote the raw message again, as SQLite writes an updated row out
    whole (a 64 KB message as sixteen overflow pages). The raw bytes now
    have a table of their own. 3,000 copies of 64 KB at 20 sessions
    (`measure_intake`): 1,300 to 1,600 per second before, 1,700 to 1,900
    after. 1 KB did not change beyond the noise.
  - The pass now runs on a thread of its own, with its own store handle.
    Alone, that took 20,000 copies of 1 KB from 8,800 to 9,000 per second
    to 9,000 to 9,800. perf showed the pass thread busy 55% of the time,
    the main thread 33% and the writer 19%: not the CPU but the pass's
    transactions held the intake back, as the writer's commits waited for
    them. Each batch now loads and parses its messages (and checks the
    sender of a member's mail, whose DNS lookups could take seconds)
    before its transaction begins: 10,000 to 10,500 per second. Smaller
    batches of 16 were slower (7,100 to 8,000: each costs a commit and a
    round of paging on the loop), and a writer that waits 0.3 ms instead
    of 1 ms for other sessions changed nothing.
  - What is left is the lockstep of 20 sessions that wait for one group
    commit: a round is the main loop's turn through about 80 commands and
    replies, the writer's commit and flush, and the load generator's own
    work, with both cores 70% busy in perf. The benchmark's last three
    runs gave 8,632 to 10,392 messages per second here, 0.33 to 0.37 of
    smtp-sink (whose own rate went from 25,000 to 31,800).
  - A full run measured 1,500 copies of 1 KB per row, which took
    critgate 0.15 s at 20 sessions: the next run on code with the same
    rate gave 7,813 per second (0.29 of smtp-sink), where 20,000 copies
    gave 9,300 to 10,300 for that code and for the code before, in
    turns. A row now sends 6,000 copies of 1 KB and 1,000 of 64 KB. The
    two full runs since gave 9,898 and 8,716 per second, 0.30 and 0.32 of
    smtp-sink (32,512 and 27,517; 27,097 and 28,268 with 1,500 copies in
    the two runs before).
  - `perf record -a` over a 20-session run showed both cores idle a
    third of the time, and the writer's flush in that lockstep: while
    the disk flushed one batch, the writer waited, and so did every
    session. The flush now runs on a thread of its own, and the writer
    commits the next batch meanwhile. 20,000 copies at 20 sessions, the
    build before and this one taking turns: 9,900 to 10,500 messages per
    second before, 10,300 to 11,700 after, with the same 0.06 flushes per
    message. Waiting 0 or 0.3 ms for other sessions instead of 1 ms gave
    0.11 to 0.13 and 0.07 flushes per message, and no higher rate.
  - The pass also inserted every message into an index of messages by
    subject key that no query read any more, as incidents keep their
    own. It is gone (within the noise: 10,400 to 10,800 per second
    against 9,800 to 10,600).
  - What is left is CPU. A build whose pass never runs (an experiment,
    not kept: messages are stored and answered, never understood) took
    15,725 to 16,256 messages per second against smtp-sink's 28,845 to
    29,448 in the same three rounds, 0.54 to 0.56 of it, at 56 us of
    CPU per message. critgate itself took 10,057 to 10,249 (0.35) at
    124 us, and smtp-source spent 28 to 34 us per message on the same
    two cores. So the intake alone, from the first command to the 250
    after the flush, meets the target. Understanding each message (the
    parse, the classification and its lookups, and recording the
    result) costs about 68 us of CPU more, which smtp-sink never spends.
    At 152 us of CPU per message for critgate and smtp-source together,
    two cores allow 13,100 messages per second even with no idle time,
    0.45 of smtp-sink. Reaching half of it on this machine would take a
    third less CPU per message, not less waiting. The latest full run
    gave 10,277 messages per second, 0.37 of smtp-sink's 27,931 (which
    ran slower than in the runs before), 6.14x Postfix and 4.74x the
    script gateway. The two before gave 9,825 (0.29 of 34,102) and 10,970
    (0.32 of 34,535). A profile of the latest code (`perf record` and
    `perf trace -s`, 20,000 messages at 20 sessions) put the pass thread
    at 70 to 74% of a core, the main thread at 37% (most of it in the
    kernel, with four reads and four writes to the socket per message),
    the writer at 18% and the flusher at 5%. Both cores were idle 18% of
    the time. malloc and free were 22% of the instructions, most of them
    GMime's. Other allocators, loaded with `LD_PRELOAD` into the release
    build (20,000 messages at 20 sessions, each in turn, twice): glibc's
    106 and 112 us of CPU per message (11,039 and 12,087 per second),
    mimalloc 106 and 106 us (11,059 and 11,575), jemalloc 102 and 100 us
    (11,931 and 12,204), tcmalloc 100 and 95 us (12,050 and 12,262). A
    tenth less CPU at best, which leaves the rate short of half of
    smtp-sink's, so critgate keeps glibc's and one dependency fewer.

  Earlier, a profile under 20 sessions of copies of one message
  showed two lookups that grew with the store. Loading an incident counted
  its messages, so each copy that joined a storm's incident cost more than
  the one before. The count is now a column, kept as messages join. And
  the search for an earlier message with the same Message-ID used the
  index of unprocessed messages, which also listed every processed one,
  and so walked every processed message; that index now holds only
  unprocessed messages. With those and the flush, checkpoint and
  statement changes, the CPU per 1 KB message at 20 sessions went from
  0.53 to 0.16 ms, and the rate from 1,700 to about 4,300 to 4,600 per
  second, before the steps above took it to about 7,500 to 7,900: 5 to
  7x Postfix's queue rate and 4x the script gateway (which answers 250 and
  pages one message at a time, and whose own rate varied from 1,400 to
  2,000 per second between runs). smtp-sink keeps nothing, neither on disk
  nor in memory. Postfix, which writes each message to disk, reaches a
  twentieth to a thirtieth of its rate in the last runs, and critgate a
  quarter to 0.35 (above).
- **64 KB intake.** The profile of a 64 KB run showed a sixth of the
  daemon's time in GLib appending DATA text one byte at a time; runs of
  text between line ends are now copied at once. The Message-ID lookup
  above cost most of the rest, as it read each 64 KB row it walked from
  the file. With it fixed, 64 KB intake went from about 125 to 640
  messages per second, 1.5 ms of CPU per message. Each message's row
  also kept a copy of its text (up to 64 KiB), which went through SQLite's
  log and back out at checkpoints like the raw message. Only page mail
  read it, to quote the customer, and it now parses the raw message again
  instead. With that and the intake changes above, 64 KB at 20 sessions
  went from 760 to 950 to 1,160 messages per second in the last two runs,
  1.05 to 1.14x Postfix. With the raw bytes in their own table and the
  pass off the loop, it was 1,552 to 2,021 in the last three runs, 1.32
  to 1.76x Postfix. With 1,000 copies a row instead of 300, the two full
  runs since gave 1,547 and 1,405 (1.56 and 1.32x Postfix).
- **Page storm.** Deduplication by Message-ID only opened one incident per
  message. Now a monitoring system's repeats (same sender, same subject
  but for the values) and other customers writing with the same subject
  join the open incident. The storm has three subjects: the disk alert
  and two wordings of the checkout outage, so with the default settings it
  opens three incidents and pages one round for each. Telling that two
  differently worded reports name one outage would need matching on the
  text, which risks absorbing a genuine second emergency, so grouping
  them is a setting: with storm grouping (`dedup.storm_minutes`), every
  new report of the same severity joins the latest incident opened within
  that many minutes, until someone acknowledges it. With it on, the storm
  of 11,000 messages is one incident and one round of 4 requests. It is
  off by default, because it trades a second emergency's own pages for
  quiet during a storm. The README and the example config say so.
- **Parse cost.** The first version decoded up to 2 MiB of every text
  part to keep a 64 KiB summary; now it reads twice the kept size, and
  looks for ISO-2022-JP escapes with one memchr instead of three memmem
  passes (a quarter of the time in the profile). Later profiles showed
  more costs on plain text: a byte-by-byte test for 8-bit bytes, a UTF-8
  validation of text already known to be ASCII, and the decoded text
  growing by doubling. The last profile showed the copy of a 64 KB part
  into freshly allocated memory, with the heap growing and shrinking
  (brk) at every message. The test now reads eight
  bytes at a time, ASCII skips the validation, the content is read
  straight into one buffer, and a plain ASCII part's bytes become its
  text without a copy. 64 KB went from 7.8 to about 1.1 times bare GMime,
  1 MB from 10.8 to about 1.1.
- **Store growth.** `critgate incidents` now lists the latest 50 by the
  primary key, so its time no longer grows with the store; `critgate
  report` still reads every incident, on purpose, as its figures cover all
  of them. The intake fixes above matter more here: each new message's
  lookups no longer walk the processed messages or an incident's
  messages, so intake no longer slows as the store grows. A tester's
  run of mostly new incidents slowed from 640 to 200 messages per second
  over 75 s. A profile of 3,000 distinct incidents found two more walks:
  each request's page-limit count scanned every page, and the search for
  an open incident with the same subject walked every open incident. Both
  now use an index, and the 3,000 took 4.6 s instead of 8 to 10 s, the
  rest of the time going to the simulator's responses and status
  callbacks.
- **Provider slowness.** The simulator's listen backlog of 5 dropped
  connection attempts when a round of 40 requests started at once; with a
  backlog of 128 the whole round goes out in parallel.

"""


if __name__ == "__main__":
    sys.exit(main())
