#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A real Postfix in front of critgate, as a site would run it.

A private Postfix instance listens on one loopback port and relays mail
for support.example.com to critgate, once over LMTP to critgate's Unix
socket and once over SMTP to its port.  A message sent to Postfix must
open an incident in critgate.  Postfix runs from a configuration folder
of its own (postfix -c DIR start-fg).  It needs root, the postfix user and
the postdrop group, so the test is skipped without them.
"""

import grp
import os
import pwd
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys

import harness

DOMAIN = "support.example.com"
RCPT = f"critical@{DOMAIN}"
LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp shows it

MAIN_CF = """compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.test.invalid
mydomain = test.invalid
myorigin = test.invalid
mydestination =
local_recipient_maps =
relay_domains = {domain}
relay_recipient_maps =
transport_maps = inline:{{ {domain}={transport} }}
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
alias_maps =
alias_database =
biff = no
"""

# Only the smtpd below listens on the network; every other service is a
# Unix socket inside the queue folder.
MASTER_CF = """127.0.0.1:{port} inet n - n - - smtpd
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
smtp unix - - n - - smtp
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


class Unavailable(Exception):
    """Postfix is missing or would not start; the test is skipped."""


def missing_prerequisite():
    """Returns why Postfix cannot run here, or None."""
    if shutil.which("postfix") is None and \
            not os.path.exists("/usr/sbin/postfix"):
        return "postfix not installed (apt-get install postfix)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root"
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError as exc:
        return f"Postfix system user or group missing: {exc}"
    return None


def instance_pids(conf):
    """Returns the ids of the processes of the Postfix instance whose
    configuration folder is conf (master passes MAIL_CONFIG on)."""
    pids = []
    want = f"MAIL_CONFIG={conf}".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if want in f.read().split(b"\0"):
                    pids.append(int(name))
        except OSError:
            continue
    return pids


