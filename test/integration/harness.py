# SPDX-License-Identifier: ISC
"""Shared plumbing of critgate's integration tests.

Each test starts its own Twilio simulator and critgate daemon on 127.0.0.1
with ports chosen at run time, in a temporary folder, and stops them at the
end.  Waits poll a condition with a bound; nothing sleeps for a timer.
"""

import atexit
import json
import os
import random
import shutil
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "..", "stub", "twilio_sim.py")
VONAGE_SIM = os.path.join(HERE, "..", "stub", "vonage_sim.py")
TEMPLATES = os.path.join(HERE, "..", "..", "etc", "templates")
# The id the company's own MX writes in Authentication-Results.
AUTHSERV_ID = "mx1.support.example.com"
CRITGATE = os.environ.get("CRITGATE", "critgate")

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test_auth_token_0123456789abcdef"
OUR_NUMBER = "+15550100000"
VONAGE_API_KEY = "abcd1234"
VONAGE_API_SECRET = "test_api_secret_01"
VONAGE_APP_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
VONAGE_SECRET = "test_signature_secret_0123456789"
VONAGE_NUMBER = "+15550100009"
TEAM = [
    ("alice", "+15550100011"),
    ("bob", "+15550100012"),
]

MESSAGE = (
    "From: {sender}\r\n"
    "To: critical@support.example.com\r\n"
    "Subject: {subject}\r\n"
    "Message-ID: <{message_id}>\r\n"
    "Date: Thu, 15 Jan 2026 10:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Payments fail with error 502 in all our shops.\r\n"
)


# Folders made with temp_dir, and whether a check of this process failed:
# their files are kept for reading then, and removed at exit otherwise.
_temp_dirs = []
_any_failed = False


def temp_dir(prefix):
    """Returns a new folder in /tmp, removed at exit if every check
    passed (and CRITGATE_KEEP_TEST_DIRS is unset)."""
    path = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.append(path)
    return path


@atexit.register
def _remove_temp_dirs():
    if _any_failed or os.environ.get("CRITGATE_KEEP_TEST_DIRS"):
        for path in _temp_dirs:
            print(f"# kept {path}")
        return
    for path in _temp_dirs:
        shutil.rmtree(path, ignore_errors=True)


class Tap:
    """TAP output: one line per check, a plan at the end."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def check(self, condition, name, detail=""):
        global _any_failed
        self.count += 1
        if not condition:
            self.failed += 1
            _any_failed = True
            print(f"not ok {self.count} - {name}")
            if detail:
                for line in str(detail).splitlines():
                    print(f"# {line}")
        else:
            print(f"ok {self.count} - {name}")
        sys.stdout.flush()
        return condition

    def done(self):
        print(f"1..{self.count}")
        return 0 if self.failed == 0 else 1


def ephemeral_low():
    """Returns the lowest port the kernel gives to outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


PORTS_GIVEN = set()


def free_port():
    """Returns a TCP port that was free on 127.0.0.1 a moment ago.

    The port lies below the kernel's range for outgoing connections:
    a port from that range (what binding port 0 gives) could be taken as
    the local end of any client's connection before the daemon binds it.
    """
    rng = random.SystemRandom()
    low = max(ephemeral_low(), 12000)
    for _ in range(200):
        port = rng.randrange(10000, low)
        # A port handed out before may not be bound yet: a world's SMTP
        # and HTTP ports once came out the same.
        if port in PORTS_GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            PORTS_GIVEN.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dialogue:
    """A raw SMTP client that reads replies line by line."""

    def __init__(self, port, timeout_s=20):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout_s)
        self.buf = b""
        self.greeting = self.reply()

    def reply(self):
        """Returns one reply, its lines joined; None when the peer left."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return "\n".join(lines) or None
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode())
            if len(line) < 4 or line[3:4] != b"-":
                return "\n".join(lines)

    def send(self, raw):
        self.sock.sendall(raw)

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.sock.close()


def smtp_reply(sock):
    """Reads from sock until a line ends; "" when the peer closed."""
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


def smtp_open_data(port):
    """Opens an SMTP session to port and sends HELO, MAIL, RCPT and DATA;
    returns the socket, ready for the message."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    smtp_reply(sock)
    for line in ("HELO client.example.net",
                 "MAIL FROM:<dana@customer.example.net>",
                 "RCPT TO:<critical@support.example.com>", "DATA"):
        sock.sendall(line.encode() + b"\r\n")
        smtp_reply(sock)
    return sock


def wait_for(condition, timeout_s=20.0, what="condition"):
    """Polls condition() until it returns a true value, or raises."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for "
                               f"{what}")
        time.sleep(0.05)


def message(subject="Checkout down for all EU customers",
            message_id="checkout-1@customer.example.net",
            sender="Dana Customer <dana@customer.example.net>"):
    """Returns a customer's mail.  Within dedup.window_minutes, mail from
    the same sender joins that sender's open incident, so tests that need
    a second incident pass another sender."""
    return MESSAGE.format(subject=subject, message_id=message_id,
                          sender=sender)


class World:
    """A simulator and a daemon sharing one temporary folder."""

    def __init__(self, repeat_minutes=10, team=TEAM, extra_config="",
                 lmtp=None, store_dir=None, relay_port=None,
                 vonage=False, resend_unknown_seconds=60,
                 cool_down_seconds=60):
        self.dir = temp_dir("critgate-it-")
        # With relay_port, critgate sends its mail to an SMTP server
        # there, and takes 127.0.0.1 for the company's own MX.
        self.relay_port = relay_port
        self.team = team
        self.repeat_minutes = repeat_minutes
        self.resend_unknown_seconds = resend_unknown_seconds
        self.cool_down_seconds = cool_down_seconds
        self.extra_config = extra_config
        self.store_dir = store_dir or self.dir
        # "unix" puts an LMTP socket in the test folder; "tcp" a port.
        self.lmtp = None
        if lmtp == "unix":
            self.lmtp = os.path.join(self.dir, "lmtp.sock")
        elif lmtp == "tcp":
            self.lmtp = free_port()
        self.sim = None
        self.vonage = None
        self.daemon = None
        self.daemon_log = None
        self.smtp_port = free_port()
        self.http_port = free_port()
        self.start_sim()
        # With vonage, a Vonage simulator runs too and the providers
        # group tries Twilio, then Vonage.
        if vonage:
            self.start_vonage()
        self.write_config()

    # The simulator.

    def start_sim(self):
        port_file = os.path.join(self.dir, "sim.port")
        self.sim_log = open(os.path.join(self.dir, "sim.log"), "w")
        self.sim = subprocess.Popen(
            [sys.executable, SIM, "--account-sid", ACCOUNT_SID,
             "--auth-token", AUTH_TOKEN, "--port", "0",
             "--port-file", port_file, "--our-number", OUR_NUMBER,
             "--sms-url",
             f"http://127.0.0.1:{self.http_port}/hooks/twilio/sms"],
            stdout=self.sim_log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(port_file), 10, "simulator port")
        with open(port_file) as f:
            self.sim_port = int(f.read().strip())

    def start_vonage(self):
        self.vonage_key = os.path.join(self.dir, "vonage.key")
        pub = os.path.join(self.dir, "vonage.pub")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                        "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                        self.vonage_key], check=True, capture_output=True)
        os.chmod(self.vonage_key, 0o600)
        subprocess.run(["openssl", "pkey", "-in", self.vonage_key,
                        "-pubout", "-out", pub], check=True,
                       capture_output=True)
        port_file = os.path.join(self.dir, "vonage.port")
        hooks = f"http://127.0.0.1:{self.http_port}/hooks/vonage"
        self.vonage_log = open(os.path.join(self.dir, "vonage.log"), "w")
        self.vonage = subprocess.Popen(
            [sys.executable, VONAGE_SIM, "--api-key", VONAGE_API_KEY,
             "--api-secret", VONAGE_API_SECRET, "--application-id",
             VONAGE_APP_ID, "--public-key", pub, "--signature-secret",
             VONAGE_SECRET, "--sms-signing", "--port", "0", "--port-file",
             port_file, "--our-number", VONAGE_NUMBER[1:],
             "--inbound-url", hooks + "/sms/inbound",
             "--dlr-url", hooks + "/sms/status"],
            stdout=self.vonage_log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(port_file), 10, "Vonage simulator")
        with open(port_file) as f:
            self.vonage_port = int(f.read().strip())

    def vonage_call(self, method, path, body=None):
        return self.sim_call(method, path, body, port=self.vonage_port)

    def vonage_config(self):
        return f"""
