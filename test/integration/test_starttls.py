#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""STARTTLS (RFC 3207) over real sockets: swaks and smtplib deliver
through TLS, plaintext pipelined after STARTTLS is discarded, a failed
handshake closes the connection, TLS 1.1 is rejected, SIGHUP reloads the
certificate (and keeps it when the new one is bad), a key that does not
match stops the daemon at start, and with tls.require MAIL gets 530."""

import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import warnings

import harness

TIMEOUT_S = 20


def make_cert(directory, name, cn="127.0.0.1"):
    """Writes a self-signed certificate and its key, and returns both
    paths."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "1", "-subj", "/CN=" + cn, "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60)
    return cert, key


def tls_config(cert, key, require=False):
    return (f'tls = {{ cert_file = "{cert}"; key_file = "{key}"; '
            f'require = {"true" if require else "false"}; }};')


def client_context(maximum=None):
    """An unverified client context: the test certificate is
    self-signed."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        # Lets the client offer old versions, which the server must reject.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = maximum
    return ctx


class Dialogue(harness.Dialogue):
    """A raw SMTP client that can switch to TLS in the middle."""

    def __init__(self, port):
        super().__init__(port, TIMEOUT_S)

    def wrap(self, ctx=None):
        self.sock = (ctx or client_context()).wrap_socket(self.sock)


def starttls_dialogue(port):
    """Returns a dialogue that got the 220 to STARTTLS, still in
    plaintext."""
    d = Dialogue(port)
    d.cmd("EHLO client.example.net")
    ready = d.cmd("STARTTLS")
    return d, ready


def served_cert(port):
    """Returns the DER certificate the daemon presents after STARTTLS."""
    d, _ = starttls_dialogue(port)
    d.wrap()
    der = d.sock.getpeercert(binary_form=True)
    d.cmd("QUIT")
    d.close()
    return der


def cert_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def is_closed_by_peer(sock):
    """Reads until the daemon closes the connection, skipping any TLS
    alert.  Returns False if it is still open after TIMEOUT_S."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return False
    return True


def log_has(world, text):
    return text in world.log()


def check_announcement(world, tap):
    d = Dialogue(world.smtp_port)
    ehlo = d.cmd("EHLO client.example.net")
    tap.check("250-STARTTLS" in ehlo, "EHLO announces STARTTLS", ehlo)
    tap.check(d.cmd("STARTTLS now").startswith("501"),
              "STARTTLS with an argument gets 501")
    d.cmd("MAIL FROM:<dana@customer.example.net>")
    tap.check(d.cmd("STARTTLS").startswith("503"),
              "STARTTLS inside a transaction gets 503")
    d.cmd("QUIT")
    d.close()


def check_swaks(world, tap):
    swaks = shutil.which("swaks")
    if not tap.check(swaks is not None, "swaks is installed"):
        return
    proc = subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(world.smtp_port),
         "--tls", "--from", "ops@partner.example.org",
         "--to", "critical@support.example.com",
         "--header", "Subject: Card payments declined over TLS",
         "--header", "Message-ID: <swaks-tls-1@partner.example.org>",
         "--body", "Every card payment is declined since 09:00."],
        capture_output=True, text=True, timeout=60)
    tap.check(proc.returncode == 0, "swaks --tls delivers",
              proc.stdout[-2000:] + proc.stderr[-2000:])
    tap.check("<-  220 2.0.0 ready to start TLS" in proc.stdout,
              "swaks sees the 220 to STARTTLS", proc.stdout[-2000:])
    tap.check("<~  250 2.0.0 message accepted" in proc.stdout,
              "swaks sees 250 after DATA under TLS", proc.stdout[-2000:])
    incs = harness.wait_for(world.incidents, TIMEOUT_S,
                            "incident from swaks over TLS")
    tap.check(incs[0]["subject"] == "Card payments declined over TLS",
              "swaks message opens an incident", incs)
    tap.check(harness.wait_for(
        lambda: log_has(world, "version=TLSv1.3 cipher="), TIMEOUT_S,
        "tls started log line"), "log says TLS started with version and "
        "cipher")


