#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Local Vonage SMS and Voice API simulator for critgate's tests.

It serves POST /sms/json and the Voice API's /v1/calls on one loopback port,
checks api_key/api_secret and the RS256 JWT, returns Vonage's JSON shapes
and status codes, and then plays the provider side: signed delivery
receipts, call events, a scripted callee that runs the NCCO and presses a
digit, and inbound SMS injection. Test-only control endpoints live under
/_sim (no auth). Standard library only. Run with --help for the options.

Control endpoints (JSON bodies):
  GET  /_sim/requests, /_sim/webhooks  ?count=N&timeout_ms=T waits for N
  POST /_sim/reset                     forget everything, default settings
  POST|GET|DELETE /_sim/faults         rules {method, path_suffix, count,
       probability, action: {status 429/5xx, body vonage|empty|html|garbage,
       retry_after, retry_after_date_s, hang, delay_ms, trickle_ms, close,
       sms_status N, no_callbacks, process}}
  POST /_sim/config                    webhook_method GET|POST|JSON,
       sms_signing, voice_signing, webhook_signature bad|none|stale|alg_none,
       dlr_url, inbound_url, dlr_status, dlr_err_code, dlr_delay_ms,
       no_callbacks, sms_per_second, duplicate_webhooks, out_of_order,
       retry_on_5xx, deliver_to
  POST /_sim/numbers {number, barred, status, dlr_status, err_code, callee}
  POST /_sim/callee  {outcome answer|human|machine|busy|unanswered|timeout|
       failed|rejected|cancelled, digits, delay_ms, hangup_during_talk}
  POST /_sim/inbound {msisdn, text, to, messageId, url, method, parts,
       reverse}                        parts > 1 splits text into that many
       webhooks with concat, concat-ref, concat-total and concat-part
       (last part first with reverse)
  POST /_sim/refuse  {ms}              close the listener for ms
  GET  /_sim/messages, /_sim/calls
"""

import argparse
import base64
import datetime
import email.utils
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

MAX_BODY = 1024 * 1024
MAX_RECORDED_BODY = 64 * 1024
HANG_LIMIT_S = 60.0
CALL_LIMIT_S = 120.0
MAX_NCCO_DOCUMENTS = 10
WAIT_LIMIT_S = 30.0
JWT_SKEW_S = 300
JWT_DEFAULT_LIFETIME_S = 900
JWT_MAX_LIFETIME_S = 86400
GSM7_PART = 153          # characters per part of a multi-part GSM-7 text
UCS2_PART = 67
LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"}

# SMS API statuses the simulator can return, with Vonage's error-text.
SMS_ERRORS = {
    1: "Throughput Rate Exceeded - please wait [ 1000 ] and retry",
    2: "Missing to param",
    3: "Invalid to address",
    4: "Bad Credentials",
    5: "Internal Error",
    6: "Unroutable message - rejected",
    7: "Number barred.",
    8: "Partner account barred.",
    9: "Partner quota violation (0.03330000)",
    10: "Too many existing binds",
    11: "Account not enabled for HTTP",
    12: "Message too long",
    14: "Invalid signature",
    15: "Illegal Sender Address - rejected",
    22: "Invalid network code",
    23: "Invalid callback url",
    29: "Non White-listed Destination - rejected",
    32: "Signature and api secret disallowed",
    33: "Number de-activated",
}

# SHA-256 DigestInfo prefix of an EMSA-PKCS1-v1_5 block (RFC 8017 9.2).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
RSA_OID = bytes.fromhex("2a864886f70d010101")


# ------------------------------------------------------------ encodings


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def der_read(data, pos):
    """Return (tag, value, next position) of the DER element at pos."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7f
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + length], pos + length


def der_sequence(data):
    items, pos = [], 0
    while pos < len(data):
        tag, value, pos = der_read(data, pos)
        items.append((tag, value))
    return items


def rsa_public_key(pem):
    """Return (n, e) of an RSA public key in SPKI or PKCS#1 PEM form."""
    lines = [line.strip() for line in pem.strip().splitlines()]
    if not lines or not lines[0].startswith("-----BEGIN"):
        raise ValueError("not a PEM public key")
    der = base64.b64decode("".join(l for l in lines if not l.startswith("-")))
    tag, body, _ = der_read(der, 0)
    items = der_sequence(body)
    if "RSA PUBLIC KEY" not in lines[0]:
        algorithm = der_sequence(items[0][1])
        if algorithm[0][1] != RSA_OID:
            raise ValueError("public key is not RSA")
        _, body, _ = der_read(items[1][1][1:], 0)
        items = der_sequence(body)
    return (int.from_bytes(items[0][1], "big"),
            int.from_bytes(items[1][1], "big"))


def rs256_is_valid(key, signing_input, signature):
    n, e = key
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    block = pow(int.from_bytes(signature, "big"), e, n).to_bytes(size, "big")
    digest = SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    padding = b"\xff" * (size - len(digest) - 3)
    return hmac.compare_digest(block, b"\x00\x01" + padding + b"\x00" +
                               digest)


def hs256_token(secret, claims, alg="HS256"):
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"},
                               separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = (header + "." + payload).encode("ascii")
    if alg == "none":
        return header + "." + payload + "."
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return header + "." + payload + "." + b64url(sig)


def sms_signing_string(pairs):
    text = ""
    for name, value in sorted(p for p in pairs if p[0] != "sig"):
        text += "&%s=%s" % (name, value.replace("&", "_").replace("=", "_"))
    return text