def listening_sockets(pids):
    """Returns (hex local address, port) of each TCP socket in LISTEN state
    that one of pids holds, as /proc/net/tcp and tcp6 show them."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                fields = row.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    addr, port = fields[1].rsplit(":", 1)
                    found.add((addr, int(port, 16)))
    return found


class Postfix:
    """One private Postfix instance relaying DOMAIN to transport."""

    def __init__(self, base, name, transport):
        self.binary = shutil.which("postfix") or "/usr/sbin/postfix"
        self.dir = os.path.join(base, name)
        self.conf = os.path.join(self.dir, "conf")
        self.port = harness.free_port()
        self.proc = None
        self.log = None
        for sub in ("conf", "queue", "data"):
            os.makedirs(os.path.join(self.dir, sub))
        os.chmod(self.dir, 0o755)
        shutil.chown(os.path.join(self.dir, "data"), user="postfix")
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, domain=DOMAIN,
                                   transport=transport))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))

    def start(self):
        self.log = open(os.path.join(self.dir, "start.log"), "a")
        check = subprocess.run([self.binary, "-c", self.conf, "check"],
                               stdout=self.log, stderr=subprocess.STDOUT,
                               timeout=30)
        if check.returncode != 0:
            raise Unavailable(f"postfix check failed: {self.output()}")
        self.proc = subprocess.Popen(
            [self.binary, "-c", self.conf, "start-fg"],
            stdout=self.log, stderr=subprocess.STDOUT)
        try:
            harness.wait_for(self._listening, 20, "postfix listening")
        except (TimeoutError, RuntimeError) as exc:
            raise Unavailable(f"postfix did not start: {exc}: "
                              f"{self.output()}")

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"exited with {self.proc.returncode}")
        return (LOOPBACK_HEX, self.port) in listening_sockets(
            instance_pids(self.conf))

    def output(self):
        """Returns the end of the start output and of the mail log."""
        text = ""
        for name in ("start.log", "maillog"):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    text += f.read()[-1500:]
            except OSError:
                pass
        return text

    def send(self, text, sender):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
            return s.sendmail(sender, [RCPT], text.encode())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            subprocess.run([self.binary, "-c", self.conf, "stop"],
                           stdout=self.log, stderr=subprocess.STDOUT,
                           timeout=30)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()


def stored_peers(world):
    """Returns the peer of each stored message, oldest first."""
    db = sqlite3.connect(f"file:{world.dir}/critgate.db?mode=ro", uri=True)
    try:
        return [r[0] for r in
                db.execute("SELECT peer FROM messages ORDER BY id")]
    finally:
        db.close()


def relay_checks(world, tap, postfix, protocol, n):
    """Sends message n through postfix; it must open incident n.  critgate
    records the peer of an LMTP socket as "unix", of TCP as "ADDR:PORT"."""
    expected_peer = "unix" if protocol == "lmtp" else "127.0.0.1:"
    sender = f"dana{n}@customer.example.net"
    refused = postfix.send(harness.message(
        subject=f"Checkout down in region {n} via {protocol}",
        message_id=f"postfix-{n}@customer.example.net",
        sender=f"Dana Customer <{sender}>"), sender)
    tap.check(refused == {}, f"{protocol}: Postfix accepts the message",
              refused)
    try:
        harness.wait_for(lambda: len(world.incidents()) == n, 20,
                         f"incident {n} relayed over {protocol}")
    except TimeoutError as exc:
        tap.check(False, f"{protocol}: message opens an incident",
                  f"{exc}\n{postfix.output()}")
        return
    tap.check(True, f"{protocol}: message opens an incident")
    incident = world.incidents()[0] if n == 1 else None
    if incident is not None:
        tap.check(incident.get("severity") == "critical",
                  f"{protocol}: incident is critical", incident)
    peers = stored_peers(world)
    tap.check(len(peers) == n, f"{protocol}: message stored once", peers)
    tap.check(peers[-1:] == [expected_peer] or
              peers[-1].startswith(expected_peer),
              f"{protocol}: message arrived over {protocol}", peers)


def run_variant(world, tap, base, variant, n, postfixes):
    protocol, transport = variant
    postfix = Postfix(base, protocol, transport)
    postfixes.append(postfix)
    postfix.start()
    sockets = listening_sockets(instance_pids(postfix.conf))
    tap.check(sockets == {(LOOPBACK_HEX, postfix.port)},
              f"{protocol}: Postfix listens on 127.0.0.1:{postfix.port} only",
              f"listening sockets {sorted(sockets)}")
    relay_checks(world, tap, postfix, protocol, n)
    postfix.stop()
    tap.check(postfix.proc.returncode is not None,
              f"{protocol}: Postfix stopped")


def body(world, tap, base, postfixes):
    # The LMTP client runs as the postfix user and must reach the socket.
    os.chmod(world.dir, 0o711)
    world.start_daemon()
    variants = [
        ("lmtp", f"lmtp:unix:{world.lmtp}"),
        ("smtp", f"smtp:[127.0.0.1]:{world.smtp_port}"),
    ]
    for n, variant in enumerate(variants, start=1):
        run_variant(world, tap, base, variant, n, postfixes)


def stop_on_sigterm(signum, frame):
    """Turns meson's SIGTERM at a timeout into SystemExit, so the finally
    clauses stop Postfix."""
    raise SystemExit(128 + signum)


def main():
    problem = missing_prerequisite()
    if problem is not None:
        print(f"1..0 # SKIP {problem}")
        return 77
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    base = harness.temp_dir("critgate-postfix-")
    os.chmod(base, 0o755)
    tap = harness.Tap()
    world = harness.World(lmtp="unix")
    postfixes = []
    skip = None

    try:
        body(world, tap, base, postfixes)
    except Unavailable as exc:
        skip = str(exc)
    except Exception as exc:
        tap.check(False, "test ran to the end", repr(exc))
    finally:
        for postfix in postfixes:
            postfix.stop()
        status = world.stop()

    if skip is not None and tap.count == 0:
        print("1..0 # SKIP " + " ".join(skip.split())[:300])
        return 77
    if skip is not None:
        tap.check(False, "second Postfix instance started", skip)
    tap.check(status == 0, "daemon stops cleanly on SIGTERM",
              f"exit status {status}")
    if tap.failed:
        print("# --- critgate log ---")
        for line in world.log().splitlines()[-60:]:
            print("# " + line)
    shutil.rmtree(base, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