providers = {{ order = [ "twilio", "vonage" ];
  cool_down_seconds = {self.cool_down_seconds};
  vonage = {{ api_base = "http://127.0.0.1:{self.vonage_port}";
             voice_api_base = "http://127.0.0.1:{self.vonage_port}";
             application_id = "{VONAGE_APP_ID}";
             private_key_file = "{self.vonage_key}";
             api_key = "{VONAGE_API_KEY}";
             api_secret = "{VONAGE_API_SECRET}";
             signature_secret = "{VONAGE_SECRET}";
             signature_method = "md5hash";
             from = "{VONAGE_NUMBER}"; timeout_s = 5; }}; }};
"""

    def post_form(self, path, pairs, headers=None):
        """POSTs form pairs to the daemon's webhook path; returns the HTTP
        status."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}",
            data=urllib.parse.urlencode(pairs).encode(), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def sim_call(self, method, path, body=None, port=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://127.0.0.1:{port or self.sim_port}{path}", data=data,
            method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else None

    def sim_requests(self, suffix=None):
        reqs = self.sim_call("GET", "/_sim/requests")
        if suffix is not None:
            reqs = [r for r in reqs if r["path"].endswith(suffix)]
        return reqs

    def pages_at_sim(self):
        """Returns the accepted (201) Messages and Calls requests."""
        return [r for r in self.sim_requests()
                if r["status"] == 201 and
                (r["path"].endswith("/Messages.json") or
                 r["path"].endswith("/Calls.json"))]

    # The daemon.

    def write_config(self):
        team = ",\n".join(
            f'{{ name = "{name}"; full_name = "{name.title()} Example"; '
            f'phone = "{phone}"; email = "{name}@example.com"; }}'
            for name, phone in self.team)
        lmtp = ""
        if isinstance(self.lmtp, str):
            lmtp = f'lmtp = "unix:{self.lmtp}";'
        elif self.lmtp is not None:
            lmtp = f'lmtp = "127.0.0.1:{self.lmtp}";'
        mail = self.mail_config() if self.relay_port is not None else ""
        providers = self.vonage_config() if self.vonage is not None else ""
        self.config = os.path.join(self.dir, "critgate.conf")
        with open(self.config, "w") as f:
            f.write(f"""
listen = {{ smtp = "127.0.0.1:{self.smtp_port}";
           http = "127.0.0.1:{self.http_port}"; {lmtp} }};
public_url = "http://127.0.0.1:{self.http_port}";
store = "{self.store_dir}/critgate.db";
hostname = "mx.test.example";
max_message_bytes = 1048576;
routes = ( {{ address = "critical@support.example.com"; severity = "critical"; }},
           {{ address = "high@support.example.com"; severity = "high"; }} );
sla = {{ critical_ack_minutes = 30; high_ack_minutes = 720; }};
escalation = {{ repeat_minutes = {self.repeat_minutes};
               resend_unknown_seconds = {self.resend_unknown_seconds}; }};
team = ( {team} );
twilio = {{ api_base = "http://127.0.0.1:{self.sim_port}";
           account_sid = "{ACCOUNT_SID}"; auth_token = "{AUTH_TOKEN}";
           from = "{OUR_NUMBER}"; timeout_s = 5; }};
{mail}
{providers}
{self.extra_config}
""")
        os.chmod(self.config, 0o600)

    def mail_config(self):
        key = os.path.join(self.dir, "token.key")
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(key, 0o600)
        return f"""
mail = {{ domain = "support.example.com";
         from = "critical@support.example.com";
         token_key_file = "{key}";
         relay = "smtp://127.0.0.1:{self.relay_port}";
         templates = "{TEMPLATES}";
         trusted_authserv_id = "{AUTHSERV_ID}";
         trusted_relays = [ "127.0.0.1" ]; timeout_s = 4; }};
"""

    def start_daemon(self):
        self.daemon_log_path = os.path.join(self.dir, "critgate.log")
        self.daemon_log = open(self.daemon_log_path, "a")
        self.daemon = subprocess.Popen(
            [CRITGATE, "serve", "--config", self.config, "--verbose"],
            stdout=self.daemon_log, stderr=subprocess.STDOUT)
        wait_for(self.daemon_ready, 10, "daemon listening")

    def daemon_ready(self):
        if self.daemon.poll() is not None:
            raise RuntimeError("critgate exited at start:\n" + self.log())
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.http_port}/healthz",
                    timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def daemon_ready_quiet(self):
        """Tells whether the daemon answers, without raising if it exited."""
        if self.daemon is None or self.daemon.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.http_port}/healthz",
                    timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def kill_daemon(self, sig=signal.SIGKILL):
        self.daemon.send_signal(sig)
        self.daemon.wait(timeout=10)

    def log(self):
        if self.daemon_log is None:
            return ""
        with open(self.daemon_log_path) as f:
            return f.read()

    def deliver(self, text, sender):
        """Stores a message through "critgate deliver", as an MTA pipes
        it; returns (exit status, stderr)."""
        proc = subprocess.run(
            [CRITGATE, "deliver", "--config", self.config, "--sender",
             sender, "--recipient", "critical@support.example.com"],
            input=text.encode(), capture_output=True, timeout=30)
        return proc.returncode, proc.stderr.decode()

    def move_fix_due(self, incident, seconds):
        """Moves incident's fix due date by seconds, as time passing
        would: the daemon's clock cannot be moved from outside."""
        db = sqlite3.connect(f"{self.store_dir}/critgate.db", timeout=10)
        with db:
            db.execute("UPDATE incidents SET fix_due_ms = fix_due_ms + ? "
                       "WHERE id = ?", (seconds * 1000, incident))
        db.close()

    def cli(self, *args):
        """Runs a critgate subcommand; returns (exit status, stdout)."""
        proc = subprocess.run([CRITGATE, *args, "--config", self.config],
                              capture_output=True, text=True, timeout=30)
        return proc.returncode, proc.stdout + proc.stderr

    def incidents(self):
        rc, out = self.cli("incidents", "--json")
        return json.loads(out) if rc == 0 else []

    def incidents_all(self):
        rc, out = self.cli("incidents", "--json", "--limit", "1000000")
        return json.loads(out) if rc == 0 else []

    def show(self, incident):
        rc, out = self.cli("show", str(incident), "--json")
        return json.loads(out) if rc == 0 else None

    def send(self, text, rcpts=("critical@support.example.com",),
             sender="dana@customer.example.net"):
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as s:
            return s.sendmail(sender, list(rcpts), text.encode())

    def sent_pages(self, incident):
        inc = self.show(incident)
        if inc is None:
            return []
        return [p for p in inc["pages"] if p["state"] == "sent"]

    def stop(self):
        """Stops both; returns the daemon's exit status, or None if it was
        not running."""
        status = None
        for proc in (self.daemon, self.sim, self.vonage):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if proc is self.daemon:
                    status = proc.returncode
        if self.daemon_log is not None:
            self.daemon_log.close()
        self.sim_log.close()
        if self.vonage is not None:
            self.vonage_log.close()
        return status


def stop_world(world, tap, case_name):
    """Stops world; under the sanitizers a leak or an error at exit shows
    up as a failed check named after case_name."""
    status = world.stop()
    if status is not None:
        tap.check(status == 0, f"{case_name}: daemon stops cleanly",
                  f"exit status {status}")


def run(test_body, **world_args):
    """Runs test_body(world, tap) and prints logs when a check failed."""
    tap = Tap()
    world = World(**world_args)
    try:
        test_body(world, tap)
    except Exception as exc:
        import traceback
        traceback.print_exc()
        tap.check(False, "test ran to the end", repr(exc))
    finally:
        status = world.stop()
    if status is not None:
        # Under the sanitizers a leak or an error at exit shows up here.
        tap.check(status == 0, "daemon stops cleanly on SIGTERM",
                  f"exit status {status}")
    if tap.failed:
        print("# --- critgate log ---")
        for line in world.log().splitlines()[-80:]:
            print("# " + line)
    return tap.done()