def check_smtplib(world, tap):
    with smtplib.SMTP("127.0.0.1", world.smtp_port,
                      timeout=TIMEOUT_S) as s:
        s.ehlo("client.example.net")
        tap.check(s.has_extn("starttls"), "smtplib sees STARTTLS")
        code, _ = s.starttls(context=client_context())
        tap.check(code == 220, "smtplib starttls() gets 220", code)
        s.ehlo("client.example.net")
        tap.check(not s.has_extn("starttls"),
                  "EHLO under TLS no longer announces STARTTLS")
        code, text = s.docmd("STARTTLS")
        tap.check(code == 503, "second STARTTLS gets 503", text)
        refused = s.sendmail(
            "erin@other.example.net", ["critical@support.example.com"],
            harness.message(subject="Login fails for all admins",
                            message_id="tls-smtplib-1@other.example.net",
                            sender="erin@other.example.net").encode())
        tap.check(refused == {}, "smtplib delivers under TLS", refused)


def check_injection(world, tap):
    d = Dialogue(world.smtp_port)
    d.cmd("EHLO client.example.net")
    d.send(b"STARTTLS\r\nRSET\r\n")
    ready = d.reply()
    tap.check(ready == "220 2.0.0 ready to start TLS",
              "injection: 220 to STARTTLS", ready)
    tap.check(d.buf == b"", "injection: nothing after the 220 in plaintext",
              d.buf)
    d.wrap()
    ehlo = d.cmd("EHLO client.example.net")
    tap.check(ehlo is not None and ehlo.startswith("250-mx.test.example"),
              "injection: first reply under TLS is the EHLO's, not RSET's",
              ehlo)
    noop = d.cmd("NOOP")
    tap.check(noop == "250 2.0.0 ok", "injection: replies stay in step",
              noop)
    d.cmd("QUIT")
    d.close()
    tap.check(harness.wait_for(
        lambda: log_has(world, "smtp: input after STARTTLS discarded"),
        TIMEOUT_S, "discard log line"), "log says the injected input was "
        "discarded")


def check_bad_handshake(world, tap):
    d, ready = starttls_dialogue(world.smtp_port)
    tap.check(ready.startswith("220"), "bad handshake: 220 first", ready)
    d.send(b"EHLO this is not a TLS record\r\n")
    tap.check(is_closed_by_peer(d.sock), "bad handshake: connection closed")
    d.close()
    tap.check(harness.wait_for(
        lambda: log_has(world, "smtp: tls handshake failed"), TIMEOUT_S,
        "handshake failure log line"), "log says the handshake failed")

    d, ready = starttls_dialogue(world.smtp_port)
    try:
        d.wrap(client_context(maximum=ssl.TLSVersion.TLSv1_1))
        version = d.sock.version()
    except (ssl.SSLError, OSError) as exc:
        version = repr(exc)
    tap.check(version not in ("TLSv1", "TLSv1.1"),
              "a TLS 1.1 client is refused", version)
    d.close()
    tap.check(harness.wait_for(
        lambda: log_has(world, "unsupported protocol"), TIMEOUT_S,
        "protocol version log line"), "the daemon itself refused TLS 1.1")

    d, ready = starttls_dialogue(world.smtp_port)
    d.wrap(client_context(maximum=ssl.TLSVersion.TLSv1_2))
    tap.check(d.sock.version() == "TLSv1.2", "a TLS 1.2 client is served",
              d.sock.version())
    tap.check(d.cmd("EHLO client.example.net").startswith("250"),
              "EHLO under TLS 1.2")
    d.close()