def sms_signature(method, secret, pairs):
    text = sms_signing_string(pairs)
    if method == "md5hash":
        return hashlib.md5((text + secret).encode("utf-8")).hexdigest()
    return hmac.new(secret.encode(), text.encode("utf-8"),
                    getattr(hashlib, method)).hexdigest().upper()


def is_gsm7(text):
    return all(ord(c) < 128 and c != "`" for c in text)


def split_parts(text, unicode_type):
    """Split text as Vonage does: one part, or parts of 153/67 chars."""
    limit = 70 if unicode_type or not is_gsm7(text) else 160
    if len(text) <= limit:
        return [text]
    size = UCS2_PART if limit == 70 else GSM7_PART
    return [text[i:i + size] for i in range(0, len(text), size)]


def utc_now(fmt="%Y-%m-%d %H:%M:%S", offset_s=0.0):
    when = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=offset_s)
    return when.strftime(fmt)


def iso_now():
    return utc_now("%Y-%m-%dT%H:%M:%S.000Z")


def parse_body(headers, raw):
    """Return the request's parameters as (pairs, error)."""
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    text = raw.decode("utf-8", errors="replace")
    if ctype == "application/json":
        try:
            obj = json.loads(text)
        except ValueError:
            return None, "invalid JSON body"
        if not isinstance(obj, dict):
            return None, "JSON body is not an object"
        return [(k, str(v)) for k, v in obj.items()], None
    if ctype in ("application/x-www-form-urlencoded", ""):
        return urllib.parse.parse_qsl(text, keep_blank_values=True), None
    return None, "unsupported content type %s" % ctype


# ----------------------------------------------------------------- state


