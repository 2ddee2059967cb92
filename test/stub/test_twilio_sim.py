#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Self-test for twilio_sim.py, printed as TAP.

Starts the simulator on a free loopback port plus a small webhook receiver,
then drives the REST and control APIs with urllib. Webhook signatures are
checked with a separate implementation of Twilio's HMAC-SHA1 scheme.
"""

import base64
import email.utils
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "twilio_sim.py")
ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "sim_test_token_5f3a9c"
FROM = "+15005550006"
WAIT_S = 10.0

tap_count = 0
tap_failed = 0


# ------------------------------------------------------------- harness


def run_case(func):
    global tap_count, tap_failed
    tap_count += 1
    name = func.__name__
    try:
        func()
    except AssertionError as exc:
        tap_failed += 1
        print("not ok %d - %s" % (tap_count, name))
        print("# %s" % str(exc).replace("\n", "\n# "))
        return
    except Exception as exc:  # report any crash as a failed case
        tap_failed += 1
        print("not ok %d - %s" % (tap_count, name))
        print("# unexpected %s: %s" % (type(exc).__name__, exc))
        return
    print("ok %d - %s" % (tap_count, name))


def check_eq(got, want, label):
    if got != want:
        raise AssertionError("%s is %r, expected %r" % (label, got, want))


def check(cond, label):
    if not cond:
        raise AssertionError("check failed: %s" % label)


def expected_signature(token, url, params):
    """Sign like Twilio, written apart from the simulator's own code.

    params maps each name to its list of values. Names are sorted, then the
    distinct values of each name in sorted order.
    """
    text = url
    for name in sorted(params):
        for value in sorted(set(params[name])):
            text += name + value
    digest = hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# ------------------------------------------------------------ receiver


class Receiver:
    """Loopback HTTP server standing in for critgate's webhook endpoints."""

    def __init__(self):
        self.cond = threading.Condition()
        self.hits = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                hit = {"path": self.path, "headers": dict(self.headers),
                       "raw": raw,
                       "params": urllib.parse.parse_qs(
                           raw.decode(), keep_blank_values=True)}
                path = urllib.parse.urlsplit(self.path).path
                if path.endswith("/fail500"):
                    body = b"down"
                    self.send_response(500)
                    self.send_header("Content-Type", "text/plain")
                elif path.endswith("/gather") or path.endswith("/sms"):
                    body = b"<Response><Say>Acknowledged.</Say><Hangup/>" \
                        b"</Response>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/xml")
                else:
                    body = b""
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with receiver.cond:
                    receiver.hits.append(hit)
                    receiver.cond.notify_all()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait_hits(self, predicate, count, timeout=WAIT_S):
        """Return the hits matching predicate once there are count of them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [h for h in self.hits if predicate(h)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self.cond.wait(left)


# ---------------------------------------------------------- simulator


class Sim:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="twilio-sim-test.")
        self.port_file = os.path.join(self.dir, "port")
        self.log_file = os.path.join(self.dir, "log")
        self.stderr_file = os.path.join(self.dir, "stderr")
        self.stderr = open(self.stderr_file, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, SIM, "--account-sid", ACCOUNT, "--auth-token",
             TOKEN, "--port", "0", "--port-file", self.port_file, "--log",
             self.log_file, "--seed", "7"],
            stdout=subprocess.PIPE, stderr=self.stderr)
        line = self.read_stdout_line(WAIT_S)
        match = re.match(r"twilio-sim: listening port=(\d+)$", line.strip())
        if not match:
            self.proc.kill()
            raise RuntimeError("simulator did not start, output %r" % line)
        self.port = int(match.group(1))
        with open(self.port_file, encoding="ascii") as handle:
            self.port_from_file = int(handle.read().strip())

    def read_stdout_line(self, timeout):
        deadline = time.monotonic() + timeout
        data = b""
        fd = self.proc.stdout.fileno()
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT_S)
                return None
        return self.proc.returncode

    def request(self, method, path, form=None, auth=(ACCOUNT, TOKEN),
                ctype="application/x-www-form-urlencoded", raw=None):
        """Send one request; return (status, headers, decoded JSON or text)."""
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        data = raw
        if form is not None:
            data = urllib.parse.urlencode(form, doseq=True).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None and ctype:
            req.add_header("Content-Type", ctype)
        if auth:
            cred = base64.b64encode(("%s:%s" % auth).encode()).decode()
            req.add_header("Authorization", "Basic " + cred)
        try:
            with urllib.request.urlopen(req, timeout=WAIT_S) as resp:
                status, headers, body = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            status, headers, body = err.code, err.headers, err.read()
        try:
            return status, headers, json.loads(body)
        except ValueError:
            return status, headers, body.decode(errors="replace")

    def control(self, method, path, obj=None):
        raw = json.dumps(obj).encode() if obj is not None else None
        status, _, body = self.request(method, path, auth=None,
                                       ctype="application/json", raw=raw)
        return status, body

    def api(self, resource, form):
        return self.request("POST", "/2010-04-01/Accounts/%s/%s" %
                            (ACCOUNT, resource), form)


SIM_PROC = None
RECEIVER = None


def send_sms(to="+15558675310", body="Incident P-1", **extra):
    form = {"To": to, "From": FROM, "Body": body}
    form.update(extra)
    return SIM_PROC.api("Messages.json", form)


def check_error(result, status, code):
    got_status, _, body = result
    check_eq(got_status, status, "HTTP status")
    check(isinstance(body, dict), "error body is JSON: %r" % (body,))
    check_eq(body.get("code"), code, "error code")
    check_eq(body.get("status"), status, "status field")
    check_eq(body.get("more_info"),
             "https://www.twilio.com/docs/errors/%d" % code, "more_info")
    check(isinstance(body.get("message"), str), "message is a string")


def check_signed(hit, url):
    params = hit["params"]
    want = expected_signature(TOKEN, url, params)
    check_eq(hit["headers"].get("X-Twilio-Signature"), want,
             "X-Twilio-Signature for %s" % url)
    check(hit["headers"].get("I-Twilio-Idempotency-Token"),
          "I-Twilio-Idempotency-Token present")
    check(hit["headers"].get("Content-Type", "").startswith(
        "application/x-www-form-urlencoded"), "form content type")


# --------------------------------------------------------------- cases


def selftest_vectors_exit_zero():
    done = subprocess.run([sys.executable, SIM, "--selftest"],
                          capture_output=True, timeout=WAIT_S)
    check_eq(done.returncode, 0, "--selftest exit status")
    check_eq(done.stdout.decode().count(" ok\n"), 6, "vectors passed")


def startup_port_file_matches():
    check_eq(SIM_PROC.port_from_file, SIM_PROC.port, "port file content")


def auth_wrong_token_401():
    status, _, body = SIM_PROC.request(
        "POST", "/2010-04-01/Accounts/%s/Messages.json" % ACCOUNT,
        {"To": "+15558675310", "From": FROM, "Body": "x"},
        auth=(ACCOUNT, "wrong"))
    check_eq(status, 401, "HTTP status")
    check_eq(body.get("code"), 20003, "code")
    check_eq(body.get("message"), "Authenticate", "message")
    check_eq(body.get("detail"), "Your AccountSid or AuthToken was "
             "incorrect.", "detail")
    check_eq(body.get("status"), 401, "status field")


def auth_path_sid_mismatch_401():
    other = "AC" + "f" * 32
    status, _, body = SIM_PROC.request(
        "POST", "/2010-04-01/Accounts/%s/Messages.json" % other,
        {"To": "+15558675310", "From": FROM, "Body": "x"})
    check_eq(status, 401, "HTTP status")
    check_eq(body.get("code"), 20003, "code")


def auth_missing_header_401():
    status, _, body = SIM_PROC.request(
        "GET", "/2010-04-01/Accounts/%s/Messages/SM%s.json" %
        (ACCOUNT, "0" * 32), auth=None)
    check_eq(status, 401, "HTTP status")
    check_eq(body.get("code"), 20003, "code")


def path_without_json_404():
    status, _, body = SIM_PROC.request(
        "POST", "/2010-04-01/Accounts/%s/Messages" % ACCOUNT,
        {"To": "+15558675310", "From": FROM, "Body": "x"})
    check_eq(status, 404, "HTTP status")
    check_eq(body.get("code"), 20404, "code")


def unknown_path_404():
    status, _, body = SIM_PROC.request(
        "GET", "/2010-04-01/Accounts/%s/Queues.json" % ACCOUNT)
    check_eq(status, 404, "HTTP status")
    check_eq(body.get("code"), 20404, "code")


def json_content_type_415():
    status, _, _ = SIM_PROC.request(
        "POST", "/2010-04-01/Accounts/%s/Messages.json" % ACCOUNT,
        raw=b'{"To": "+15558675310"}', ctype="application/json")
    check_eq(status, 415, "HTTP status")


def message_create_201_shape():
    status, headers, body = send_sms(body="Incident P-1 database down")
    check_eq(status, 201, "HTTP status")
    check(re.match(r"^SM[0-9a-f]{32}$", body.get("sid", "")),
          "sid pattern: %r" % body.get("sid"))
    check(re.match(r"^RQ[0-9a-f]{32}$", headers.get("Twilio-Request-Id",
                                                    "")),
          "Twilio-Request-Id header")
    check_eq(body.get("num_segments"), "1", "num_segments")
    check_eq(body.get("num_media"), "0", "num_media")
    check_eq(body.get("status"), "queued", "status")
    check_eq(body.get("direction"), "outbound-api", "direction")
    check_eq(body.get("api_version"), "2010-04-01", "api_version")
    check_eq(body.get("account_sid"), ACCOUNT, "account_sid")
    check_eq(body.get("to"), "+15558675310", "to")
    check_eq(body.get("from"), FROM, "from")
    check_eq(body.get("error_code"), None, "error_code")
    check(email.utils.parsedate_to_datetime(body["date_created"]),
          "date_created is RFC 2822")
    check_eq(body.get("uri"), "/2010-04-01/Accounts/%s/Messages/%s.json" %
             (ACCOUNT, body["sid"]), "uri")
    fetched = SIM_PROC.request("GET", body["uri"])
    check_eq(fetched[0], 200, "GET status")
    check_eq(fetched[2].get("sid"), body["sid"], "fetched sid")


def message_long_body_segments():
    status, _, body = send_sms(body="x" * 161)
    check_eq(status, 201, "HTTP status")
    check_eq(body.get("num_segments"), "2", "num_segments")


def message_validation_codes():
    check_error(SIM_PROC.api("Messages.json", {"From": FROM, "Body": "x"}),
                400, 21604)
    check_error(send_sms(to="5551234567"), 400, 21211)
    check_error(SIM_PROC.api("Messages.json", {"To": "+15558675310",
                                               "Body": "x"}), 400, 21603)
    check_error(SIM_PROC.api("Messages.json", {"To": "+15558675310",
                                               "From": FROM}), 400, 21602)
    check_error(send_sms(body="y" * 1601), 400, 21617)
    check_eq(send_sms(body="y" * 1600)[0], 201, "1600 characters accepted")


def message_magic_numbers():
    check_eq(send_sms()[0], 201, "From +15005550006 passes")
    check_error(SIM_PROC.api("Messages.json", {
        "To": "+15558675310", "From": "+15005550001", "Body": "x"}),
        400, 21212)
    check_error(SIM_PROC.api("Messages.json", {
        "To": "+15558675310", "From": "+15005550007", "Body": "x"}),
        400, 21606)
    check_error(send_sms(to="+15005550001"), 400, 21211)
    check_error(send_sms(to="+15005550002"), 400, 21612)
    check_error(send_sms(to="+15005550003"), 400, 21408)
    check_error(send_sms(to="+15005550004"), 400, 21610)
    check_error(send_sms(to="+15005550009"), 400, 21614)
    check_eq(SIM_PROC.api("Messages.json", {
        "To": "+15558675310", "From": "+15017122661", "Body": "x"})[0],
        201, "other From accepted")


def landline_number_21614():
    status, _ = SIM_PROC.control("POST", "/_sim/numbers", {
        "number": "+15557770001", "landline": True})
    check_eq(status, 200, "control status")
    check_error(send_sms(to="+15557770001"), 400, 21614)


def fault_500_then_success():
    status, _ = SIM_PROC.control("POST", "/_sim/faults", {
        "method": "POST", "path_suffix": "Messages.json", "count": 1,
        "action": {"status": 500, "body": "twilio"}})
    check_eq(status, 201, "fault rule added")
    check_error(send_sms(), 500, 20500)
    check_eq(send_sms()[0], 201, "second request succeeds")


def fault_to_one_number():
    SIM_PROC.control("POST", "/_sim/faults", {
        "method": "POST", "path_suffix": "Messages.json", "count": 1,
        "to": "+15558675311", "action": {"status": 500, "body": "twilio"}})
    check_eq(send_sms()[0], 201, "another number is not refused")
    check_error(send_sms(to="+15558675311"), 500, 20500)
    check_eq(send_sms(to="+15558675311")[0], 201, "rule spent")


def fault_html_body_502():
    SIM_PROC.control("POST", "/_sim/faults", {
        "path_suffix": "Messages.json", "action": {"status": 502,
                                                   "body": "html"}})
    status, headers, body = send_sms()
    check_eq(status, 502, "HTTP status")
    check(headers.get("Content-Type", "").startswith("text/html"),
          "HTML content type")
    check("<html>" in body, "HTML body")


def fault_429_retry_after():
    SIM_PROC.control("POST", "/_sim/faults", {
        "method": "POST", "path_suffix": "Messages.json",
        "action": {"status": 429, "retry_after": "2"}})
    result = send_sms()
    check_error(result, 429, 20429)
    check_eq(result[1].get("Retry-After"), "2", "Retry-After header")
    check_eq(send_sms()[0], 201, "rule spent after one use")


def fault_garbage_201():
    SIM_PROC.control("POST", "/_sim/faults", {
        "path_suffix": "Messages.json",
        "action": {"status": 201, "body": "garbage"}})
    status, _, body = send_sms()
    check_eq(status, 201, "HTTP status")
    check(isinstance(body, str), "body is not valid JSON")


def fault_hang_client_timeout():
    SIM_PROC.control("POST", "/_sim/faults", {
        "path_suffix": "Messages.json", "action": {"hang": True}})
    url = "http://127.0.0.1:%d/2010-04-01/Accounts/%s/Messages.json" % (
        SIM_PROC.port, ACCOUNT)
    req = urllib.request.Request(url, data=b"To=%2B15558675310", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    timed_out = False
    try:
        urllib.request.urlopen(req, timeout=0.5)
    except (socket.timeout, urllib.error.URLError) as exc:
        timed_out = isinstance(exc, socket.timeout) or \
            isinstance(getattr(exc, "reason", None), socket.timeout)
    check(timed_out, "client read timed out")
    check_eq(send_sms()[0], 201, "rule spent after one use")


def fault_close_mid_body():
    SIM_PROC.control("POST", "/_sim/faults", {
        "path_suffix": "Messages.json", "action": {"close": True}})
    truncated = False
    try:
        send_sms()
    except (http.client.IncompleteRead, ConnectionError):
        truncated = True
    check(truncated, "response body cut short")
    _, items = SIM_PROC.control("GET", "/_sim/requests")
    check_eq(items[-1]["status"], "closed", "recorded status")
    check(items[-1]["sid"], "request was still carried out")


def requests_recorded():
    status, items = SIM_PROC.control("GET", "/_sim/requests")
    check_eq(status, 200, "control status")
    check(len(items) > 0, "requests recorded")
    last = items[-1]
    for key in ("id", "time", "method", "path", "form", "auth_ok", "status",
                "sid", "error_code"):
        check(key in last, "request record has %s" % key)
    check_eq(last["form"].get("Body"), ["Incident P-1"], "form values")


def inbound_stop_then_21610():
    number = "+15557770002"
    check_eq(send_sms(to=number)[0], 201, "send before STOP")
    status, answer = SIM_PROC.control("POST", "/_sim/inbound", {
        "from": number, "body": "STOP", "url": RECEIVER.url("/hooks/sms")})
    check_eq(status, 200, "control status")
    check_eq(answer.get("status"), 200, "daemon answer status")
    hits = RECEIVER.wait_hits(lambda h: h["params"].get("From") == [number],
                              1)
    check_eq(len(hits), 1, "inbound webhooks received")
    hit = hits[0]
    check_signed(hit, RECEIVER.url("/hooks/sms"))
    check_eq(hit["params"].get("OptOutType"), ["STOP"], "OptOutType")
    check_eq(hit["params"].get("SmsStatus"), ["received"], "SmsStatus")
    check_eq(hit["params"]["MessageSid"], hit["params"]["SmsSid"],
             "MessageSid equals SmsSid")
    check_error(send_sms(to=number), 400, 21610)
    SIM_PROC.control("POST", "/_sim/inbound", {
        "from": number, "body": "START", "url": RECEIVER.url("/hooks/sms")})
    check_eq(send_sms(to=number)[0], 201, "send after START")


def inbound_bad_signature_sent():
    number = "+15557770003"
    SIM_PROC.control("POST", "/_sim/inbound", {
        "from": number, "body": "ACK 1", "url": RECEIVER.url("/hooks/sms"),
        "signature": "bad"})
    SIM_PROC.control("POST", "/_sim/inbound", {
        "from": number, "body": "ACK 2", "url": RECEIVER.url("/hooks/sms"),
        "signature": "none"})
    hits = RECEIVER.wait_hits(lambda h: h["params"].get("From") == [number],
                              2)
    check_eq(len(hits), 2, "webhooks received")
    bad = [h for h in hits if h["params"]["Body"] == ["ACK 1"]][0]
    want = expected_signature(TOKEN, RECEIVER.url("/hooks/sms"),
                              bad["params"])
    check(bad["headers"].get("X-Twilio-Signature") not in (None, want),
          "signature is present and wrong")
    none = [h for h in hits if h["params"]["Body"] == ["ACK 2"]][0]
    check("X-Twilio-Signature" not in none["headers"], "signature omitted")


def inbound_public_url_signed():
    SIM_PROC.control("POST", "/_sim/config", {
        "deliver_to": "127.0.0.1:%d" % RECEIVER.port})
    public = "https://pager.example.net/hooks/twilio/sms"
    number = "+15557770004"
    status, answer = SIM_PROC.control("POST", "/_sim/inbound", {
        "from": number, "body": "ACK 3", "url": public})
    SIM_PROC.control("POST", "/_sim/config", {"deliver_to": None})
    check_eq(answer.get("status"), 200, "daemon answer status")
    hits = RECEIVER.wait_hits(lambda h: h["params"].get("From") == [number],
                              1)
    check_eq(len(hits), 1, "webhooks received")
    check_eq(hits[0]["headers"].get("Host"), "pager.example.net", "Host")
    check_signed(hits[0], public)


def message_callbacks_in_order():
    url = RECEIVER.url("/status?attempt=7")
    status, _, body = send_sms(to="+15557770005", StatusCallback=url)
    check_eq(status, 201, "HTTP status")
    sid = body["sid"]
    hits = RECEIVER.wait_hits(lambda h: h["params"].get("MessageSid") ==
                              [sid], 3)
    statuses = [h["params"]["MessageStatus"][0] for h in hits]
    check_eq(statuses, ["queued", "sent", "delivered"], "status order")
    tokens = set()
    for hit in hits:
        check_signed(hit, url)
        check_eq(hit["params"]["SmsSid"], [sid], "SmsSid")
        check_eq(hit["params"]["AccountSid"], [ACCOUNT], "AccountSid")
        check_eq(hit["params"]["ApiVersion"], ["2010-04-01"], "ApiVersion")
        tokens.add(hit["headers"]["I-Twilio-Idempotency-Token"])
    check_eq(len(tokens), 3, "one idempotency token per delivery")
    check("RawDlrDoneDate" in hits[-1]["params"], "RawDlrDoneDate on final")
    fetched = SIM_PROC.request("GET", body["uri"])[2]
    check_eq(fetched.get("status"), "delivered", "resource status")


def message_scripted_undelivered():
    number = "+15557770006"
    SIM_PROC.control("POST", "/_sim/numbers", {
        "number": number, "delivery": "undelivered", "error_code": 30003})
    url = RECEIVER.url("/status")
    _, _, body = send_sms(to=number, StatusCallback=url)
    hits = RECEIVER.wait_hits(lambda h: h["params"].get("MessageSid") ==
                              [body["sid"]], 3)
    check_eq(len(hits), 3, "callbacks received")
    check_eq(hits[-1]["params"]["MessageStatus"], ["undelivered"],
             "final status")
    check_eq(hits[-1]["params"].get("ErrorCode"), ["30003"], "ErrorCode")


def call_validation_codes():
    twiml = "<Response><Hangup/></Response>"
    check_error(SIM_PROC.api("Calls.json", {"From": FROM, "Twiml": twiml}),
                400, 21201)
    check_error(SIM_PROC.api("Calls.json", {"To": "+15558675310",
                                            "Twiml": twiml}), 400, 21213)
    check_error(SIM_PROC.api("Calls.json", {"To": "+15558675310",
                                            "From": FROM}), 400, 21205)
    check_eq(SIM_PROC.api("Calls.json", {
        "To": "+15558675310", "From": FROM,
        "Twiml": "<Response>" + "<Pause/>" * 500 + "</Response>"})[0], 400,
        "Twiml over 4000 characters")
    check_error(SIM_PROC.api("Calls.json", {
        "To": "+15005550002", "From": FROM, "Twiml": twiml}), 400, 21214)


def call_press_posts_digits():
    number = "+15557770010"
    SIM_PROC.control("POST", "/_sim/callee", {
        "number": number, "action": "press", "digits": "1",
        "delay_ms": 20})
    gather = RECEIVER.url("/hooks/voice/gather?page=P-7")
    status_url = RECEIVER.url("/hooks/voice/status")
    twiml = ('<?xml version="1.0" encoding="UTF-8"?><Response>'
             '<Gather input="dtmf" numDigits="1" timeout="8" method="POST" '
             'action="%s"><Say>Press 1.</Say></Gather><Say>Goodbye.</Say>'
             '<Hangup/></Response>' % gather.replace("&", "&amp;"))
    status, _, body = SIM_PROC.api("Calls.json", {
        "To": number, "From": FROM, "Twiml": twiml,
        "StatusCallback": status_url,
        "StatusCallbackEvent": ["initiated", "ringing", "answered",
                                "completed"]})
    check_eq(status, 201, "HTTP status")
    sid = body["sid"]
    check(re.match(r"^CA[0-9a-f]{32}$", sid), "call sid pattern")
    check_eq(body.get("status"), "queued", "initial status")

    presses = RECEIVER.wait_hits(lambda h: h["path"].startswith(
        "/hooks/voice/gather") and h["params"].get("CallSid") == [sid], 1)
    check_eq(len(presses), 1, "gather posts")
    check_eq(presses[0]["params"].get("Digits"), ["1"], "Digits")
    check_eq(presses[0]["params"].get("FinishedOnKey"), [""],
             "FinishedOnKey")
    check_eq(presses[0]["params"].get("CallStatus"), ["in-progress"],
             "CallStatus")
    check_signed(presses[0], gather)

    events = RECEIVER.wait_hits(lambda h: h["path"].startswith(
        "/hooks/voice/status") and h["params"].get("CallSid") == [sid], 4)
    by_seq = sorted(events, key=lambda h: int(h["params"]
                                              ["SequenceNumber"][0]))
    check_eq([h["params"]["SequenceNumber"][0] for h in by_seq],
             ["0", "1", "2", "3"], "SequenceNumber values")
    check_eq([h["params"]["CallStatus"][0] for h in by_seq],
             ["initiated", "ringing", "in-progress", "completed"],
             "CallStatus sequence")
    check("CallDuration" in by_seq[-1]["params"], "CallDuration on final")
    for hit in by_seq:
        check_signed(hit, status_url)

    _, calls = SIM_PROC.control("GET", "/_sim/calls")
    call = [c for c in calls if c["sid"] == sid][0]
    check_eq(call["gathers"][0]["twiml_check"]["ok"], True,
             "gather answer TwiML accepted")


def call_busy_completed_only():
    number = "+15557770011"
    SIM_PROC.control("POST", "/_sim/callee", {"number": number,
                                              "action": "busy"})
    status_url = RECEIVER.url("/hooks/voice/busy")
    _, _, body = SIM_PROC.api("Calls.json", {
        "To": number, "From": FROM, "StatusCallback": status_url,
        "Twiml": "<Response><Say>Hi</Say></Response>"})
    hits = RECEIVER.wait_hits(lambda h: h["params"].get("CallSid") ==
                              [body["sid"]], 1)
    check_eq(len(hits), 1, "status callbacks")
    check_eq(hits[0]["params"]["CallStatus"], ["busy"], "CallStatus")
    check_eq(hits[0]["params"]["SequenceNumber"], ["0"], "SequenceNumber")


def start_waiting_call(number, status_url):
    SIM_PROC.control("POST", "/_sim/callee", {"number": number,
                                              "action": "wait"})
    twiml = ('<Response><Gather numDigits="1" timeout="5" action="%s">'
             '<Say>Press 1.</Say></Gather></Response>' %
             RECEIVER.url("/hooks/voice/gather"))
    status, _, body = SIM_PROC.api("Calls.json", {
        "To": number, "From": FROM, "Twiml": twiml,
        "StatusCallback": status_url,
        "StatusCallbackEvent": ["answered", "completed"]})
    check_eq(status, 201, "call created")
    return body


def call_control_gather_press():
    body = start_waiting_call("+15557770012",
                              RECEIVER.url("/hooks/voice/ctl"))
    status, answer = SIM_PROC.control("POST", "/_sim/gather", {
        "call_sid": body["sid"], "digits": "2"})
    check_eq(status, 200, "control status")
    check_eq(answer.get("status"), 200, "daemon answer status")
    check_eq(answer["twiml_check"]["ok"], True, "TwiML check")
    hits = RECEIVER.wait_hits(lambda h: h["path"] == "/hooks/voice/gather"
                              and h["params"]["CallSid"] == [body["sid"]],
                              1)
    check_eq(hits[0]["params"]["Digits"], ["2"], "Digits")
    done = RECEIVER.wait_hits(lambda h: h["path"] == "/hooks/voice/ctl" and
                              h["params"]["CallSid"] == [body["sid"]], 2)
    check_eq(done[-1]["params"]["CallStatus"], ["completed"],
             "final status")


def call_update_completed_ends():
    url = RECEIVER.url("/hooks/voice/end")
    body = start_waiting_call("+15557770013", url)
    answered = RECEIVER.wait_hits(lambda h: h["path"] == "/hooks/voice/end"
                                  and h["params"]["CallSid"] ==
                                  [body["sid"]], 1)
    check_eq(answered[0]["params"]["CallStatus"], ["in-progress"],
             "answered event")
    status, _, updated = SIM_PROC.request("POST", body["uri"],
                                          {"Status": "completed"})
    check_eq(status, 200, "update status")
    check_eq(updated["status"], "completed", "status after update")
    # The callee waits 5 s at the <Gather>, so a final event within 3 s
    # can only come from the update.
    hits = RECEIVER.wait_hits(lambda h: h["path"] == "/hooks/voice/end" and
                              h["params"]["CallSid"] == [body["sid"]], 2,
                              timeout=3.0)
    check_eq(len(hits), 2, "answered and completed callbacks")
    check_eq(hits[1]["params"]["CallStatus"], ["completed"], "CallStatus")
    _, calls = SIM_PROC.control("GET", "/_sim/calls")
    call = [c for c in calls if c["sid"] == body["sid"]][0]
    check_eq(call["gathers"], [], "no keypress posted")


def webhook_retry_on_5xx():
    url = RECEIVER.url("/fail500")
    SIM_PROC.control("POST", "/_sim/inbound", {"from": "+15557770014",
                                               "body": "x", "url": url})
    SIM_PROC.control("POST", "/_sim/config", {"retry_on_5xx": 1})
    SIM_PROC.control("POST", "/_sim/inbound", {"from": "+15557770015",
                                               "body": "x", "url": url})
    SIM_PROC.control("POST", "/_sim/config", {"retry_on_5xx": 0})
    _, items = SIM_PROC.control("GET", "/_sim/webhooks?kind=inbound-sms")
    by_from = {w["params"]["From"][0]: w for w in items}
    check_eq(len(by_from["+15557770014"]["attempts"]), 1,
             "attempts without retry")
    check_eq(len(by_from["+15557770015"]["attempts"]), 2,
             "attempts with retry_on_5xx=1")
    first = by_from["+15557770015"]
    hits = RECEIVER.wait_hits(lambda h: h["params"].get("From") ==
                              ["+15557770015"], 2)
    check_eq(len({h["headers"]["I-Twilio-Idempotency-Token"]
                  for h in hits}), 1, "same token on retry")
    check_eq(first["status"], 500, "recorded status")


def webhook_connect_failure_retried():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    status, answer = SIM_PROC.control("POST", "/_sim/inbound", {
        "from": "+15557770016", "body": "x",
        "url": "http://127.0.0.1:%d/hooks/sms" % port})
    check_eq(status, 200, "control status")
    check_eq(answer.get("status"), None, "no HTTP status")
    _, items = SIM_PROC.control("GET", "/_sim/webhooks?kind=inbound-sms")
    last = items[-1]
    check_eq(len(last["attempts"]), 2, "one retry after connect failure")
    check(last["error"].startswith("connect"), "connect error recorded")


def sigterm_exits_cleanly():
    check_eq(SIM_PROC.stop(), 0, "exit status after SIGTERM")
    with open(SIM_PROC.log_file, encoding="utf-8") as handle:
        log = handle.read()
    check(TOKEN not in log, "auth token never logged")
    check("status=201 sid=SM" in log, "request lines logged")
    with open(SIM_PROC.stderr_file, encoding="utf-8") as handle:
        errors = handle.read()
    check_eq(errors, "", "simulator stderr")


CASES = [
    selftest_vectors_exit_zero,
    startup_port_file_matches,
    auth_wrong_token_401,
    auth_path_sid_mismatch_401,
    auth_missing_header_401,
    path_without_json_404,
    unknown_path_404,
    json_content_type_415,
    message_create_201_shape,
    message_long_body_segments,
    message_validation_codes,
    message_magic_numbers,
    landline_number_21614,
    fault_500_then_success,
    fault_to_one_number,
    fault_html_body_502,
    fault_429_retry_after,
    fault_garbage_201,
    fault_hang_client_timeout,
    fault_close_mid_body,
    requests_recorded,
    inbound_stop_then_21610,
    inbound_bad_signature_sent,
    inbound_public_url_signed,
    message_callbacks_in_order,
    message_scripted_undelivered,
    call_validation_codes,
    call_press_posts_digits,
    call_busy_completed_only,
    call_control_gather_press,
    call_update_completed_ends,
    webhook_retry_on_5xx,
    webhook_connect_failure_retried,
    sigterm_exits_cleanly,
]


def main():
    global SIM_PROC, RECEIVER
    RECEIVER = Receiver()
    SIM_PROC = Sim()
    try:
        SIM_PROC.control("POST", "/_sim/config", {"event_delay_ms": 10})
        for case in CASES:
            run_case(case)
    finally:
        SIM_PROC.stop()
        SIM_PROC.stderr.close()
        shutil.rmtree(SIM_PROC.dir, ignore_errors=True)
        RECEIVER.server.shutdown()
    print("1..%d" % tap_count)
    return 1 if tap_failed else 0


if __name__ == "__main__":
    sys.exit(main())