def check_reload(world, tap, cert):
    tap.check(served_cert(world.smtp_port) == cert_der(cert),
              "the configured certificate is served")

    # Same paths, new contents, as a renewal leaves them.
    new_cert, new_key = make_cert(world.dir, "renewed", "renewed.test")
    shutil.copyfile(new_key, cert.replace(".crt", ".key"))
    shutil.copyfile(new_cert, cert)
    world.daemon.send_signal(signal.SIGHUP)
    tap.check(harness.wait_for(
        lambda: log_has(world, "smtp: tls certificate reloaded"),
        TIMEOUT_S, "reload log line"), "SIGHUP reloads the certificate")
    tap.check(served_cert(world.smtp_port) == cert_der(new_cert),
              "the renewed certificate is served after SIGHUP")

    with open(cert, "w") as f:
        f.write("not a certificate\n")
    world.daemon.send_signal(signal.SIGHUP)
    tap.check(harness.wait_for(
        lambda: log_has(world, "tls reload failed, keeping the previous "
                        "certificate"), TIMEOUT_S, "failed reload log line"),
        "a bad certificate on SIGHUP is reported")
    tap.check(served_cert(world.smtp_port) == cert_der(new_cert),
              "the previous certificate is kept after a bad reload")


def body(world, tap):
    cert, key = make_cert(world.dir, "server")
    world.extra_config = tls_config(cert, key)
    world.write_config()
    world.start_daemon()
    check_announcement(world, tap)
    check_swaks(world, tap)
    check_smtplib(world, tap)
    check_injection(world, tap)
    check_bad_handshake(world, tap)
    check_reload(world, tap, cert)


def body_required(world, tap):
    cert, key = make_cert(world.dir, "server")
    world.extra_config = tls_config(cert, key, require=True)
    world.write_config()
    world.start_daemon()
    d = Dialogue(world.smtp_port)
    d.cmd("EHLO client.example.net")
    mail = d.cmd("MAIL FROM:<dana@customer.example.net>")
    tap.check(mail == "530 5.7.0 must issue a STARTTLS command first",
              "tls.require: MAIL before STARTTLS gets 530", mail)
    tap.check(harness.wait_for(
        lambda: log_has(world, 'reason="STARTTLS required"'), TIMEOUT_S,
        "530 log line"), "log says STARTTLS is required")
    tap.check(d.cmd("STARTTLS").startswith("220"),
              "tls.require: STARTTLS accepted")
    d.wrap()
    d.cmd("EHLO client.example.net")
    mail = d.cmd("MAIL FROM:<dana@customer.example.net>")
    tap.check(mail == "250 2.1.0 sender ok",
              "tls.require: MAIL under TLS accepted", mail)
    d.cmd("QUIT")
    d.close()


def body_bad_key(world, tap):
    cert, _ = make_cert(world.dir, "server")
    _, other_key = make_cert(world.dir, "other")
    world.extra_config = tls_config(cert, other_key)
    world.write_config()
    proc = subprocess.run(
        [harness.CRITGATE, "serve", "--config", world.config],
        capture_output=True, text=True, timeout=30)
    tap.check(proc.returncode != 0,
              "serve exits at start with a key that does not match",
              proc.stderr[-2000:])
    tap.check("cannot load the TLS certificate" in proc.stderr,
              "the error names the certificate", proc.stderr[-2000:])


def run_world(tap, test_body):
    """Runs test_body in its own world, as harness.run does, but on a
    shared TAP stream so that the file prints one plan."""
    failed_before = tap.failed
    world = harness.World()
    try:
        test_body(world, tap)
    except Exception as exc:
        tap.check(False, f"{test_body.__name__} ran to the end", repr(exc))
    finally:
        status = world.stop()
    if status is not None:
        tap.check(status == 0, f"{test_body.__name__}: daemon stops cleanly "
                  "on SIGTERM", f"exit status {status}")
    if tap.failed > failed_before:
        print("# --- critgate log ---")
        for line in world.log().splitlines()[-80:]:
            print("# " + line)


def main():
    tap = harness.Tap()
    for test_body in (body, body_required, body_bad_key):
        run_world(tap, test_body)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