class Logger:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def log(self, text):
        if not self.path:
            return
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write("%s vonage-sim: %s\n" % (utc_now(), text))


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.stop = threading.Event()
        self.logger = Logger(args.log)
        self.public_key = None
        if args.public_key:
            with open(args.public_key, encoding="ascii") as src:
                self.public_key = rsa_public_key(src.read())
        self.refuse_ms = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.generation = getattr(self, "generation", 0) + 1
            self.requests, self.webhooks, self.faults = [], [], []
            self.messages, self.calls, self.numbers = {}, {}, {}
            self.jtis = set()
            self.callee = {"outcome": "answer", "digits": "1",
                           "delay_ms": 20}
            self.config = {
                "webhook_method": self.args.webhook_method,
                "sms_signing": self.args.sms_signing,
                "voice_signing": True, "deliver_to": None,
                "dlr_url": self.args.dlr_url,
                "inbound_url": self.args.inbound_url,
                "dlr_status": "delivered", "dlr_err_code": "0",
                "dlr_delay_ms": 20, "no_callbacks": False,
                "sms_per_second": None, "duplicate_webhooks": 0,
                "out_of_order": False, "webhook_signature": None,
                "retry_on_5xx": 0,
            }
            self.bucket = [None, time.monotonic()]
            self.fault_rng = random.Random(self.args.seed)
            self.changed.notify_all()

    def take_sms_token(self):
        rate = self.config.get("sms_per_second")
        if not rate:
            return True
        with self.lock:
            now = time.monotonic()
            level = self.bucket[0]
            if level is None:
                level = float(rate)
            level = min(float(rate), level + (now - self.bucket[1]) *
                        float(rate))
            self.bucket[1] = now
            if level < 1.0:
                self.bucket[0] = level
                return False
            self.bucket[0] = level - 1.0
            return True

    def start_worker(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()

    def sleep_ms(self, ms):
        self.stop.wait(min(max(0, ms), HANG_LIMIT_S * 1000) / 1000.0)


# ------------------------------------------------------------- webhooks


def connect_target(state, parsed):
    """Return (host, port) to connect to; only loopback is ever contacted."""
    deliver_to = state.config.get("deliver_to")
    if deliver_to:
        host, _, port = deliver_to.rpartition(":")
        return LOOPBACK_HOSTS[host], int(port)
    host = (parsed.hostname or "").lower()
    if host not in LOOPBACK_HOSTS or parsed.scheme != "http":
        raise ValueError("%s is not a loopback http URL and deliver_to is "
                         "unset" % parsed.geturl())
    return LOOPBACK_HOSTS[host], parsed.port or 80


def send_once(target, method, path, headers, body):
    """Send one request; return (status, content_type, text, failure)."""
    conn = http.client.HTTPConnection(target[0], target[1], timeout=5.0)
    try:
        try:
            conn.connect()
        except OSError as exc:
            return None, None, None, "connect: %s" % exc
        conn.sock.settimeout(15.0)
        try:
            conn.putrequest(method, path, skip_host=True,
                            skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(body)
            response = conn.getresponse()
            data = response.read(MAX_RECORDED_BODY)
        except socket.timeout:
            return None, None, None, "timeout"
        except (OSError, http.client.HTTPException) as exc:
            return None, None, None, "error: %s" % exc
        return (response.status, response.getheader("Content-Type"),
                data.decode("utf-8", errors="replace"), None)
    finally:
        conn.close()


def voice_auth(state, body, mode):
    """Return the Authorization value of a voice webhook, or None."""
    if mode == "none" or not state.config.get("voice_signing"):
        return None
    iat = int(time.time()) - (JWT_SKEW_S + 60 if mode == "stale" else 0)
    claims = {"iat": iat, "jti": str(uuid.uuid4()), "iss": "Vonage",
              "payload_hash": hashlib.sha256(body).hexdigest(),
              "api_key": state.args.api_key,
              "application_id": state.args.application_id}
    secret = state.args.signature_secret
    if mode == "bad":
        secret += "-wrong"
    alg = "none" if mode == "alg_none" else "HS256"
    return "Bearer " + hs256_token(secret, claims, alg)


def sms_sign_pairs(state, pairs, mode):
    """Add timestamp, nonce and sig to SMS webhook pairs when signing."""
    if not state.config.get("sms_signing") or mode == "none":
        return pairs
    stamp = int(time.time()) - (JWT_SKEW_S + 60 if mode == "stale" else 0)
    pairs = pairs + [("timestamp", str(stamp)),
                     ("nonce", str(uuid.uuid4()))]
    secret = state.args.signature_secret + ("-wrong" if mode == "bad"
                                            else "")
    return pairs + [("sig", sms_signature(state.args.sms_sig_method, secret,
                                          pairs))]


def should_retry(kind, status, failure, retries_5xx_left):
    """Vonage retries NCCO webhooks on timeout, 429, 503 and 504."""
    if failure and failure.startswith("connect"):
        return True
    if kind in ("answer", "input"):
        return failure == "timeout" or status in (429, 503, 504)
    return status is not None and status >= 500 and retries_5xx_left > 0


def webhook_request(state, url, pairs, body_json, method, mode):
    """Return (send_url, http method, headers, body) of one webhook."""
    headers = [("User-Agent", "Vonage-sim/1.0"), ("Accept", "*/*")]
    if body_json is not None:
        body = json.dumps(body_json, separators=(",", ":")).encode()
        auth = voice_auth(state, body, mode)
        if auth:
            headers.append(("Authorization", auth))
        headers.append(("Content-Type", "application/json"))
        return url, method, headers, body
    pairs = sms_sign_pairs(state, pairs, mode)
    if method == "GET":
        joiner = "&" if "?" in url else "?"
        return url + joiner + urllib.parse.urlencode(pairs), "GET", \
            headers, None
    if method == "JSON":
        body = json.dumps(dict(pairs), separators=(",", ":")).encode()
        headers.append(("Content-Type", "application/json"))
    else:
        body = urllib.parse.urlencode(pairs).encode("ascii")
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    return url, "POST", headers, body


def webhook_params(parsed, body, headers):
    """Return the parameters a webhook carried, for assertions."""
    if body is None:
        return dict(urllib.parse.parse_qsl(parsed.query))
    if ("Content-Type", "application/json") in headers:
        return json.loads(body)
    return dict(urllib.parse.parse_qsl(body.decode()))


def deliver(state, kind, url, pairs=None, body_json=None, method="POST",
            links=None):
    """Send one webhook with Vonage's retries, and record the delivery."""
    generation = state.generation
    mode = state.config.get("webhook_signature")
    send_url, http_method, headers, body = webhook_request(
        state, url, pairs or [], body_json, method.upper(), mode)
    parsed = urllib.parse.urlsplit(send_url)
    path = (parsed.path or "/") + ("?" + parsed.query if parsed.query else "")
    headers.insert(0, ("Host", parsed.netloc))
    if body is not None:
        headers.append(("Content-Length", str(len(body))))
    record = {"kind": kind, "url": send_url, "method": http_method,
              "headers": dict(headers), "signature_mode": mode or "valid",
              "body": body.decode("utf-8") if body else None,
              "params": webhook_params(parsed, body, headers),
              "attempts": [], "status": None, "response": None,
              "content_type": None, "error": None}
    record.update(links or {})
    try:
        target = connect_target(state, parsed)
    except (ValueError, KeyError) as exc:
        record["error"] = "not sent: %s" % exc
        target = None
    retries_left = 2
    retries_5xx_left = int(state.config.get("retry_on_5xx") or 0)
    while target is not None and not state.stop.is_set():
        status, ctype, text, failure = send_once(target, http_method, path,
                                                 headers, body)
        record["attempts"].append({"status": status, "error": failure})
        record.update(status=status, content_type=ctype, response=text,
                      error=failure)
        if retries_left == 0 or not should_retry(kind, status, failure,
                                                 retries_5xx_left):
            break
        retries_left -= 1
        if status is not None and status >= 500:
            retries_5xx_left -= 1
        state.sleep_ms(50)
    with state.changed:
        if generation == state.generation:
            record["id"] = len(state.webhooks) + 1
            state.webhooks.append(record)
            state.changed.notify_all()
    state.logger.log("webhook kind=%s status=%s attempts=%d%s" % (
        kind, record["status"], len(record["attempts"]),
        " error=" + record["error"] if record["error"] else ""))
    return record


def deliver_copies(state, kind, url, pairs=None, body_json=None,
                   method="POST", links=None):
    """Deliver a webhook plus the configured duplicates (same messageId)."""
    copies = max(0, min(5, int(state.config.get("duplicate_webhooks") or 0)))
    record = deliver(state, kind, url, pairs, body_json, method, links)
    for _ in range(copies):
        deliver(state, kind, url, pairs, body_json, method, links)
    return record


# -------------------------------------------------------------- SMS flow


def number_rule(state, number):
    with state.lock:
        return dict(state.numbers.get(number, {}))


def sms_entry_status(state, params, keyed):
    """Return the status code for a request, 0 when it is accepted."""
    args = state.args
    if "sig" in params and "api_secret" in params:
        return 32
    if params.get("api_key") != args.api_key:
        return 4
    if "sig" in params:
        if not keyed:
            return 14
    elif params.get("api_secret") != args.api_secret:
        return 4
    for name in ("from", "to"):
        if not params.get(name):
            return 2
    if "text" not in params and params.get("type", "text") in (
            "text", "unicode"):
        return 2
    to = params["to"]
    if not (to.isdigit() and 7 <= len(to) <= 15):
        return 3
    if params.get("type", "text") not in ("text", "unicode", "binary"):
        return 3
    rule = number_rule(state, to)
    if rule.get("status"):
        return int(rule["status"])
    if rule.get("barred"):
        return 7
    if len(params.get("text", "")) > 3200:
        return 12
    if not state.take_sms_token():
        return 1
    return 0


def sms_sig_is_valid(state, pairs):
    params = dict(pairs)
    if not args_have_secret(state) or "timestamp" not in params:
        return False
    want = sms_signature(state.args.sms_sig_method,
                         state.args.signature_secret, pairs)
    return hmac.compare_digest(want.lower(), params["sig"].lower())


def args_have_secret(state):
    return bool(state.args.signature_secret)


def sms_accept(state, params, forced_status):
    """Return the messages[] entries and the accepted message records."""
    status = forced_status if forced_status is not None else \
        sms_entry_status(state, params, params.get("_keyed") == "1")
    if status != 0:
        return [{"status": str(status),
                 "error-text": SMS_ERRORS.get(status, "Error")}], []
    parts = split_parts(params.get("text", ""),
                        params.get("type") == "unicode")
    entries, messages = [], []
    for index, _ in enumerate(parts):
        msg_id = uuid.uuid4().hex[:16].upper()
        entry = {"to": params["to"], "message-id": msg_id, "status": "0",
                 "remaining-balance": "3.14159265",
                 "message-price": "0.03330000", "network": "12345"}
        if params.get("client-ref"):
            entry["client-ref"] = params["client-ref"][:40]
        entries.append(entry)
        messages.append({"message_id": msg_id, "to": params["to"],
                         "from": params["from"], "part": index + 1,
                         "parts": len(parts),
                         "client_ref": params.get("client-ref"),
                         "callback": params.get("callback"),
                         "report": params.get("status-report-req",
                                              "true") != "false",
                         "text": parts[index], "status": "submitted"})
    return entries, messages


def dlr_pairs(state, msg, status, err_code):
    pairs = [("msisdn", msg["to"]), ("to", msg["from"]),
             ("network-code", "12345"), ("messageId", msg["message_id"]),
             ("price", "0.03330000"), ("status", status),
             ("scts", utc_now("%y%m%d%H%M")), ("err-code", err_code),
             ("api-key", state.args.api_key),
             ("message-timestamp", utc_now())]
    if msg.get("client_ref"):
        pairs.append(("client-ref", msg["client_ref"]))
    return pairs


def run_receipts(state, msg):
    """Send the delivery receipt(s) of one accepted message part."""
    rule = number_rule(state, msg["to"])
    url = msg.get("callback") or state.config.get("dlr_url")
    if not url or not msg["report"] or state.config.get("no_callbacks"):
        return
    final = rule.get("dlr_status") or state.config.get("dlr_status")
    err = str(rule.get("err_code", state.config.get("dlr_err_code")))
    if final != "delivered" and err == "0":
        err = "1"
    steps = [("accepted", "0"), (final, err)]
    if state.config.get("out_of_order"):
        steps.reverse()
    for status, code in steps:
        state.sleep_ms(int(state.config.get("dlr_delay_ms") or 0))
        with state.lock:
            msg["status"] = status
        deliver_copies(state, "dlr", url, dlr_pairs(state, msg, status, code),
                       method=state.config.get("webhook_method") or "POST",
                       links={"message_id": msg["message_id"]})


# ------------------------------------------------------------ voice flow


def check_jwt(state, auth):
    """Return None when the Bearer RS256 JWT is valid, else the reason."""
    if not auth or not auth.startswith("Bearer "):
        return "missing Bearer token"
    parts = auth[7:].strip().split(".")
    if len(parts) != 3:
        return "token is not three parts"
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except (ValueError, TypeError):
        return "token is not base64url JSON"
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        return "alg is not RS256"
    if state.public_key is None:
        return "no public key configured"
    if not rs256_is_valid(state.public_key, (parts[0] + "." + parts[1])
                          .encode("ascii"), sig):
        return "signature does not verify"
    return check_claims(state, claims)


def check_claims(state, claims):
    now = time.time()
    if not isinstance(claims, dict) or \
            not isinstance(claims.get("iat"), int):
        return "iat missing"
    if claims.get("application_id") != state.args.application_id:
        return "application_id is not ours"
    if not claims.get("jti"):
        return "jti missing"
    exp = claims.get("exp", claims["iat"] + JWT_DEFAULT_LIFETIME_S)
    if not isinstance(exp, int) or exp <= now or claims["iat"] > now + \
            JWT_SKEW_S or exp - claims["iat"] > JWT_MAX_LIFETIME_S:
        return "token expired or not yet valid"
    with state.lock:
        if claims["jti"] in state.jtis:
            return "jti reused"
        state.jtis.add(claims["jti"])
    return None


def problem(status, title, detail, kind="bad-request"):
    return status, {"type": "https://developer.nexmo.com/api-errors#" + kind,
                    "title": title, "detail": detail,
                    "instance": str(uuid.uuid4())}


def validate_call(body):
    """Return an error (status, obj) for a bad create-call body, or None."""
    to = body.get("to")
    if not isinstance(to, list) or not to or not isinstance(to[0], dict):
        return problem(400, "Bad Request", "to is missing")
    number = str(to[0].get("number", ""))
    if to[0].get("type") != "phone" or not number.isdigit() or \
            not 7 <= len(number) <= 15:
        return problem(400, "Bad Request", "to.number must be 7-15 digits")
    if ("ncco" in body) == ("answer_url" in body):
        return problem(400, "Bad Request", "exactly one of ncco and "
                       "answer_url is required")
    if "ncco" in body and not isinstance(body["ncco"], list):
        return problem(400, "Bad Request", "ncco must be an array")
    if ("from" in body) == bool(body.get("random_from_number")):
        return problem(400, "Bad Request", "give from or random_from_number")
    return None


def call_event(state, call, status, extra=None):
    url = (call["body"].get("event_url") or [state.config.get("event_url")])
    if not url[0] or state.config.get("no_callbacks"):
        return
    event = {"from": call["from"], "to": call["to"], "uuid": call["uuid"],
             "conversation_uuid": call["conversation_uuid"],
             "status": status, "direction": "outbound",
             "timestamp": iso_now()}
    event.update(extra or {})
    with state.lock:
        call["events"].append(status)
    deliver_copies(state, "event", url[0], body_json=event,
                   method=call["body"].get("event_method", "POST"),
                   links={"uuid": call["uuid"]})


def call_is_over(state, call, generation):
    return state.stop.is_set() or call.get("hungup") or \
        generation != state.generation or \
        time.monotonic() > call["deadline"]


def fetch_answer_ncco(state, call):
    body = call["body"]
    record = deliver(state, "answer", body["answer_url"][0], body_json={
        "to": call["to"], "from": call["from"], "uuid": call["uuid"],
        "conversation_uuid": call["conversation_uuid"]},
        method=body.get("answer_method", "POST"),
        links={"uuid": call["uuid"]})
    return ncco_from_record(record)


def ncco_from_record(record):
    """Return the NCCO a webhook returned, or None; note why in record."""
    error = None
    ncco = None
    ctype = (record.get("content_type") or "").split(";")[0].strip()
    if record.get("status") != 200:
        error = "status %s, expected 200" % record.get("status")
    elif ctype != "application/json":
        error = "content type %r, expected application/json" % ctype
    else:
        try:
            ncco = json.loads(record.get("response") or "")
        except ValueError as exc:
            error = "invalid JSON: %s" % exc
        if ncco is not None and not isinstance(ncco, list):
            error, ncco = "NCCO is not an array", None
    record["ncco_check"] = {"ok": error is None, "error": error}
    return ncco


def run_input(state, call, action):
    """Press the scripted digit; return the NCCO the input URL returned."""
    digits = call["script"].get("digits", "")
    max_digits = int((action.get("dtmf") or {}).get("maxDigits", 4))
    digits = digits[:max_digits]
    result = {"speech": {"results": []},
              "dtmf": {"digits": digits, "timed_out": digits == ""},
              "from": call["from"], "to": call["to"], "uuid": call["uuid"],
              "conversation_uuid": call["conversation_uuid"],
              "timestamp": iso_now()}
    urls = action.get("eventUrl") or call["body"].get("event_url") or []
    if not urls:
        return None
    record = deliver_copies(state, "input", urls[0], body_json=result,
                            method=action.get("eventMethod", "POST"),
                            links={"uuid": call["uuid"], "digits": digits})
    return ncco_from_record(record)


def run_ncco(state, call, ncco, generation):
    """Execute NCCO documents, following those input URLs return."""
    for _ in range(MAX_NCCO_DOCUMENTS):
        if ncco is None:
            return
        following = None
        for action in ncco:
            if call_is_over(state, call, generation):
                return
            with state.lock:
                call["actions"].append(action.get("action"))
            if action.get("action") == "talk" and \
                    call["script"].get("hangup_during_talk"):
                call["hungup"] = True
                return
            if action.get("action") == "input":
                following = run_input(state, call, action)
                break
            if action.get("action") == "hangup":
                return
        if following is None:
            return
        ncco = following


def run_call(state, call):
    generation = state.generation
    script = call["script"]
    outcome = script.get("outcome", "answer")
    state.sleep_ms(int(script.get("delay_ms", 20)))
    call_event(state, call, "started")
    call_event(state, call, "ringing")
    if outcome in ("busy", "unanswered", "timeout", "failed", "rejected",
                   "cancelled"):
        call_event(state, call, outcome)
        call["status"] = outcome
        return
    call_event(state, call, "answered", {"start_time": iso_now()})
    started = time.monotonic()
    detection = call["body"].get("machine_detection")
    if detection and outcome in ("machine", "human"):
        call_event(state, call, outcome, {"call_uuid": call["uuid"]})
        if outcome == "machine" and detection == "hangup":
            call["hungup"] = True
    if not call.get("hungup"):
        ncco = call["body"].get("ncco")
        if ncco is None:
            ncco = fetch_answer_ncco(state, call)
        run_ncco(state, call, ncco, generation)
    call["status"] = "completed"
    call_event(state, call, "completed", {
        "duration": str(max(1, int(time.monotonic() - started))),
        "price": "0.00450000", "rate": "0.01350000", "network": "12345",
        "start_time": iso_now(), "end_time": iso_now()})


# ------------------------------------------------------------------ faults


def validate_fault(rule):
    action = rule.get("action")
    if not isinstance(action, dict):
        raise ValueError("action must be an object")
    if action.get("status") is not None and \
            action["status"] not in (500, 502, 503, 504, 429, 200, 201):
        raise ValueError("status must be 500, 502, 503, 504, 429, 200 or "
                         "201")
    if action.get("body") not in (None, "vonage", "empty", "html",
                                  "garbage"):
        raise ValueError("body must be vonage, empty, html or garbage")
    known = ("status", "hang", "delay_ms", "close", "no_callbacks",
             "trickle_ms", "sms_status")
    if not any(action.get(k) is not None for k in known):
        raise ValueError("action needs one of: " + ", ".join(known))
    count = rule.get("count", 1)
    if count is not None and (not isinstance(count, int) or count < 1):
        raise ValueError("count must be a positive integer or null")
    prob = rule.get("probability")
    if prob is not None and not 0.0 <= float(prob) <= 1.0:
        raise ValueError("probability must be between 0 and 1")
    return {"method": rule.get("method"), "path_suffix":
            rule.get("path_suffix"), "count": count, "probability": prob,
            "action": action, "applied": 0}


def match_fault(state, method, path):
    with state.lock:
        for rule in state.faults:
            if rule["count"] is not None and rule["count"] <= 0:
                continue
            if rule["method"] and rule["method"].upper() != method:
                continue
            if rule["path_suffix"] and not path.endswith(rule["path_suffix"]):
                continue
            if rule["probability"] is not None and \
                    state.fault_rng.random() >= float(rule["probability"]):
                continue
            if rule["count"] is not None:
                rule["count"] -= 1
            rule["applied"] += 1
            return rule["action"]
    return None


def fault_processes_request(action):
    """Whether the request is carried out although the fault fires.

    429, 5xx and hang model a request that was not carried out unless the
    rule sets "process": true (an ambiguous 5xx); the others model a lost
    or mangled response to a request that was.
    """
    if "process" in action:
        return bool(action["process"])
    if action.get("hang"):
        return False
    return action.get("status") not in (429, 500, 502, 503, 504)


# ------------------------------------------------------------------ HTTP


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vonage-sim/1.0"

    def log_message(self, fmt, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def send_raw(self, status, body, ctype, headers=(), trickle_ms=0):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if trickle_ms:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                self.state.sleep_ms(trickle_ms)
        else:
            self.wfile.write(body)

    def send_json(self, status, obj, headers=(), ctype="application/json"):
        self.send_raw(status, json.dumps(obj).encode("utf-8"), ctype,
                      headers)

    def dispatch(self, method):
        path = urllib.parse.urlsplit(self.path).path
        try:
            raw = self.read_body()
        except ValueError:
            self.send_json(413, {"error": "body too large"})
            return
        if path.startswith("/_sim/"):
            self.handle_control(method, path, raw)
            return
        self.handle_api(method, path, raw)

    def handle_api(self, method, path, raw):
        state = self.state
        entry = {"method": method, "path": self.path,
                 "headers": dict(self.headers),
                 "body": raw[:MAX_RECORDED_BODY].decode("utf-8",
                                                        errors="replace"),
                 "time": time.time(), "status": None}
        with state.changed:
            state.requests.append(entry)
            state.changed.notify_all()
        action = match_fault(state, method, path) or {}
        if action:
            entry["fault"] = action
        if action.get("hang"):
            entry["status"] = "hang"
            self.hang()
            return
        if action.get("delay_ms"):
            state.sleep_ms(int(action["delay_ms"]))
        if action.get("status") in (429, 500, 502, 503, 504):
            self.send_fault_status(entry, action)
            if not fault_processes_request(action):
                return
            self.route(entry, method, path, raw, action, respond=False)
            return
        self.route(entry, method, path, raw, action, respond=True)

    def route(self, entry, method, path, raw, action, respond):
        if method == "POST" and path == "/sms/json":
            status, obj, after = self.sms_send(raw, action)
        elif method == "POST" and path == "/v1/calls":
            status, obj, after = self.call_create(raw, action)
        elif path.startswith("/v1/calls/") and method in ("PUT", "GET"):
            status, obj, after = self.call_update(method, path[10:], raw)
        else:
            status, obj, after = 404, {"type": "NOT_FOUND", "error_title":
                                       "Not Found"}, None
        if after is not None and not action.get("no_callbacks"):
            after()
        if respond:
            entry["status"] = status
            self.respond(status, obj, action)

    def respond(self, status, obj, action):
        body = b"" if obj is None else json.dumps(obj).encode("utf-8")
        ctype = None if obj is None else "application/json"
        if status >= 400 and obj is not None and "title" in obj:
            ctype = "application/problem+json"
        if action.get("body") == "garbage":
            body = b'{"message-count": "1", "messages": [{"sta'
        if action.get("close"):
            self.send_response(status)
            self.send_header("Content-Type", ctype or "application/json")
            self.send_header("Content-Length", str(len(body) or 10))
            self.end_headers()
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_raw(status, body, ctype, (),
                      int(action.get("trickle_ms") or 0))

    def send_fault_status(self, entry, action):
        status = action["status"]
        entry["status"] = status
        headers = []
        if status == 429:
            retry_after = action.get("retry_after")
            if action.get("retry_after_date_s") is not None:
                retry_after = email.utils.formatdate(
                    time.time() + float(action["retry_after_date_s"]),
                    usegmt=True)
            if retry_after is not None:
                headers.append(("Retry-After", str(retry_after)))
        kind = action.get("body", "vonage")
        if kind == "empty":
            self.send_raw(status, b"", None, headers)
        elif kind == "html":
            page = ("<html><body><h1>%d</h1>proxy</body></html>" %
                    status).encode("ascii")
            self.send_raw(status, page, "text/html", headers)
        else:
            _, obj = problem(status, http.client.responses.get(
                status, "Error"), "injected fault", "server-error")
            self.send_json(status, obj, headers, "application/problem+json")

    def hang(self):
        """Keep the connection open without responding, for up to 60 s."""
        deadline = time.monotonic() + HANG_LIMIT_S
        while time.monotonic() < deadline and not self.state.stop.is_set():
            ready, _, _ = select.select([self.connection], [], [], 0.2)
            if ready:
                try:
                    if self.connection.recv(4096) == b"":
                        break
                except OSError:
                    break
        self.close_connection = True

    # -- SMS API

    def sms_send(self, raw, action):
        state = self.state
        pairs, error = parse_body(self.headers, raw)
        if pairs is None:
            return 200, {"message-count": "1", "messages": [{
                "status": "2", "error-text": error}]}, None
        params = dict(pairs)
        if "sig" in params:
            params["_keyed"] = "1" if sms_sig_is_valid(state, pairs) else "0"
        forced = action.get("sms_status")
        entries, messages = sms_accept(
            state, params, int(forced) if forced is not None else None)
        with state.lock:
            for msg in messages:
                state.messages[msg["message_id"]] = msg
        state.logger.log("sms to=%s status=%s parts=%d" % (
            params.get("to"), entries[0]["status"], len(entries)))

        def after():
            for msg in messages:
                state.start_worker(run_receipts, state, msg)
        return 200, {"message-count": str(len(entries)),
                     "messages": entries}, after if messages else None

    # -- Voice API

    def call_create(self, raw, action):
        state = self.state
        reason = check_jwt(state, self.headers.get("Authorization"))
        if reason:
            state.logger.log("call rejected: %s" % reason)
            return problem(401, "Unauthorized", reason, "unauthorized") + \
                (None,)
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            return problem(400, "Bad Request", "invalid JSON") + (None,)
        if not isinstance(body, dict):
            return problem(400, "Bad Request", "body is not an object") + \
                (None,)
        error = validate_call(body)
        if error:
            return error + (None,)
        to = str(body["to"][0]["number"])
        with state.lock:
            script = dict(state.callee)
            script.update(state.numbers.get(to, {}).get("callee", {}))
        call = {"uuid": str(uuid.uuid4()),
                "conversation_uuid": "CON-" + str(uuid.uuid4()),
                "to": to, "from": str((body.get("from") or {})
                                      .get("number", "")),
                "body": body, "script": script, "status": "started",
                "events": [], "actions": [],
                "deadline": time.monotonic() + CALL_LIMIT_S}
        with state.lock:
            state.calls[call["uuid"]] = call
        obj = {"uuid": call["uuid"], "status": "started",
               "direction": "outbound",
               "conversation_uuid": call["conversation_uuid"]}
        return 201, obj, lambda: state.start_worker(run_call, state, call)

    def call_update(self, method, call_uuid, raw):
        state = self.state
        if check_jwt(state, self.headers.get("Authorization")):
            return problem(401, "Unauthorized", "invalid token",
                           "unauthorized") + (None,)
        with state.lock:
            call = state.calls.get(call_uuid)
        if call is None:
            return problem(404, "Not Found", "no call " + call_uuid,
                           "not-found") + (None,)
        if method == "GET":
            return 200, call_view(call), None
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("action") != "hangup":
            return problem(400, "Bad Request", "action must be hangup") + \
                (None,)
        call["hungup"] = True
        return 204, None, None

    # -- control API

    def handle_control(self, method, path, raw):
        try:
            data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            route = CONTROL_ROUTES.get((method, path))
            if route is None:
                self.send_json(404, {"error": "no control endpoint %s %s" %
                                     (method, path)})
                return
            status, obj = route(self, data)
        except (ValueError, KeyError, TypeError) as exc:
            status, obj = 400, {"error": "invalid request: %s" % exc}
        self.state.logger.log("control %s %s status=%d" % (method, path,
                                                           status))
        self.send_json(status, obj)

    def query(self):
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
            self.path).query))

    def wait_count(self, name):
        """Wait until ?count=N items exist (at most ?timeout_ms)."""
        query = self.query()
        count = int(query.get("count", 0))
        timeout = min(float(query.get("timeout_ms", 0)) / 1000.0,
                      WAIT_LIMIT_S)
        deadline = time.monotonic() + timeout
        with self.state.changed:
            while len(getattr(self.state, name)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.state.changed.wait(left)
            return list(getattr(self.state, name))

    def ctl_requests(self, data):
        return 200, {"requests": self.wait_count("requests")}

    def ctl_webhooks(self, data):
        return 200, {"webhooks": self.wait_count("webhooks")}

    def ctl_reset(self, data):
        self.state.reset()
        return 200, {"reset": True}

    def ctl_add_fault(self, data):
        rule = validate_fault(data)
        with self.state.lock:
            self.state.faults.append(rule)
        return 201, {"faults": len(self.state.faults)}

    def ctl_list_faults(self, data):
        with self.state.lock:
            return 200, {"faults": list(self.state.faults)}

    def ctl_clear_faults(self, data):
        with self.state.lock:
            self.state.faults = []
        return 200, {"faults": 0}

    def ctl_config(self, data):
        state = self.state
        unknown = set(data) - set(state.config)
        if unknown:
            raise ValueError("unknown settings: " + ", ".join(sorted(unknown)))
        with state.lock:
            state.config.update(data)
        return 200, dict(state.config)

    def ctl_get_config(self, data):
        return 200, dict(self.state.config)

    def ctl_numbers(self, data):
        number = str(data.pop("number"))
        if not number.isdigit():
            raise ValueError("number must be digits without +")
        with self.state.lock:
            self.state.numbers.setdefault(number, {}).update(data)
        return 200, {"number": number, "rule": self.state.numbers[number]}

    def ctl_callee(self, data):
        if data.get("outcome", "answer") not in (
                "answer", "human", "machine", "busy", "unanswered",
                "timeout", "failed", "rejected", "cancelled"):
            raise ValueError("unknown outcome")
        with self.state.lock:
            self.state.callee.update(data)
            return 200, dict(self.state.callee)

    def ctl_messages(self, data):
        with self.state.lock:
            return 200, {"messages": list(self.state.messages.values())}

    def ctl_calls(self, data):
        with self.state.lock:
            return 200, {"calls": [call_view(c) for c in
                                   self.state.calls.values()]}

    def ctl_inbound(self, data):
        state = self.state
        url = data.get("url") or state.config.get("inbound_url")
        if not url:
            raise ValueError("no url and no inbound_url configured")
        text = str(data.get("text", ""))
        parts = int(data.get("parts") or 1)
        if not 1 <= parts <= min(255, max(1, len(text))):
            raise ValueError("parts must be between 1 and the text's "
                             "length (255 at most)")
        size = -(-len(text) // parts)
        chunks = [text[i:i + size] for i in range(0, len(text), size)] \
            or [""]
        ref = format(random.randrange(256), "02X")
        order = list(range(len(chunks)))
        if data.get("reverse"):
            order.reverse()
        method = data.get("method") or state.config.get("webhook_method")
        records = []
        for i in order:
            chunk = chunks[i]
            pairs = [("msisdn", str(data["msisdn"])),
                     ("to", str(data.get("to") or state.args.our_number)),
                     ("messageId", str(data.get("messageId") or
                                       uuid.uuid4().hex[:16].upper())
                      if len(chunks) == 1 else
                      uuid.uuid4().hex[:16].upper()),
                     ("text", chunk),
                     ("type", "text" if is_gsm7(chunk) else "unicode"),
                     ("keyword", (chunk.split() or [""])[0].upper()),
                     ("api-key", state.args.api_key),
                     ("message-timestamp", utc_now())]
            if len(chunks) > 1:
                pairs += [("concat", "true"), ("concat-ref", ref),
                          ("concat-total", str(len(chunks))),
                          ("concat-part", str(i + 1))]
            records.append(deliver_copies(state, "inbound", url, pairs,
                                          method=method or "POST"))
        return 200, records[0] if len(records) == 1 else records

    def ctl_refuse(self, data):
        """Close the listener for ms milliseconds (connection refused)."""
        self.state.refuse_ms = max(1, min(int(data.get("ms", 1000)), 30000))
        return 200, {"refuse_ms": self.state.refuse_ms}


def call_view(call):
    return {k: call.get(k) for k in ("uuid", "conversation_uuid", "to",
                                     "from", "status", "events", "actions",
                                     "hungup")}


CONTROL_ROUTES = {
    ("GET", "/_sim/requests"): Handler.ctl_requests,
    ("GET", "/_sim/webhooks"): Handler.ctl_webhooks,
    ("POST", "/_sim/reset"): Handler.ctl_reset,
    ("POST", "/_sim/faults"): Handler.ctl_add_fault,
    ("GET", "/_sim/faults"): Handler.ctl_list_faults,
    ("DELETE", "/_sim/faults"): Handler.ctl_clear_faults,
    ("POST", "/_sim/config"): Handler.ctl_config,
    ("GET", "/_sim/config"): Handler.ctl_get_config,
    ("POST", "/_sim/numbers"): Handler.ctl_numbers,
    ("POST", "/_sim/callee"): Handler.ctl_callee,
    ("GET", "/_sim/messages"): Handler.ctl_messages,
    ("GET", "/_sim/calls"): Handler.ctl_calls,
    ("POST", "/_sim/inbound"): Handler.ctl_inbound,
    ("POST", "/_sim/refuse"): Handler.ctl_refuse,
}


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Vonage SMS and Voice API simulator (127.0.0.1 only)")
    parser.add_argument("--api-key", default="abcd1234",
                        help="api_key requests must carry")
    parser.add_argument("--api-secret", default="test_api_secret_01",
                        help="api_secret SMS requests must carry")
    parser.add_argument("--application-id",
                        default="aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
                        help="application_id the Voice JWT must name")
    parser.add_argument("--public-key", help="PEM file of the application's "
                        "RSA public key; without it every call gets 401")
    parser.add_argument("--signature-secret",
                        default="test_signature_secret_0123456789",
                        help="secret that signs webhooks (sig and HS256 JWT)")
    parser.add_argument("--sms-sig-method", default="md5hash",
                        choices=["md5hash", "md5", "sha1", "sha256",
                                 "sha512"],
                        help="how SMS webhooks are signed")
    parser.add_argument("--sms-signing", action="store_true",
                        help="sign SMS webhooks with sig")
    parser.add_argument("--webhook-method", default="POST",
                        choices=["GET", "POST", "JSON"],
                        help="how SMS webhooks are sent")
    parser.add_argument("--dlr-url", help="default delivery receipt URL")
    parser.add_argument("--inbound-url", help="default inbound SMS URL")
    parser.add_argument("--our-number", default="15550100009",
                        help="our Vonage number, digits only")
    parser.add_argument("--port", type=int, default=0,
                        help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--port-file", help="file that receives the port")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed for probabilistic fault rules")
    parser.add_argument("--log", help="append log lines to this file")
    return parser.parse_args(argv)


def serve(server):
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    return thread


def main(argv):
    args = parse_args(argv)
    state = State(args)
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = state
    port = server.server_address[1]
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
    serve(server)
    if args.port_file:
        with open(args.port_file + ".tmp", "w", encoding="ascii") as out:
            out.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    print("vonage-sim: listening port=%d" % port, flush=True)
    state.logger.log("start port=%d" % port)
    while not stopping.wait(0.1):
        if state.refuse_ms:
            server.shutdown()
            server.server_close()
            stopping.wait(state.refuse_ms / 1000.0)
            state.refuse_ms = 0
            server = Server(("127.0.0.1", port), Handler)
            server.state = state
            serve(server)
    state.stop.set()
    server.shutdown()
    server.server_close()
    state.logger.log("stop port=%d" % port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
