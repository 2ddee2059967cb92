#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Self-test for vonage_sim.py, printed as TAP.

Starts the simulator on a free loopback port plus a small webhook receiver,
then drives the SMS, Voice and control APIs with urllib. The RS256 tokens
are signed with the openssl command and a key made for the run; webhook
signatures are checked with code written apart from the simulator's.
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import http.server

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "vonage_sim.py")
API_KEY = "abcd1234"
API_SECRET = "sim_api_secret_77"
APP_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
SECRET = "test_signature_secret_0123456789"
WAIT_S = 10.0

tap_count = 0
tap_failed = 0


def run_case(func):
    global tap_count, tap_failed
    tap_count += 1
    try:
        func()
    except AssertionError as exc:
        tap_failed += 1
        print("not ok %d - %s" % (tap_count, func.__name__))
        print("# %s" % str(exc).replace("\n", "\n# "))
        return
    except Exception as exc:  # report any crash as a failed case
        tap_failed += 1
        print("not ok %d - %s" % (tap_count, func.__name__))
        print("# unexpected %s: %s" % (type(exc).__name__, exc))
        return
    print("ok %d - %s" % (tap_count, func.__name__))


def check_eq(got, want, label):
    if got != want:
        raise AssertionError("%s is %r, expected %r" % (label, got, want))


def check(cond, label):
    if not cond:
        raise AssertionError("check failed: %s" % label)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def expected_sms_sig(params, secret):
    """md5hash over '&name=value' in name order, '&' and '=' made '_'."""
    text = "".join("&%s=%s" % (name, params[name].replace("&", "_")
                                .replace("=", "_"))
                   for name in sorted(params) if name != "sig")
    return hashlib.md5((text + secret).encode()).hexdigest()


def voice_jwt_claims(auth, body):
    """Check an HS256 voice webhook token; return its claims."""
    check(auth is not None and auth.startswith("Bearer "), "Bearer token")
    head, payload, sig = auth[7:].split(".")
    check_eq(json.loads(b64url_decode(head))["alg"], "HS256", "alg")
    want = hmac.new(SECRET.encode(), (head + "." + payload).encode(),
                    hashlib.sha256).digest()
    check_eq(sig, b64url(want), "JWT signature")
    claims = json.loads(b64url_decode(payload))
    check_eq(claims["payload_hash"], hashlib.sha256(body).hexdigest(),
             "payload_hash")
    check_eq(claims["iss"], "Vonage", "iss")
    check_eq(claims["api_key"], API_KEY, "api_key")
    return claims


# ------------------------------------------------------------ receiver


class Receiver:
    """Loopback HTTP server standing in for critgate's webhooks."""

    def __init__(self):
        self.cond = threading.Condition()
        self.hits = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                self.record(b"")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.record(self.rfile.read(length))

            def record(self, raw):
                path = urllib.parse.urlsplit(self.path).path
                hit = {"path": path, "query": urllib.parse.urlsplit(
                    self.path).query, "headers": dict(self.headers),
                    "raw": raw}
                body, ctype = b"", None
                if path.endswith("/input"):
                    body = b'[{"action":"talk","text":"Acknowledged."}]'
                    ctype = "application/json"
                status = 503 if path.endswith("/fail503") else 200
                # Recorded before the answer, which lets the simulator
                # send its next webhook: the hits keep their order.
                with receiver.cond:
                    receiver.hits.append(hit)
                    receiver.cond.notify_all()
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait(self, pred, count=1):
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while True:
                found = [h for h in self.hits if pred(h)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %d webhooks"
                                         % count)
                self.cond.wait(left)

    def clear(self):
        with self.cond:
            self.hits = []


# ------------------------------------------------------------ simulator


class Sim:
    def __init__(self, tmp):
        self.tmp = tmp
        self.key = os.path.join(tmp, "key.pem")
        pub = os.path.join(tmp, "pub.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                        "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                        self.key], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", self.key, "-pubout",
                        "-out", pub], check=True, capture_output=True)
        port_file = os.path.join(tmp, "port")
        self.proc = subprocess.Popen(
            [sys.executable, SIM, "--api-key", API_KEY, "--api-secret",
             API_SECRET, "--application-id", APP_ID, "--public-key", pub,
             "--signature-secret", SECRET, "--sms-signing",
             "--port-file", port_file, "--log",
             os.path.join(tmp, "sim.log")], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT_S
        while not os.path.exists(port_file):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("simulator did not start")
            time.sleep(0.05)
        with open(port_file, encoding="ascii") as src:
            self.port = int(src.read())

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def request(self, method, path, body=None, headers=None, timeout=10):
        req = urllib.request.Request(self.url(path), data=body,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def control(self, method, path, obj=None):
        data = json.dumps(obj).encode() if obj is not None else None
        status, _, body = self.request(method, path, data, {
            "Content-Type": "application/json"})
        return status, json.loads(body or b"{}")

    def sms(self, **fields):
        params = {"api_key": API_KEY, "api_secret": API_SECRET,
                  "from": "15550100009", "to": "15550100013",
                  "text": "CRITICAL #1042", "client-ref": "7"}
        params.update(fields)
        params = {k: v for k, v in params.items() if v is not None}
        status, headers, body = self.request(
            "POST", "/sms/json", urllib.parse.urlencode(params).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"})
        return status, headers, body

    def jwt(self, iat_offset=0, lifetime=300, app_id=APP_ID, key=None):
        now = int(time.time()) + iat_offset
        head = b64url(b'{"alg":"RS256","typ":"JWT"}')
        claims = b64url(json.dumps({"application_id": app_id, "iat": now,
                                    "exp": now + lifetime,
                                    "jti": os.urandom(8).hex()}).encode())
        signing_input = (head + "." + claims).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                              key or self.key], input=signing_input,
                             check=True, capture_output=True).stdout
        return head + "." + claims + "." + b64url(sig)

    def call(self, body, token=None):
        headers = {"Content-Type": "application/json"}
        if token != "":
            headers["Authorization"] = "Bearer " + (token or self.jwt())
        return self.request("POST", "/v1/calls", json.dumps(body).encode(),
                            headers)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


SIM_ = None
RECV = None


def call_body(**extra):
    body = {"to": [{"type": "phone", "number": "15550100013"}],
            "from": {"type": "phone", "number": "15550100009"},
            "ncco": [{"action": "talk", "text": "Incident 1042.",
                      "bargeIn": True},
                     {"action": "input", "type": ["dtmf"],
                      "dtmf": {"maxDigits": 1, "timeOut": 8},
                      "eventUrl": [RECV.url("/hooks/vonage/voice/input")]}],
            "event_url": [RECV.url("/hooks/vonage/voice/event")]}
    body.update(extra)
    return body


def sms_entries(body):
    return json.loads(body)["messages"]


def fresh():
    SIM_.control("POST", "/_sim/reset")
    SIM_.control("POST", "/_sim/config", {
        "dlr_url": RECV.url("/hooks/vonage/sms/status"),
        "inbound_url": RECV.url("/hooks/vonage/sms/inbound"),
        "dlr_delay_ms": 0})
    RECV.clear()


# ------------------------------------------------------------ cases


def sms_accepted_receipt_signed():
    fresh()
    status, _, body = SIM_.sms()
    check_eq(status, 200, "status")
    entries = sms_entries(body)
    check_eq(entries[0]["status"], "0", "entry status")
    check_eq(entries[0]["client-ref"], "7", "client-ref")
    hits = RECV.wait(lambda h: h["path"].endswith("/sms/status"), 2)
    params = dict(urllib.parse.parse_qsl(hits[-1]["raw"].decode()))
    check_eq(params["msisdn"], "15550100013", "msisdn is the recipient")
    check_eq(params["messageId"], entries[0]["message-id"], "messageId")
    check_eq(params["client-ref"], "7", "client-ref echoed")
    check_eq(params["status"], "delivered", "final status")
    check_eq(params["sig"], expected_sms_sig(params, SECRET), "sig")


def sms_bad_credentials_status_4():
    fresh()
    _, _, body = SIM_.sms(api_secret="wrong")
    check_eq(sms_entries(body)[0]["status"], "4", "status")
    _, _, body = SIM_.sms(api_key="nope1234")
    check_eq(sms_entries(body)[0]["status"], "4", "status")


def sms_number_with_plus_status_3():
    fresh()
    status, _, body = SIM_.sms(to="+15550100013")
    check_eq(status, 200, "HTTP status")
    check_eq(sms_entries(body)[0]["status"], "3", "status")


def sms_missing_from_status_2():
    fresh()
    _, _, body = SIM_.sms(**{"from": None})
    check_eq(sms_entries(body)[0]["status"], "2", "status")


def sms_sig_and_secret_status_32():
    fresh()
    _, _, body = SIM_.sms(sig="abc", timestamp="1")
    check_eq(sms_entries(body)[0]["status"], "32", "status")


def sms_barred_and_deactivated_numbers():
    fresh()
    SIM_.control("POST", "/_sim/numbers", {"number": "15550100013",
                                           "barred": True})
    _, _, body = SIM_.sms()
    check_eq(sms_entries(body)[0]["status"], "7", "barred")
    SIM_.control("POST", "/_sim/numbers", {"number": "15550100012",
                                           "status": 33})
    _, _, body = SIM_.sms(to="15550100012")
    check_eq(sms_entries(body)[0]["status"], "33", "de-activated")


def sms_long_text_several_parts():
    fresh()
    _, _, body = SIM_.sms(text="x" * 400)
    obj = json.loads(body)
    check_eq(obj["message-count"], "3", "message-count")
    check_eq([e["status"] for e in obj["messages"]], ["0", "0", "0"],
             "statuses")


def sms_throughput_limit_status_1():
    fresh()
    SIM_.control("POST", "/_sim/config", {"sms_per_second": 1})
    statuses = [sms_entries(SIM_.sms()[2])[0]["status"] for _ in range(3)]
    check_eq(statuses[0], "0", "first")
    check("1" in statuses[1:], "a later one is throttled: %r" % statuses)


def sms_failed_delivery_receipt():
    fresh()
    SIM_.control("POST", "/_sim/numbers", {"number": "15550100013",
                                           "dlr_status": "failed",
                                           "err_code": 6})
    SIM_.sms()
    # Receipts arrive on separate connections, in any order.
    hits = RECV.wait(lambda h: h["path"].endswith("/sms/status") and
                     b"status=failed" in h["raw"])
    params = dict(urllib.parse.parse_qsl(hits[-1]["raw"].decode()))
    check_eq(params["status"], "failed", "status")
    check_eq(params["err-code"], "6", "err-code")


def sms_fault_status_5_and_http_errors():
    fresh()
    SIM_.control("POST", "/_sim/faults", {"path_suffix": "/sms/json",
                                          "action": {"sms_status": 5}})
    status, _, body = SIM_.sms()
    check_eq(status, 200, "HTTP status")
    check_eq(sms_entries(body)[0]["status"], "5", "status 5")
    SIM_.control("POST", "/_sim/faults", {"action": {"status": 503,
                                                     "body": "empty"}})
    status, _, body = SIM_.sms()
    check_eq(status, 503, "503")
    check_eq(body, b"", "empty body")
    SIM_.control("POST", "/_sim/faults", {"action": {
        "status": 429, "retry_after": "2"}})
    status, headers, _ = SIM_.sms()
    check_eq(status, 429, "429")
    check_eq(headers.get("Retry-After"), "2", "Retry-After")
    status, _, _ = SIM_.sms()
    check_eq(status, 200, "one-shot rule spent")


def sms_fault_hang_times_out():
    fresh()
    SIM_.control("POST", "/_sim/faults", {"action": {"hang": True}})
    try:
        SIM_.request("POST", "/sms/json", b"a=b", timeout=0.5)
    except (socket.timeout, TimeoutError, urllib.error.URLError):
        return
    raise AssertionError("request did not time out")


def sms_fault_garbage_body():
    fresh()
    SIM_.control("POST", "/_sim/faults", {"action": {"status": 200,
                                                     "body": "garbage"}})
    status, _, body = SIM_.sms()
    check_eq(status, 200, "status")
    try:
        json.loads(body)
    except ValueError:
        return
    raise AssertionError("body is valid JSON")


def inbound_injected_signed_get():
    fresh()
    SIM_.control("POST", "/_sim/config", {"webhook_method": "GET"})
    status, record = SIM_.control("POST", "/_sim/inbound", {
        "msisdn": "15550100013", "text": "ACK 1042 & thanks"})
    check_eq(status, 200, "control status")
    check_eq(record["status"], 200, "delivery status")
    hit = RECV.wait(lambda h: h["path"].endswith("/sms/inbound"))[0]
    params = dict(urllib.parse.parse_qsl(hit["query"]))
    check_eq(params["msisdn"], "15550100013", "msisdn")
    check_eq(params["keyword"], "ACK", "keyword")
    check_eq(params["sig"], expected_sms_sig(params, SECRET), "sig")


def inbound_bad_signature_mode():
    fresh()
    SIM_.control("POST", "/_sim/config", {"webhook_signature": "bad"})
    SIM_.control("POST", "/_sim/inbound", {"msisdn": "15550100013",
                                           "text": "ACK"})
    hit = RECV.wait(lambda h: h["path"].endswith("/sms/inbound"))[0]
    params = dict(urllib.parse.parse_qsl(hit["raw"].decode()))
    check(params["sig"] != expected_sms_sig(params, SECRET), "sig is wrong")


def call_without_token_401():
    fresh()
    status, _, body = SIM_.call(call_body(), token="")
    check_eq(status, 401, "missing token")
    check_eq(json.loads(body)["title"], "Unauthorized", "title")
    status, _, _ = SIM_.call(call_body(), token=SIM_.jwt(iat_offset=-400))
    check_eq(status, 401, "expired token")
    status, _, _ = SIM_.call(call_body(), token=SIM_.jwt(app_id="other"))
    check_eq(status, 401, "other application")
    token = SIM_.jwt()
    status, _, _ = SIM_.call(call_body(), token=token[:-4] + "AAAA")
    check_eq(status, 401, "bad signature")


def call_invalid_body_400():
    fresh()
    body = call_body()
    del body["ncco"]
    status, _, _ = SIM_.call(body)
    check_eq(status, 400, "no ncco nor answer_url")
    status, _, _ = SIM_.call(call_body(to=[]))
    check_eq(status, 400, "no to")


def call_keypress_acknowledged():
    fresh()
    status, _, body = SIM_.call(call_body(machine_detection="continue"))
    check_eq(status, 201, "status")
    created = json.loads(body)
    check_eq(created["status"], "started", "status field")
    hit = RECV.wait(lambda h: h["path"].endswith("/input"))[0]
    result = json.loads(hit["raw"])
    check_eq(result["dtmf"]["digits"], "1", "digits")
    check_eq(result["uuid"], created["uuid"], "uuid")
    voice_jwt_claims(hit["headers"].get("Authorization"), hit["raw"])
    events = RECV.wait(lambda h: h["path"].endswith("/event"), 4)
    statuses = [json.loads(h["raw"])["status"] for h in events]
    check_eq(statuses, ["started", "ringing", "answered", "completed"],
             "events")
    _, calls = SIM_.control("GET", "/_sim/calls")
    check_eq(calls["calls"][0]["actions"], ["talk", "input", "talk"],
             "NCCO actions, ours last")


def call_busy_no_input():
    fresh()
    SIM_.control("POST", "/_sim/callee", {"outcome": "busy"})
    status, _, _ = SIM_.call(call_body())
    check_eq(status, 201, "status")
    events = RECV.wait(lambda h: h["path"].endswith("/event"), 3)
    check_eq(json.loads(events[-1]["raw"])["status"], "busy", "busy")
    check(not [h for h in RECV.hits if h["path"].endswith("/input")],
          "no input posted")


def call_hangup_204():
    fresh()
    SIM_.control("POST", "/_sim/callee", {"delay_ms": 2000})
    _, _, body = SIM_.call(call_body())
    uuid = json.loads(body)["uuid"]
    status, _, _ = SIM_.request(
        "PUT", "/v1/calls/" + uuid, b'{"action":"hangup"}',
        {"Content-Type": "application/json",
         "Authorization": "Bearer " + SIM_.jwt()})
    check_eq(status, 204, "hangup")


def requests_recorded_and_reset():
    fresh()
    SIM_.sms()
    _, obj = SIM_.control("GET", "/_sim/requests")
    check_eq(len(obj["requests"]), 1, "one request")
    check("api_secret=" in obj["requests"][0]["body"], "body recorded")
    SIM_.control("POST", "/_sim/reset")
    _, obj = SIM_.control("GET", "/_sim/requests")
    check_eq(obj["requests"], [], "reset")


def refused_then_back():
    fresh()
    SIM_.control("POST", "/_sim/refuse", {"ms": 800})
    time.sleep(0.4)  # the listener closes on the simulator's next tick
    try:
        socket.create_connection(("127.0.0.1", SIM_.port), timeout=1).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    check(refused, "connection refused while closed")
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", SIM_.port), 1).close()
            return
        except ConnectionRefusedError:
            time.sleep(0.1)
    raise AssertionError("listener did not come back")


CASES = [sms_accepted_receipt_signed, sms_bad_credentials_status_4,
         sms_number_with_plus_status_3, sms_missing_from_status_2,
         sms_sig_and_secret_status_32, sms_barred_and_deactivated_numbers,
         sms_long_text_several_parts, sms_throughput_limit_status_1,
         sms_failed_delivery_receipt, sms_fault_status_5_and_http_errors,
         sms_fault_hang_times_out, sms_fault_garbage_body,
         inbound_injected_signed_get, inbound_bad_signature_mode,
         call_without_token_401, call_invalid_body_400,
         call_keypress_acknowledged, call_busy_no_input, call_hangup_204,
         requests_recorded_and_reset, refused_then_back]


def main():
    global SIM_, RECV
    if shutil.which("openssl") is None:
        print("1..0 # SKIP the openssl command is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="vonage-sim-test.")
    RECV = Receiver()
    SIM_ = Sim(tmp)
    try:
        for case in CASES:
            run_case(case)
    finally:
        SIM_.stop()
        RECV.server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % tap_count)
    return 1 if tap_failed else 0


if __name__ == "__main__":
    sys.exit(main())
