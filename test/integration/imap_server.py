# SPDX-License-Identifier: ISC
"""A private Dovecot on 127.0.0.1 and a fault-injecting proxy in front of it,
for the IMAP poller's integration test.

Dovecot runs in the foreground from a config written into a temporary
folder, with one passwd-file user per mailbox and maildirs in that folder.
Given a certificate, Dovecot also serves TLS: STARTTLS on its IMAP port
and implicit TLS on a second port.  make_test_ca and make_server_cert
write a private CA and server certificates with openssl, and TlsGreeter
is a bare TLS server for the certificate checks that need no IMAP.
The proxy forwards bytes both ways and can cut the connection at a chosen
point of the IMAP exchange, or hide IDLE from the server's capabilities.
"""

import os
import pwd
import shutil
import socket
import ssl
import subprocess
import threading

from harness import free_port, wait_for

CONFIG = """
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
service doveadm {{
  inet_listener {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


class Unavailable(Exception):
    """Dovecot is missing or would not start; the test is skipped."""


def _openssl(*args):
    try:
        proc = subprocess.run(["openssl", *args], capture_output=True,
                              text=True, timeout=30)
    except OSError as exc:
        raise Unavailable(f"openssl cannot run: {exc}")
    if proc.returncode != 0:
        raise Unavailable(f"openssl {args[0]} failed: "
                          f"{proc.stderr.strip()}")


def make_test_ca(folder):
    """Writes a CA certificate and key valid for two days into folder;
    returns (certificate path, key path)."""
    cert = os.path.join(folder, "test-ca.pem")
    key = os.path.join(folder, "test-ca.key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
             "-out", cert, "-days", "2", "-subj", "/CN=critgate test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def make_server_cert(folder, ca, name):
    """Writes a server certificate for the DNS name, signed by ca (the
    pair make_test_ca returns); returns (certificate path, key path)."""
    cert = os.path.join(folder, f"{name}.pem")
    key = os.path.join(folder, f"{name}.key")
    csr = os.path.join(folder, f"{name}.csr")
    ext = os.path.join(folder, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName = DNS:{name}\n"
                "basicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature\n"
                "extendedKeyUsage = serverAuth\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
             "-out", csr, "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
             "-CAcreateserial", "-out", cert, "-days", "2", "-extfile",
             ext)
    os.chmod(key, 0o600)
    return cert, key


def _ssl_settings(tls):
    """Dovecot reads the files named after "<" when it starts, as root."""
    if tls is None:
        return "ssl = no"
    return (f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}\n"
            "ssl_min_protocol = TLSv1.2")


def _run_as():
    """Returns (login user, internal user, group, uid, gid) for Dovecot.

    As root, Dovecot drops to its own users and refuses UID 0 for mail;
    otherwise everything runs as the current user."""
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("dovecot")
            null = pwd.getpwnam("dovenull")
        except KeyError as exc:
            raise Unavailable(f"dovecot system user missing: {exc}")
        return (null.pw_name, user.pw_name, user.pw_name, user.pw_uid,
                user.pw_gid)
    me = pwd.getpwuid(os.geteuid())
    return (me.pw_name, me.pw_name, me.pw_name, me.pw_uid, me.pw_gid)


class Dovecot:
    """One Dovecot instance; users maps login names to passwords.

    With tls, a (certificate path, key path) pair, the IMAP port offers
    STARTTLS and tls_port speaks implicit TLS."""

    def __init__(self, base, users, tls=None):
        self.binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        if not os.path.exists(self.binary):
            raise Unavailable("dovecot not installed (apt-get install "
                              "dovecot-imapd)")
        self.dir = os.path.join(base, "dovecot")
        self.port = free_port()
        self.tls_port = free_port() if tls is not None else 0
        self.proc = None
        login, internal, group, self.uid, self.gid = _run_as()
        for sub in ("run", "state", "home"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        # Mail processes run as the mail user and must reach their home.
        for path in (base, self.dir):
            os.chmod(path, 0o755)
        os.chown(os.path.join(self.dir, "home"), self.uid, self.gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for user, password in users.items():
                f.write(f"{user}:{{PLAIN}}{password}::::::\n")
        os.chmod(os.path.join(self.dir, "passwd"), 0o644)
        self.config = os.path.join(self.dir, "dovecot.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(dir=self.dir, login_user=login,
                                  internal_user=internal,
                                  internal_group=group, uid=self.uid,
                                  gid=self.gid, port=self.port,
                                  tls_port=self.tls_port,
                                  ssl=_ssl_settings(tls)))

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "-F", "-c", self.config],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(self._listening, 10, "dovecot listening")
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise Unavailable(f"dovecot did not start: {exc}: "
                              f"{self.log()[-600:]}")

    def _listening(self):
        if self.tls_port != 0 and not self._accepts(self.tls_port):
            return False
        return self._accepts(self.port)

    def _accepts(self, port):
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace")
            raise RuntimeError(f"exited with {self.proc.returncode}: "
                               f"{err.strip()}")
        try:
            with socket.create_connection(("127.0.0.1", port), 1):
                return True
        except OSError:
            return False

    def doveadm_run(self, *args):
        """Runs doveadm against this instance; returns its output."""
        proc = subprocess.run([self.doveadm, "-c", self.config, *args],
                              capture_output=True, text=True, timeout=20)
        if proc.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: "
                               f"{proc.stderr.strip()}")
        return proc.stdout

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class TlsGreeter:
    """A TLS server on 127.0.0.1 that presents cert, a (certificate path,
    key path) pair, and sends an IMAP greeting after each handshake.
    handshakes counts those completed, failures those a client broke
    off."""

    def __init__(self, cert):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert[0], cert[1])
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.handshakes = 0
        self.failures = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._greet, args=(client,),
                             daemon=True).start()

    def _greet(self, client):
        client.settimeout(10)
        try:
            tls = self.context.wrap_socket(client, server_side=True)
        except OSError:
            with self.lock:
                self.failures += 1
            client.close()
            return
        with self.lock:
            self.handshakes += 1
        try:
            tls.sendall(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
            tls.recv(1024)
        except OSError:
            pass
        finally:
            tls.close()

    def close(self):
        self.listener.close()


class Proxy:
    """Forwards 127.0.0.1 connections to the server at target_port.

    Each fault acts once after it is set.  cut_in_body closes both sides
    halfway through the next server chunk that contains a fetched message
    body.  cut_before_flag closes them instead of forwarding the client's
    next UID STORE or UID MOVE.  hide_idle drops IDLE from what the server
    announces, for connections made after it is set."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0
        self.cuts = 0
        self.cut_in_body = False
        self.cut_before_flag = False
        self.hide_idle = False
        self.open_pairs = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1",
                                               self.target_port))
            with self.lock:
                self.connections += 1
                self.open_pairs.append((client, server))
                hide_idle = self.hide_idle
            threading.Thread(target=self._pump_down,
                             args=(server, client, hide_idle),
                             daemon=True).start()
            threading.Thread(target=self._pump_up, args=(client, server),
                             daemon=True).start()

    def _cut(self, a, b):
        with self.lock:
            self.cuts += 1
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _take(self, name):
        with self.lock:
            if getattr(self, name):
                setattr(self, name, False)
                return True
            return False

    def _pump_down(self, server, client, hide_idle):
        while True:
            try:
                data = server.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._cut(server, client)
                return
            if hide_idle:
                data = data.replace(b" IDLE", b"")
            if b"BODY[]" in data and self._take("cut_in_body"):
                try:
                    client.sendall(data[:len(data) // 2])
                except OSError:
                    pass
                self._cut(server, client)
                return
            try:
                client.sendall(data)
            except OSError:
                self._cut(server, client)
                return

    def _pump_up(self, client, server):
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._cut(client, server)
                return
            upper = data.upper()
            if (b"UID STORE" in upper or b"UID MOVE" in upper) and \
                    self._take("cut_before_flag"):
                self._cut(client, server)
                return
            try:
                server.sendall(data)
            except OSError:
                self._cut(client, server)
                return

    def close(self):
        self.listener.close()
        with self.lock:
            pairs = list(self.open_pairs)
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass
