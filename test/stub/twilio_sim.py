#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Local Twilio REST API simulator for critgate's tests and demo.

It serves the 2010-04-01 Messages and Calls resources on 127.0.0.1, returns
Twilio's JSON shapes and error codes, and afterwards plays the provider
side: signed status callbacks, a scripted callee that obeys the TwiML, and
inbound SMS injection. Test-only control endpoints live under /_sim (no auth).
Standard library only. Run with --help for the options, --selftest to check
the webhook signing against fixed vectors.
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
import math
import os
import random
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

API_VERSION = "2010-04-01"
API_PREFIX = "/2010-04-01/Accounts/"
MORE_INFO = "https://www.twilio.com/docs/errors/"
MAX_BODY = 1024 * 1024
MAX_RECORDED_BODY = 64 * 1024
MAX_WORKERS = 64
HANG_LIMIT_S = 60.0
CALL_LIMIT_S = 120.0
MAX_TWIML_DOCUMENTS = 10
CONTROL_WAIT_LIMIT_S = 30.0
LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1",
                  "::1": "::1"}

E164_RE = re.compile(r"^\+[1-9][0-9]{1,14}$")
ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")

# Twilio's default opt-out keywords, matched against the whole trimmed body.
OPT_OUT_KEYWORDS = {
    "STOP": "STOP", "STOPALL": "STOP", "STOP ALL": "STOP",
    "UNSUBSCRIBE": "STOP", "CANCEL": "STOP", "END": "STOP", "QUIT": "STOP",
    "OPTOUT": "STOP", "REVOKE": "STOP",
    "START": "START", "YES": "START", "UNSTOP": "START",
    "HELP": "HELP", "INFO": "HELP",
}

# Test-credential magic numbers: (field, number) -> (code, message).
MESSAGE_MAGIC = {
    ("From", "+15005550001"): (21212, "The 'From' number {v} is not a valid "
                               "phone number, shortcode, or alphanumeric "
                               "sender ID."),
    ("From", "+15005550007"): (21606, "The 'From' phone number provided ({v}) "
                               "is not a valid message-capable Twilio phone "
                               "number for this destination/account."),
    ("From", "+15005550008"): (21611, "This 'From' number has exceeded the "
                               "maximum number of queued messages."),
    ("To", "+15005550001"): (21211, "The 'To' number {v} is not a valid "
                             "phone number."),
    ("To", "+15005550002"): (21612, "The 'To' phone number: {v}, is not "
                             "currently reachable using the 'From' phone "
                             "number via SMS."),
    ("To", "+15005550003"): (21408, "Permission to send an SMS has not been "
                             "enabled for the region indicated by the 'To' "
                             "number: {v}."),
    ("To", "+15005550004"): (21610, "Attempt to send to unsubscribed "
                             "recipient"),
    ("To", "+15005550009"): (21614, "'To' number {v} is not a valid mobile "
                             "number"),
}
CALL_MAGIC = {
    ("From", "+15005550001"): (21212, "The source phone number provided, "
                               "{v}, is not valid."),
    ("To", "+15005550001"): (21211, "Invalid 'To' Phone Number: {v}"),
    ("To", "+15005550002"): (21214, "'To' phone number cannot be reached"),
    ("To", "+15005550003"): (21215, "Account not authorized to call {v}."),
    ("To", "+15005550004"): (21216, "Call blocked by Twilio blocklist"),
}

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = set("^{}\\[~]|€\f")

CALLEE_ACTIONS = ("press", "silent", "wait", "hangup", "machine", "busy",
                  "no-answer", "failed", "canceled")
FINAL_CALL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
MESSAGE_OUTCOMES = ("delivered", "undelivered", "failed")

DEFAULT_CONFIG = {
    "retry_on_5xx": 0,
    "event_delay_ms": 50,
    "duplicate_webhooks": 0,
    "duplicates_concurrent": False,
    "message_status_order": "normal",
    "deliver_to": None,
    "rate_limit_per_s": None,
    "rate_limit_burst": 1,
}

# Upper bounds that keep every scripted loop and delay finite.
CONFIG_LIMITS = {"retry_on_5xx": 5, "event_delay_ms": 60000,
                 "duplicate_webhooks": 5, "rate_limit_burst": 1000}
DELAY_LIMIT_MS = 600000


# ---------------------------------------------------------------- helpers


def rfc2822_now(offset_s=0.0):
    stamp = datetime.datetime.now(datetime.timezone.utc)
    stamp += datetime.timedelta(seconds=offset_s)
    return email.utils.format_datetime(stamp.replace(microsecond=0))


def http_date(offset_s=0.0):
    return email.utils.formatdate(time.time() + offset_s, usegmt=True)


def dlr_done_date():
    return time.strftime("%y%m%d%H%M", time.gmtime())


def is_e164(number):
    return bool(E164_RE.match(number))


def format_number(number):
    """Return the national display form Twilio uses for +1 numbers."""
    if re.match(r"^\+1[0-9]{10}$", number):
        return "(%s) %s-%s" % (number[2:5], number[5:8], number[8:])
    return number


def count_segments(body):
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in body):
        septets = sum(2 if ch in GSM7_EXTENDED else 1 for ch in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def parse_form(raw):
    """Decode an x-www-form-urlencoded body into (name, value) pairs.

    Order and repeated names are kept. Raises UnicodeDecodeError on bytes
    that are not UTF-8 after percent-decoding.
    """
    pairs = []
    text = raw.decode("ascii", errors="strict") if raw else ""
    for part in text.split("&"):
        if part == "":
            continue
        name, sep, value = part.partition("=")
        pairs.append((
            urllib.parse.unquote_plus(name, errors="strict"),
            urllib.parse.unquote_plus(value, errors="strict") if sep else ""))
    return pairs


def encode_form(pairs):
    return "&".join(urllib.parse.quote_plus(name) + "=" +
                    urllib.parse.quote_plus(value) for name, value in pairs)


def pairs_to_dict(pairs):
    out = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def signing_string(url, pairs):
    """Build the string Twilio signs: the URL, then sorted name+value pairs.

    Values of a repeated name are sorted too, and exact duplicate pairs are
    dropped. Python compares str by code point, which matches UTF-8 byte
    order.
    """
    parts = [url]
    for name, value in sorted(set(pairs)):
        parts.append(name)
        parts.append(value)
    return "".join(parts)


def compute_signature(token, url, pairs):
    mac = hmac.new(token.encode("utf-8"),
                   signing_string(url, pairs).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def new_sid(prefix, rng, lock):
    with lock:
        return prefix + "%032x" % rng.getrandbits(128)


class Logger:
    """Write one `twilio-sim: ...` line per event to stderr or a file."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.stream = open(path, "a", encoding="utf-8") if path else sys.stderr

    def log(self, text):
        with self.lock:
            self.stream.write("twilio-sim: " + text + "\n")
            self.stream.flush()


# ------------------------------------------------------------------ state


class Call:
    def __init__(self, resource, form, callee):
        self.resource = resource
        self.form = form
        self.callee = dict(callee)
        presses = callee.get("presses")
        if presses is None:
            presses = [callee.get("digits", "1")]
        self.presses = [str(p) for p in presses]
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + CALL_LIMIT_S
        self.wake = threading.Event()
        self.end_status = None
        self.sequence = 0
        self.answered_at = None
        self.answered_by = None
        self.last_gather = None
        self.gather_slot = None
        self.pending_slot = None
        self.errors = []
        self.gathers = []
        self.events = []

    def view(self):
        return {
            "sid": self.resource["sid"],
            "to": self.resource["to"],
            "from": self.resource["from"],
            "status": self.resource["status"],
            "callee": self.callee,
            "answered_by": self.answered_by,
            "events": list(self.events),
            "gathers": list(self.gathers),
            "errors": list(self.errors),
            "waiting_at_gather": self.gather_slot is not None,
        }


class GatherSlot:
    """Hand-off point between a call waiting at <Gather> and /_sim/gather."""

    def __init__(self):
        self.digits = None
        self.pressed = threading.Event()
        self.result = None
        self.done = threading.Event()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.stop = threading.Event()
        self.workers = threading.BoundedSemaphore(MAX_WORKERS)
        self.fault_rng = random.Random(args.seed)
        self.sid_rng = random.Random(None if args.seed is None
                                     else args.seed + 1)
        self.sid_lock = threading.Lock()
        self.logger = Logger(args.log)
        self.next_request_id = 1
        self.next_webhook_id = 1
        self.active_requests = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.generation = getattr(self, "generation", 0) + 1
            self.requests = []
            self.webhooks = []
            self.faults = []
            self.callees = {}
            self.numbers = {}
            self.messages = {}
            self.calls = {}
            self.config = dict(DEFAULT_CONFIG)
            self.config["sms_url"] = self.args.sms_url
            self.config["our_number"] = self.args.our_number
            self.rate_tokens = None
            self.rate_stamp = time.monotonic()
            for call in getattr(self, "calls_live", []):
                call.wake.set()
            self.calls_live = []
            self.changed.notify_all()

    def sid(self, prefix):
        return new_sid(prefix, self.sid_rng, self.sid_lock)

    def number(self, number):
        return self.numbers.setdefault(number, {"opted_out": False,
                                                "landline": False})

    def take_rate_token(self):
        """Return False when the configured request budget is spent."""
        with self.lock:
            rate = self.config["rate_limit_per_s"]
            if not rate:
                return True
            burst = max(1.0, float(self.config["rate_limit_burst"]))
            now = time.monotonic()
            if self.rate_tokens is None:
                self.rate_tokens = burst
            self.rate_tokens = min(burst, self.rate_tokens +
                                   (now - self.rate_stamp) * float(rate))
            self.rate_stamp = now
            if self.rate_tokens < 1.0:
                return False
            self.rate_tokens -= 1.0
            return True

    def start_worker(self, name, target, *args):
        """Run target on a daemon thread, bounded by MAX_WORKERS."""
        if not self.workers.acquire(timeout=5.0):
            self.logger.log("worker dropped name=%s reason=limit" % name)
            return

        def run():
            try:
                target(*args)
            except Exception as exc:  # keep the server alive; log the bug
                self.logger.log("worker failed name=%s error=%r" %
                                (name, exc))
            finally:
                self.workers.release()

        threading.Thread(target=run, name=name, daemon=True).start()

    def sleep_ms(self, ms, event=None):
        """Wait ms milliseconds; return True early when stopped or woken."""
        seconds = max(0.0, float(ms)) / 1000.0
        if event is None:
            return self.stop.wait(seconds)
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if event.wait(min(left, 0.2)) or self.stop.is_set():
                return True

    def wait_for(self, items_name, count, timeout_s):
        deadline = time.monotonic() + min(timeout_s, CONTROL_WAIT_LIMIT_S)
        with self.changed:
            while len(getattr(self, items_name)) < count:
                left = deadline - time.monotonic()
                if left <= 0 or self.stop.is_set():
                    break
                self.changed.wait(left)
            return list(getattr(self, items_name))


# --------------------------------------------------------------- webhooks


def parse_fragment_options(fragment):
    """Read Twilio's per-URL delivery overrides (#ct=..&rt=..&rc=..&rp=..)."""
    opts = {"ct": 5000, "rt": 15000, "rc": 1, "rp": "ct"}
    for name, value in urllib.parse.parse_qsl(fragment):
        if name in ("ct", "rt", "rc") and value.isdigit():
            opts[name] = int(value)
        elif name == "rp":
            opts["rp"] = value
    return opts


def connect_target(state, parsed):
    """Return (host, port, use_tls) to connect to, or raise ValueError.

    Only loopback addresses are ever contacted. The deliver_to setting sends
    every webhook to one local address while still signing the public URL.
    """
    deliver_to = state.config.get("deliver_to")
    if deliver_to:
        host, _, port = deliver_to.rpartition(":")
        return LOOPBACK_HOSTS[host.strip("[]")], int(port), False
    host = (parsed.hostname or "").lower()
    if host not in LOOPBACK_HOSTS:
        raise ValueError("host %s is not loopback and deliver_to is unset" %
                         host)
    tls = parsed.scheme == "https"
    return LOOPBACK_HOSTS[host], parsed.port or (443 if tls else 80), tls


def send_once(target, method, path, headers, body, opts):
    """POST or GET once; return (status, content_type, body, failure)."""
    host, port, tls = target
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, context=context,
                                           timeout=opts["ct"] / 1000.0)
    else:
        conn = http.client.HTTPConnection(host, port,
                                          timeout=opts["ct"] / 1000.0)
    try:
        try:
            conn.connect()
        except OSError as exc:
            return None, None, None, "connect: %s" % exc
        conn.sock.settimeout(opts["rt"] / 1000.0)
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


def should_retry(opts, status, failure, retries_5xx_left):
    policy = opts["rp"].split(",")
    if failure and failure.startswith("connect"):
        return "ct" in policy or "all" in policy
    if failure == "timeout":
        return "rt" in policy or "all" in policy
    if status is not None and status >= 500:
        return retries_5xx_left > 0 or "5xx" in policy or "all" in policy
    if status is not None and 400 <= status < 500:
        return "4xx" in policy or "all" in policy
    return False


def deliver(state, kind, url, pairs, method="POST", signature=None,
            sign_url=None, links=None, token=None):
    """Send one signed webhook, with retries, and record the delivery.

    signature is None (valid), "bad" (wrong key) or "none" (header left
    out). sign_url signs a different URL than the one called. Returns the
    recorded delivery.
    """
    generation = state.generation
    url, fragment = urllib.parse.urldefrag(url)
    opts = parse_fragment_options(fragment)
    method = (method or "POST").upper()
    if method == "GET":
        joiner = "&" if "?" in url else "?"
        send_url = url + (joiner + encode_form(pairs) if pairs else "")
        body, signed_pairs = None, []
    else:
        send_url = url
        body, signed_pairs = encode_form(pairs).encode("ascii"), pairs
    token_value = token or str(uuid.uuid4())
    key = state.args.auth_token
    if signature == "bad":
        key = key + "-wrong"
    sig = compute_signature(key, sign_url or send_url, signed_pairs)
    parsed = urllib.parse.urlsplit(send_url)
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    headers = [("Host", parsed.netloc),
               ("User-Agent", "TwilioProxy/1.1"),
               ("Accept", "*/*"),
               ("I-Twilio-Idempotency-Token", token_value)]
    if signature != "none":
        headers.append(("X-Twilio-Signature", sig))
    if body is not None:
        headers.append(("Content-Type",
                        "application/x-www-form-urlencoded; charset=utf-8"))
        headers.append(("Content-Length", str(len(body))))
    record = {
        "kind": kind, "url": send_url, "method": method,
        "params": pairs_to_dict(pairs), "pairs": [list(p) for p in pairs],
        "signature": None if signature == "none" else sig,
        "signature_mode": signature or "valid",
        "idempotency_token": token_value, "attempts": [],
        "status": None, "content_type": None, "body": None, "error": None,
        "time": time.time(),
    }
    record.update(links or {})
    try:
        target = connect_target(state, parsed)
    except (ValueError, KeyError) as exc:
        record["error"] = "not sent: %s" % exc
        target = None
    retries_left = opts["rc"]
    retries_5xx_left = int(state.config.get("retry_on_5xx") or 0)
    while target is not None and not state.stop.is_set():
        status, ctype, text, failure = send_once(target, method, path,
                                                 headers, body, opts)
        record["attempts"].append({"status": status, "error": failure})
        record.update(status=status, content_type=ctype, body=text,
                      error=failure)
        if not should_retry(opts, status, failure, retries_5xx_left):
            break
        if status is not None and status >= 500 and retries_5xx_left > 0:
            retries_5xx_left -= 1
        elif retries_left > 0:
            retries_left -= 1
        else:
            break
        state.sleep_ms(50)
    with state.changed:
        if generation == state.generation:
            record["id"] = state.next_webhook_id
            state.next_webhook_id += 1
            state.webhooks.append(record)
            state.changed.notify_all()
    state.logger.log("webhook kind=%s method=%s url=%s status=%s attempts=%d"
                     "%s" % (kind, method, send_url, record["status"],
                             len(record["attempts"]),
                             " error=" + record["error"]
                             if record["error"] else ""))
    return record


def deliver_copies(state, kind, url, pairs, method="POST", links=None):
    """Deliver a webhook plus the configured duplicates (same token)."""
    token = str(uuid.uuid4())
    copies = max(0, min(5, int(state.config.get("duplicate_webhooks") or 0)))
    if copies and state.config.get("duplicates_concurrent"):
        for _ in range(copies):
            state.start_worker("dup-" + kind, deliver, state, kind, url,
                               pairs, method, None, None, links, token)
        return deliver(state, kind, url, pairs, method, links=links,
                       token=token)
    record = deliver(state, kind, url, pairs, method, links=links,
                     token=token)
    for _ in range(copies):
        deliver(state, kind, url, pairs, method, links=links, token=token)
    return record


def check_twiml_response(record):
    """Check the TwiML a webhook returned: 200, XML type, <Response> root.

    Stores {"ok", "error"} in record["twiml_check"] and returns the parsed
    root, or None when the answer is not usable TwiML.
    """
    error = None
    root = None
    ctype = (record.get("content_type") or "").split(";")[0].strip().lower()
    if record.get("status") != 200:
        error = "status %s, expected 200" % record.get("status")
    elif ctype not in ("text/xml", "application/xml"):
        error = "content type %r, expected text/xml or application/xml" % \
            record.get("content_type")
    else:
        try:
            root = ET.fromstring(record.get("body") or "")
        except ET.ParseError as exc:
            error = "malformed XML: %s" % exc
        else:
            if root.tag != "Response":
                error = "root element <%s>, expected <Response>" % root.tag
                root = None
    record["twiml_check"] = {"ok": error is None, "error": error}
    return root


# ------------------------------------------------------------------ faults


def validate_fault(rule):
    action = rule.get("action")
    if not isinstance(action, dict):
        raise ValueError("action must be an object")
    if action.get("status") is not None and \
            action["status"] not in (500, 502, 503, 504, 429, 201):
        raise ValueError("status must be 500, 502, 503, 504, 429 or 201")
    if action.get("status") == 201 and action.get("body") != "garbage":
        raise ValueError("status 201 needs body \"garbage\"")
    if action.get("body") not in (None, "twilio", "empty", "html",
                                  "garbage"):
        raise ValueError("body must be twilio, empty, html or garbage")
    known = ("status", "hang", "delay_ms", "close", "accept_no_callbacks",
             "trickle_ms")
    if not any(action.get(k) for k in known):
        raise ValueError("action needs one of: " + ", ".join(known))
    count = rule.get("count", 1)
    if count is not None and (not isinstance(count, int) or count < 1):
        raise ValueError("count must be a positive integer or null")
    prob = rule.get("probability")
    if prob is not None and not 0.0 <= float(prob) <= 1.0:
        raise ValueError("probability must be between 0 and 1")
    return {"method": rule.get("method"), "path_suffix":
            rule.get("path_suffix"), "to": rule.get("to"), "count": count,
            "probability": prob, "action": action, "applied": 0}


def request_to(raw):
    """Return the To number of a form body, or None."""
    try:
        values = pairs_to_dict(parse_form(raw)).get("To")
    except UnicodeDecodeError:
        return None
    return values[-1] if values else None


def match_fault(state, method, path, to=None):
    """Return the action of the first live rule that fires, else None.

    A rule with "to" fires only for requests to that number.
    """
    with state.lock:
        for rule in state.faults:
            if rule["count"] is not None and rule["count"] <= 0:
                continue
            if rule["method"] and rule["method"].upper() != method:
                continue
            if rule["path_suffix"] and \
                    not path.endswith(rule["path_suffix"]):
                continue
            if rule["to"] and rule["to"] != to:
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
    """Whether the request is carried out despite the fault.

    429 and 5xx model a request that was not processed unless the rule sets
    "process": true (an ambiguous 5xx). Hang defaults to not processed.
    Garbage, close, delay and trickle model a lost or mangled response to a
    request that Twilio did carry out.
    """
    if "process" in action:
        return bool(action["process"])
    if action.get("hang"):
        return False
    return action.get("status") not in (429, 500, 502, 503, 504)


# ---------------------------------------------------------- message flow


def message_status_pairs(state, msg, status, outcome):
    pairs = [("MessageSid", msg["sid"]), ("SmsSid", msg["sid"]),
             ("MessageStatus", status), ("SmsStatus", status),
             ("AccountSid", msg["account_sid"]),
             ("From", msg["from"] or state.config["our_number"] or
              "+15005550006"),
             ("To", msg["to"]), ("ApiVersion", API_VERSION)]
    if msg["messaging_service_sid"]:
        pairs.append(("MessagingServiceSid", msg["messaging_service_sid"]))
    if status in ("failed", "undelivered"):
        pairs.append(("ErrorCode", str(outcome.get("error_code", 30003))))
    if status in ("delivered", "undelivered"):
        pairs.append(("RawDlrDoneDate", dlr_done_date()))
    return pairs


def run_message(state, msg, callback, outcome):
    """Move a message to its final status, posting each step to callback."""
    final = outcome.get("delivery", "delivered")
    steps = ["queued", "sent", final] if final != "failed" else \
        ["queued", "failed"]
    if state.config.get("message_status_order") == "reverse":
        steps.reverse()
    delay = state.config.get("event_delay_ms", 50)
    generation = state.generation
    for index, status in enumerate(steps):
        wait = delay
        if index == len(steps) - 1:
            wait += int(outcome.get("final_delay_ms", 0))
        if state.sleep_ms(wait) or generation != state.generation:
            return
        with state.lock:
            msg["status"] = status
            msg["date_updated"] = rfc2822_now()
            if status == "sent" and msg["date_sent"] is None:
                msg["date_sent"] = msg["date_updated"]
            if status in ("failed", "undelivered"):
                msg["error_code"] = int(outcome.get("error_code", 30003))
                msg["error_message"] = "Delivery failed"
        if callback:
            deliver_copies(state, "message-status", callback,
                           message_status_pairs(state, msg, status, outcome),
                           links={"message_sid": msg["sid"]})


# -------------------------------------------------------------- call flow


def country_of(number):
    return "US" if number.startswith("+1") else ""


def call_pairs(state, call, status):
    res = call.resource
    pairs = [("AccountSid", res["account_sid"]), ("ApiVersion", API_VERSION),
             ("CallSid", res["sid"]), ("CallStatus", status),
             ("Called", res["to"]), ("Caller", res["from"]),
             ("Direction", "outbound-api"), ("From", res["from"]),
             ("To", res["to"])]
    for prefix, number in (("From", res["from"]), ("To", res["to"]),
                           ("Caller", res["from"]), ("Called", res["to"])):
        if country_of(number):
            pairs.append((prefix + "Country", country_of(number)))
    if call.answered_by and not is_true(call.form.get("AsyncAmd")):
        pairs.append(("AnsweredBy", call.answered_by))
    return pairs


def is_true(values):
    return bool(values) and values[-1].lower() == "true"


def subscribed_events(form):
    events = set()
    for value in form.get("StatusCallbackEvent", []):
        events.update(v for v in re.split(r"[\s,]+", value) if v)
    return events or {"completed"}


def send_call_status(state, call, event, status):
    """Post a call progress event if the caller subscribed to it."""
    call.events.append({"event": event, "status": status,
                        "time": time.time()})
    url = (call.form.get("StatusCallback") or [None])[-1]
    if not url or event not in subscribed_events(call.form):
        return
    pairs = call_pairs(state, call, status)
    pairs += [("CallbackSource", "call-progress-events"),
              ("SequenceNumber", str(call.sequence)),
              ("Timestamp", rfc2822_now())]
    call.sequence += 1
    if event == "completed":
        duration = call_duration(call)
        pairs += [("CallDuration", str(duration)),
                  ("Duration", str(math.ceil(duration / 60)))]
        sip = {"busy": "486", "no-answer": "487", "failed": "500",
               "completed": "200"}.get(status)
        if sip:
            pairs.append(("SipResponseCode", sip))
    method = (call.form.get("StatusCallbackMethod") or ["POST"])[-1]
    deliver_copies(state, "call-status", url, pairs, method,
                   links={"call_sid": call.resource["sid"]})


def call_duration(call):
    if call.answered_at is None:
        return 0
    return max(1, math.ceil(time.monotonic() - call.answered_at))


def call_aborted(state, call, generation):
    return call.end_status is not None or state.stop.is_set() or \
        generation != state.generation or time.monotonic() > call.deadline


def finish_call(state, call, status):
    with state.lock:
        call.resource["status"] = status
        call.resource["end_time"] = rfc2822_now()
        call.resource["date_updated"] = call.resource["end_time"]
        call.resource["duration"] = str(call_duration(call))
        if call.answered_by:
            call.resource["answered_by"] = call.answered_by
        state.changed.notify_all()
    send_call_status(state, call, "completed", call.resource["status"])


def set_call_status(state, call, status):
    with state.lock:
        call.resource["status"] = status
        call.resource["date_updated"] = rfc2822_now()
        if status == "in-progress":
            call.resource["start_time"] = call.resource["date_updated"]


def answer_call(state, call):
    call.answered_at = time.monotonic()
    set_call_status(state, call, "in-progress")
    detection = (call.form.get("MachineDetection") or [None])[-1]
    if call.callee["action"] == "machine":
        call.answered_by = call.callee.get("answered_by", "machine_end_beep")
    elif detection:
        call.answered_by = call.callee.get("answered_by", "human")
    send_call_status(state, call, "answered", "in-progress")
    amd_url = (call.form.get("AsyncAmdStatusCallback") or [None])[-1]
    if detection and amd_url and is_true(call.form.get("AsyncAmd")):
        pairs = [("AccountSid", call.resource["account_sid"]),
                 ("AnsweredBy", call.answered_by),
                 ("CallSid", call.resource["sid"]),
                 ("MachineDetectionDuration", "2400")]
        method = (call.form.get("AsyncAmdStatusCallbackMethod") or
                  ["POST"])[-1]
        state.start_worker("amd", deliver, state, "amd", amd_url, pairs,
                           method, None, None,
                           {"call_sid": call.resource["sid"]})


def run_call(state, call):
    """Play the callee's script against the call's TwiML, bounded in time."""
    generation = state.generation
    delay = state.config.get("event_delay_ms", 50)
    action = call.callee["action"]
    steps = [("initiated", "initiated"), ("ringing", "ringing")]
    for event, status in steps:
        if state.sleep_ms(delay, call.wake) or \
                call_aborted(state, call, generation):
            break
        if status == "ringing":
            set_call_status(state, call, "ringing")
        send_call_status(state, call, event, status)
    if not call_aborted(state, call, generation) and \
            action in ("busy", "no-answer", "failed", "canceled"):
        state.sleep_ms(call.callee.get("delay_ms", delay), call.wake)
        if call.end_status is None:
            call.end_status = action
    if not call_aborted(state, call, generation):
        state.sleep_ms(delay, call.wake)
        if not call_aborted(state, call, generation):
            answer_call(state, call)
            run_twiml(state, call, generation)
    if generation != state.generation:
        return
    finish_call(state, call, call.end_status or "completed")


def twiml_for_call(state, call):
    """Return (root, base_url) for the call's first TwiML document.

    The root is None when the TwiML is unusable. Inline Twiml has no base
    URL, so its <Gather> needs an absolute action.
    """
    url = (call.form.get("Url") or [None])[-1]
    if url:
        method = (call.form.get("Method") or ["POST"])[-1]
        return fetch_twiml(state, call, "call-url", url, method), url
    return parse_twiml(call, (call.form.get("Twiml") or [None])[-1]), None


def parse_twiml(call, text):
    try:
        root = ET.fromstring(text or "")
    except ET.ParseError as exc:
        call.errors.append("TwiML parse failure: %s" % exc)
        return None
    if root.tag != "Response":
        call.errors.append("TwiML root <%s>, expected <Response>" % root.tag)
        return None
    return root


def fetch_twiml(state, call, kind, url, method):
    pairs = call_pairs(state, call, "in-progress")
    record = deliver(state, kind, url, pairs, method,
                     links={"call_sid": call.resource["sid"]})
    root = check_twiml_response(record)
    if root is None:
        call.errors.append("%s TwiML rejected: %s" %
                           (kind, record["twiml_check"]["error"]))
    return root


def run_twiml(state, call, generation):
    """Execute TwiML documents verb by verb until hangup or end."""
    if call.callee["action"] == "hangup":
        return
    root, base = twiml_for_call(state, call)
    documents = 0
    while root is not None and documents < MAX_TWIML_DOCUMENTS:
        documents += 1
        next_doc = None
        for verb in list(root):
            if call_aborted(state, call, generation):
                return
            if verb.tag == "Hangup" or verb.tag == "Reject":
                return
            if verb.tag == "Gather":
                next_doc = run_gather(state, call, verb, base)
            elif verb.tag == "Redirect":
                url = urllib.parse.urljoin(base or "", (verb.text or "")
                                           .strip())
                doc = fetch_twiml(state, call, "redirect", url,
                                  verb.get("method", "POST"))
                next_doc = (doc, url) if doc is not None else ("end", None)
            elif verb.tag not in ("Say", "Play", "Pause"):
                call.errors.append("unsupported verb <%s>" % verb.tag)
            if next_doc is not None:
                break
        if next_doc is None or next_doc[0] == "end":
            return
        root, base = next_doc
    if documents >= MAX_TWIML_DOCUMENTS:
        call.errors.append("stopped after %d TwiML documents" % documents)


def gather_digits(state, call, timeout_s):
    """Return the digits the callee presses at this <Gather>, or ""."""
    action = call.callee["action"]
    if action == "press" and call.presses:
        if state.sleep_ms(call.callee.get("delay_ms", 100), call.wake):
            return ""
        return call.presses.pop(0)
    if action != "wait":
        return ""
    slot = GatherSlot()
    with state.changed:
        call.gather_slot = slot
        state.changed.notify_all()
    deadline = time.monotonic() + min(max(timeout_s, 0.1), HANG_LIMIT_S)
    while not slot.pressed.is_set() and time.monotonic() < deadline and \
            call.end_status is None and not state.stop.is_set():
        slot.pressed.wait(0.1)
    call.gather_slot = None
    if not slot.pressed.is_set():
        slot.done.set()
        return ""
    call.pending_slot = slot
    return slot.digits or ""


def apply_gather_limits(digits, num_digits, finish_key):
    """Cut the key presses the way <Gather> does; return (digits, key)."""
    if finish_key:
        head, sep, _ = digits.partition(finish_key)
        if sep:
            return head, finish_key
    if num_digits and num_digits.isdigit() and int(num_digits) > 0:
        return digits[:int(num_digits)], ""
    return digits, ""


def run_gather(state, call, verb, base):
    """Collect keys and post them to the action; return the next document.

    Returns None to fall through to the next verb, ("end", None) to hang up,
    or (root, url) to continue with the TwiML the action returned.
    """
    action = verb.get("action")
    if action:
        action = urllib.parse.urljoin(base or "", action)
    elif base:
        action = base
    if not action or not urllib.parse.urlsplit(action).scheme:
        call.errors.append("<Gather> without an absolute action URL")
        return ("end", None)
    method = verb.get("method", "POST")
    call.last_gather = {"action": action, "method": method,
                        "numDigits": verb.get("numDigits"),
                        "finishOnKey": verb.get("finishOnKey", "#")}
    timeout = verb.get("timeout", "5")
    call.pending_slot = None
    pressed = gather_digits(state, call,
                            float(timeout) if timeout.isdigit() else 5.0)
    digits, key = apply_gather_limits(pressed, verb.get("numDigits"),
                                      verb.get("finishOnKey", "#"))
    slot = call.pending_slot
    if not digits and \
            verb.get("actionOnEmptyResult", "false").lower() != "true":
        if slot:
            slot.done.set()
        return None
    record, root = post_gather(state, call, action, method, digits, key)
    if slot:
        slot.result = record
        slot.done.set()
    if root is None:
        return ("end", None)
    return (root, action)


def post_gather(state, call, action, method, digits, key):
    pairs = call_pairs(state, call, "in-progress")
    pairs += [("Digits", digits), ("FinishedOnKey", key)]
    record = deliver(state, "gather", action, pairs, method,
                     links={"call_sid": call.resource["sid"]})
    root = check_twiml_response(record)
    call.gathers.append({"digits": digits, "url": record["url"],
                         "status": record["status"],
                         "twiml_check": record["twiml_check"]})
    if not record["twiml_check"]["ok"]:
        call.errors.append("gather answer rejected: %s" %
                           record["twiml_check"]["error"])
    return record, root


# ------------------------------------------------------------- resources


def message_resource(state, account, form, body):
    sid = state.sid("SM")
    now = rfc2822_now()
    service = (form.get("MessagingServiceSid") or [None])[-1]
    sender = (form.get("From") or [None])[-1]
    media = form.get("MediaUrl", [])
    base = "/2010-04-01/Accounts/%s/Messages/%s" % (account, sid)
    return {
        "account_sid": account, "api_version": API_VERSION, "body": body,
        "date_created": now, "date_sent": None, "date_updated": now,
        "direction": "outbound-api", "error_code": None,
        "error_message": None, "from": sender,
        "messaging_service_sid": service,
        "num_media": str(len(media)),
        "num_segments": "0" if sender is None else str(count_segments(body)),
        "price": None, "price_unit": "USD", "sid": sid,
        "status": "accepted" if sender is None else "queued",
        "subresource_uris": {"media": base + "/Media.json",
                             "feedback": base + "/Feedback.json"},
        "to": (form.get("To") or [""])[-1], "uri": base + ".json",
    }


def call_resource(state, account, form):
    sid = state.sid("CA")
    now = rfc2822_now()
    to = form["To"][-1]
    sender = form["From"][-1]
    base = "/2010-04-01/Accounts/%s/Calls/%s" % (account, sid)
    subresources = {name: "%s/%s.json" % (base, name) for name in
                    ("Notifications", "Recordings", "Payments", "Events",
                     "Siprec", "Streams", "UserDefinedMessageSubscriptions",
                     "UserDefinedMessages")}
    return {
        "account_sid": account, "annotation": None, "answered_by": None,
        "api_version": API_VERSION, "caller_name": None,
        "date_created": now, "date_updated": now, "direction":
        "outbound-api", "duration": None, "end_time": None,
        "forwarded_from": None, "from": sender,
        "from_formatted": format_number(sender), "group_sid": None,
        "parent_call_sid": None, "phone_number_sid": None, "price": None,
        "price_unit": "USD", "queue_time": "0", "sid": sid,
        "start_time": None, "status": "queued",
        "subresource_uris": subresources, "to": to,
        "to_formatted": format_number(to), "trunk_sid": None,
        "uri": base + ".json",
    }


class ApiError(Exception):
    def __init__(self, status, code, message, detail=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def body(self):
        out = {"code": self.code, "message": self.message,
               "more_info": MORE_INFO + str(self.code),
               "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        return out


def bad_request(code, message):
    return ApiError(400, code, message)


def check_callback_url(form, name):
    """Reject a callback URL Twilio would reject: not http(s) or underscore.

    NOTE: 21609 is the code Twilio documents for an invalid StatusCallback
    on Messages; the simulator reuses it for the Calls callbacks.
    """
    for url in form.get(name, []):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or \
                "_" in parts.hostname:
            raise bad_request(21609, "The StatusCallback URL %s is not a "
                              "valid URL." % url)


def validate_message(state, form):
    to = (form.get("To") or [""])[-1]
    sender = (form.get("From") or [""])[-1]
    body = (form.get("Body") or [None])[-1]
    if not to:
        raise bad_request(21604, "A 'To' phone number is required.")
    if not is_e164(to) or to == sender:
        raise bad_request(21211, "The 'To' number %s is not a valid phone "
                          "number." % to)
    if not sender and not (form.get("MessagingServiceSid") or [""])[-1]:
        raise bad_request(21603, "A 'From' phone number is required.")
    if body is None and not form.get("MediaUrl"):
        raise bad_request(21602, "Message body is required.")
    if body is not None and len(body) > 1600:
        raise bad_request(21617, "The concatenated message body exceeds "
                          "the 1600 character limit.")
    for field, value in (("From", sender), ("To", to)):
        magic = MESSAGE_MAGIC.get((field, value))
        if magic:
            raise bad_request(magic[0], magic[1].format(v=value))
    check_callback_url(form, "StatusCallback")
    with state.lock:
        info = state.numbers.get(to, {})
        if info.get("opted_out"):
            raise bad_request(21610, "Attempt to send to unsubscribed "
                              "recipient")
        if info.get("landline"):
            raise bad_request(21614, "'To' number %s is not a valid mobile "
                              "number" % to)
    return body or ""


def validate_call(form):
    to = (form.get("To") or [""])[-1]
    sender = (form.get("From") or [""])[-1]
    if not to:
        raise bad_request(21201, "No 'To' number is specified")
    if not sender:
        raise bad_request(21213, "No 'From' number is specified")

    if not (is_e164(to) or to.startswith(("client:", "sip:"))):
        raise bad_request(21211, "Invalid 'To' Phone Number: %s" % to)
    if not (is_e164(sender) or sender.startswith("client:")):
        raise bad_request(21212, "The source phone number provided, %s, is "
                          "not valid." % sender)
    for field, value in (("From", sender), ("To", to)):
        magic = CALL_MAGIC.get((field, value))
        if magic:
            raise bad_request(magic[0], magic[1].format(v=value))

    twiml = (form.get("Twiml") or [None])[-1]
    if not (form.get("Url") or [""])[-1] and not twiml:
        raise bad_request(21205, "Either a 'Url' or 'Twiml' parameter is "
                          "required.")
    if twiml is not None and not form.get("Url"):
        # NOTE: the codes for an over-long or unparsable inline Twiml are
        # the simulator's choice. Real Twilio may accept such a call and
        # fail it later with error 12100.
        if len(twiml) > 4000:
            raise bad_request(21205, "Twiml must be 4000 characters or "
                              "fewer.")
        try:
            root = ET.fromstring(twiml)
        except ET.ParseError as exc:
            raise bad_request(12100, "Document parse failure: %s" % exc)
        if root.tag != "Response":
            raise bad_request(12100, "Document parse failure: root element "
                              "is not <Response>")
    check_callback_url(form, "StatusCallback")
    check_callback_url(form, "AsyncAmdStatusCallback")


# ------------------------------------------------------------ HTTP server


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "twilio-sim/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def parse_request(self):
        # A request's time is when its first line arrived, before the
        # headers and body are read, so that the simulator's own Python
        # adds as little as it can to a measured delay.
        self.arrived_at = time.time()
        return super().parse_request()

    @property
    def state(self):
        return self.server.state

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    # -- plumbing

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        length = int(length)
        if length < 0 or length > MAX_BODY:
            raise ValueError("request body too large: %d bytes, max %d" %
                             (length, MAX_BODY))
        return self.rfile.read(length)

    def read_chunked(self):
        data = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return data
            data += self.rfile.read(size)
            self.rfile.readline()
            if len(data) > MAX_BODY:
                raise ValueError("request body too large: max %d bytes" %
                                 MAX_BODY)

    def send_raw(self, status, body, ctype, headers=(), trickle_ms=0):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if trickle_ms:
            self.wfile.flush()
            deadline = time.monotonic() + HANG_LIMIT_S
            for i in range(len(body)):
                if time.monotonic() > deadline or \
                        self.state.stop.wait(trickle_ms / 1000.0):
                    self.close_connection = True
                    return
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
        else:
            self.wfile.write(body)

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj, indent=None).encode("utf-8")
        self.send_raw(status, body, "application/json; charset=utf-8",
                      headers)

    def dispatch(self, method):
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self.read_body()
        except ValueError as exc:
            self.close_connection = True
            self.send_json(413 if "large" in str(exc) else 400,
                           {"error": str(exc)})
            return
        if path.startswith("/_sim/"):
            self.handle_control(method, path, body)
        else:
            self.handle_api(method, path, body)

    # -- REST API

    def handle_api(self, method, path, raw):
        state = self.state
        started = time.monotonic()
        with state.lock:
            entry = {"id": state.next_request_id, "time": self.arrived_at,
                     "method": method, "path": path, "form": {},
                     "auth_ok": False, "status": None, "sid": None,
                     "error_code": None, "fault": None,
                     "content_type": self.headers.get("Content-Type")}
            state.next_request_id += 1
            state.requests.append(entry)
            state.active_requests += 1
            state.changed.notify_all()
        try:
            self.serve_api(entry, method, path, raw, started)
        finally:
            with state.changed:
                state.active_requests -= 1
                state.changed.notify_all()
            state.logger.log("%s %s status=%s%s%s%s" % (
                method, path, entry["status"],
                " sid=" + entry["sid"] if entry["sid"] else "",
                " code=%s" % entry["error_code"]
                if entry["error_code"] else "",
                " fault=" + entry["fault"] if entry["fault"] else ""))

    def serve_api(self, entry, method, path, raw, started):
        state = self.state
        request_id = "RQ" + state.sid("")
        action = match_fault(state, method, path, request_to(raw))
        if action:
            entry["fault"] = json.dumps(action, sort_keys=True)
        status, obj = None, None
        if action is None or fault_processes_request(action):
            status, obj = self.process_api(entry, method, path, raw, action)
        headers = [("Twilio-Request-Id", request_id),
                   ("Twilio-Concurrent-Requests",
                    str(state.active_requests)),
                   ("Twilio-Request-Duration",
                    "%.3f" % (time.monotonic() - started))]
        if action is not None:
            self.apply_fault(entry, action, status, obj, headers)
            return
        entry["status"] = status
        self.send_json(status, obj, headers)

    def process_api(self, entry, method, path, raw, fault):
        """Authenticate, validate and act; return (status, json_object)."""
        state = self.state
        try:
            entry["auth_ok"] = self.check_auth(path)
            ctype = (self.headers.get("Content-Type") or "").split(";")[0]
            if method == "POST" and (raw or ctype.strip()) and \
                    ctype.strip().lower() != \
                    "application/x-www-form-urlencoded":
                # NOTE: 20415 is the simulator's own code for this case.
                raise ApiError(415, 20415, "Unsupported Media Type: send "
                               "application/x-www-form-urlencoded")
            try:
                pairs = parse_form(raw) if method == "POST" else []
            except (UnicodeDecodeError, ValueError):
                raise bad_request(20001, "Request body is not valid "
                                  "form-urlencoded UTF-8")
            entry["form"] = form = pairs_to_dict(pairs)
            if not state.take_rate_token():
                raise ApiError(429, 20429, "Too Many Requests")
            return self.route_api(entry, method, path, form, fault)
        except ApiError as err:
            entry["error_code"] = err.code
            return err.status, err.body()

    def check_auth(self, path):
        state = self.state
        err = ApiError(401, 20003, "Authenticate",
                       "Your AccountSid or AuthToken was incorrect.")
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            raise err
        try:
            user, _, password = base64.b64decode(value, validate=True) \
                .decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise err
        args = state.args
        valid = {args.account_sid: args.auth_token}
        if args.api_key_sid:
            valid[args.api_key_sid] = args.api_key_secret
        expected = valid.get(user)
        if expected is None or not hmac.compare_digest(
                password.encode("utf-8"), expected.encode("utf-8")):
            raise err
        if path.startswith(API_PREFIX):
            sid = path[len(API_PREFIX):].split("/")[0]
            if sid.split(".")[0] != args.account_sid:
                raise err
        return True

    def route_api(self, entry, method, path, form, fault):
        not_found = ApiError(404, 20404, "The requested resource %s was not "
                             "found" % path)
        if not path.startswith(API_PREFIX) or not path.endswith(".json"):
            raise not_found
        parts = path[len(API_PREFIX):-len(".json")].split("/")
        account = parts[0]
        if parts[1:] == ["Messages"] and method == "POST":
            return self.create_message(entry, account, form, fault)
        if parts[1:] == ["Calls"] and method == "POST":
            return self.create_call(entry, account, form, fault)
        if len(parts) == 3 and parts[1] == "Messages" and method == "GET":
            return self.fetch("messages", parts[2], not_found)
        if len(parts) == 3 and parts[1] == "Calls" and method == "GET":
            return self.fetch("calls", parts[2], not_found)
        if len(parts) == 3 and parts[1] == "Calls" and method == "POST":
            return self.update_call(parts[2], form, not_found)
        raise not_found

    def fetch(self, kind, sid, not_found):
        state = self.state
        with state.lock:
            item = getattr(state, kind).get(sid)
            if item is None:
                raise not_found
            resource = item if kind == "messages" else item.resource
            return 200, dict(resource)

    def create_message(self, entry, account, form, fault):
        state = self.state
        body = validate_message(state, form)
        msg = message_resource(state, account, form, body)
        with state.lock:
            state.messages[msg["sid"]] = msg
            if msg["from"] and not state.config["our_number"]:
                state.config["our_number"] = msg["from"]
            outcome = dict(state.numbers.get(msg["to"], {}))
        entry["sid"] = msg["sid"]
        if not (fault and fault.get("accept_no_callbacks")):
            callback = (form.get("StatusCallback") or [None])[-1]
            state.start_worker("message-" + msg["sid"], run_message, state,
                               msg, callback, outcome)
        return 201, dict(msg)

    def create_call(self, entry, account, form, fault):
        state = self.state
        validate_call(form)
        resource = call_resource(state, account, form)
        with state.lock:
            callee = state.callees.get(resource["to"], {"action": "silent"})
            call = Call(resource, form, callee)
            state.calls[resource["sid"]] = call
            state.calls_live.append(call)
        entry["sid"] = resource["sid"]
        if not (fault and fault.get("accept_no_callbacks")):
            state.start_worker("call-" + resource["sid"], run_call, state,
                               call)
        return 201, dict(resource)

    def update_call(self, sid, form, not_found):
        """End a live call: canceled before answer, completed after.

        NOTE: 21218 for an unknown Status value is the simulator's guess.
        """
        state = self.state
        status = (form.get("Status") or [None])[-1]
        if status not in (None, "canceled", "completed"):
            raise bad_request(21218, "Invalid Status %s" % status)
        with state.lock:
            call = state.calls.get(sid)
            if call is None:
                raise not_found
            live = call.resource["status"] not in FINAL_CALL_STATUSES
            answered = call.resource["status"] == "in-progress"
            if status and live and call.end_status is None and \
                    (status == "completed" or not answered):
                call.end_status = "completed" if answered else "canceled"
                call.resource["status"] = call.end_status
                call.wake.set()
                slot = call.gather_slot
                if slot:
                    slot.pressed.set()
            return 200, dict(call.resource)

    def apply_fault(self, entry, action, status, obj, headers):
        """Send the response the fault rule selects in place of the real one."""
        state = self.state
        if action.get("hang"):
            entry["status"] = "hang"
            self.hang()
            return
        if action.get("delay_ms"):
            state.stop.wait(min(float(action["delay_ms"]) / 1000.0,
                                HANG_LIMIT_S))
        fault_status = action.get("status")
        if fault_status in (500, 502, 503, 504, 429):
            self.send_fault_status(entry, action, fault_status, headers)
            return
        entry["status"] = status
        body = json.dumps(obj).encode("utf-8")
        if fault_status == 201 or action.get("body") == "garbage":
            body = b'{"sid": "SM' + b"0" * 12 + b'", "status": qu'
            entry["status"] = 201 if fault_status == 201 else status
        if action.get("close"):
            self.send_response(entry["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            entry["status"] = "closed"
            return
        self.send_raw(entry["status"], body,
                      "application/json; charset=utf-8", headers,
                      int(action.get("trickle_ms") or 0))

    def send_fault_status(self, entry, action, status, headers):
        entry["status"] = status
        kind = action.get("body", "twilio")
        if status == 429:
            err = ApiError(429, 20429, "Too Many Requests")
            retry_after = action.get("retry_after")
            if action.get("retry_after_date_s") is not None:
                retry_after = http_date(float(action["retry_after_date_s"]))
            if retry_after is not None:
                headers = headers + [("Retry-After", str(retry_after))]
        elif status == 503:
            err = ApiError(503, 20503, "Service Unavailable")
        else:
            err = ApiError(status, 20500, "An internal server error has "
                           "occurred")
        entry["error_code"] = err.code
        if kind == "empty":
            self.send_raw(status, b"", None, headers)
        elif kind == "html":
            page = ("<html><head><title>%d Bad Gateway</title></head><body>"
                    "<center><h1>%d</h1></center><hr><center>proxy</center>"
                    "</body></html>" % (status, status)).encode("ascii")
            self.send_raw(status, page, "text/html", headers)
        else:
            self.send_json(status, err.body(), headers)

    def hang(self):
        """Keep the connection open without responding, for up to 60 s."""
        deadline = time.monotonic() + HANG_LIMIT_S
        conn = self.connection
        while time.monotonic() < deadline and not self.state.stop.is_set():
            ready, _, _ = select.select([conn], [], [], 0.2)
            if ready:
                try:
                    if conn.recv(4096) == b"":
                        break
                except OSError:
                    break
        self.close_connection = True

    # -- control API

    def handle_control(self, method, path, raw):
        state = self.state
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
        state.logger.log("control %s %s status=%d" % (method, path, status))
        self.send_json(status, obj)

    def query(self):
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path)
                                           .query))

    def ctl_add_fault(self, data):
        rule = validate_fault(data)
        with self.state.lock:
            self.state.faults.append(rule)
        return 201, rule

    def ctl_list_faults(self, data):
        with self.state.lock:
            return 200, list(self.state.faults)

    def ctl_clear_faults(self, data):
        with self.state.lock:
            self.state.faults = []
        return 200, {"cleared": True}

    def ctl_requests(self, data):
        return 200, self.recorded("requests")

    def ctl_webhooks(self, data):
        return 200, self.recorded("webhooks")

    def recorded(self, name):
        """List recorded items, waiting for ?count=N up to ?timeout_ms."""
        query = self.query()
        count = int(query.get("count", "0"))
        timeout = float(query.get("timeout_ms", "0")) / 1000.0
        items = self.state.wait_for(name, count, timeout)
        kind = query.get("kind")
        if kind:
            items = [item for item in items if item.get("kind") == kind]
        return items

    def ctl_reset(self, data):
        self.state.reset()
        return 200, {"reset": True}

    def ctl_callee(self, data):
        number = data["number"]
        action = data.get("action", "silent")
        if action not in CALLEE_ACTIONS:
            raise ValueError("action must be one of " +
                             ", ".join(CALLEE_ACTIONS))
        spec = {"action": action}
        for key in ("digits", "presses", "answered_by"):
            if key in data:
                spec[key] = data[key]
        if "delay_ms" in data:
            spec["delay_ms"] = min(int(data["delay_ms"]), int(HANG_LIMIT_S *
                                                              1000))
        with self.state.lock:
            self.state.callees[number] = spec
        return 200, {"number": number, **spec}

    def ctl_numbers(self, data):
        number = data["number"]
        delivery = data.get("delivery")
        if delivery is not None and delivery not in MESSAGE_OUTCOMES:
            raise ValueError("delivery must be one of " +
                             ", ".join(MESSAGE_OUTCOMES))
        with self.state.lock:
            info = self.state.number(number)
            for key in ("landline", "opted_out"):
                if key in data:
                    info[key] = bool(data[key])
            for key in ("delivery", "error_code"):
                if key in data:
                    info[key] = data[key]
            if "final_delay_ms" in data:
                info["final_delay_ms"] = min(int(data["final_delay_ms"]),
                                             DELAY_LIMIT_MS)
            return 200, {"number": number, **info}

    def ctl_config(self, data):
        state = self.state
        with state.lock:
            for key, value in data.items():
                if key not in state.config:
                    raise ValueError("unknown setting %s" % key)
                limit = CONFIG_LIMITS.get(key)
                if limit is not None and value is not None and \
                        not 0 <= int(value) <= limit:
                    raise ValueError("%s must be between 0 and %d" %
                                     (key, limit))
                if key == "deliver_to" and value is not None:
                    host = str(value).rpartition(":")[0].strip("[]")
                    if host not in LOOPBACK_HOSTS:
                        raise ValueError("deliver_to must be a loopback "
                                         "host:port")
                state.config[key] = value
            return 200, dict(state.config)

    def ctl_get_config(self, data):
        with self.state.lock:
            return 200, dict(self.state.config)

    def ctl_messages(self, data):
        with self.state.lock:
            return 200, [dict(m) for m in self.state.messages.values()]

    def ctl_calls(self, data):
        with self.state.lock:
            return 200, [c.view() for c in self.state.calls.values()]

    def ctl_inbound(self, data):
        state = self.state
        sender = data["from"]
        body = data.get("body", "")
        url = data.get("url") or state.config.get("sms_url")
        if not url:
            raise ValueError("missing url: pass \"url\" or start the "
                             "simulator with --sms-url")
        # A fixed MessageSid lets a test replay one message.
        sid = data.get("message_sid") or state.sid("SM")
        to = data.get("to") or state.config.get("our_number") or \
            "+15005550006"
        pairs = [("ToCountry", country_of(to)), ("SmsMessageSid", sid),
                 ("NumMedia", "0"), ("SmsSid", sid), ("SmsStatus",
                                                       "received"),
                 ("Body", body), ("FromCountry", country_of(sender)),
                 ("To", to), ("NumSegments", str(count_segments(body))),
                 ("MessageSid", sid), ("AccountSid", state.args.account_sid),
                 ("From", sender), ("ApiVersion", API_VERSION)]
        pairs = [(n, v) for n, v in pairs if not n.endswith("Country") or v]

        opt = OPT_OUT_KEYWORDS.get(" ".join(body.split()).upper())
        if opt:
            pairs.append(("OptOutType", opt))
            with state.lock:
                if opt in ("STOP", "START"):
                    state.number(sender)["opted_out"] = opt == "STOP"
        for name, value in (data.get("extra") or {}).items():
            pairs.append((str(name), str(value)))

        record = deliver(state, "inbound-sms", url, pairs,
                         data.get("method", "POST"), data.get("signature"),
                         data.get("sign_url"), {"message_sid": sid})
        return 200, {"status": record["status"],
                     "content_type": record["content_type"],
                     "body": record["body"], "error": record["error"],
                     "message_sid": sid, "webhook_id": record.get("id")}

    def ctl_gather(self, data):
        state = self.state
        with state.lock:
            call = state.calls.get(data["call_sid"])
        if call is None:
            return 404, {"error": "no call %s" % data["call_sid"]}
        digits = str(data.get("digits", "1"))
        slot = self.wait_gather_slot(call, data.get("timeout_ms", 5000))
        if slot is not None:
            slot.digits = digits
            slot.pressed.set()
            slot.done.wait(CONTROL_WAIT_LIMIT_S)
            record = slot.result
        elif call.last_gather:
            gather = call.last_gather
            cut, key = apply_gather_limits(digits, gather["numDigits"],
                                           gather["finishOnKey"])
            record, _ = post_gather(state, call, gather["action"],
                                    gather["method"], cut, key)
        else:
            return 409, {"error": "call %s has not reached a <Gather>" %
                         data["call_sid"]}
        if record is None:
            return 409, {"error": "the call left the <Gather> first"}
        return 200, {"status": record["status"],
                     "content_type": record["content_type"],
                     "body": record["body"], "error": record["error"],
                     "twiml_check": record.get("twiml_check")}


    def wait_gather_slot(self, call, timeout_ms):
        """Wait until a live call waits at <Gather>; return its slot or None.

        Returns at once when the call has already ended.
        """
        state = self.state
        deadline = time.monotonic() + min(float(timeout_ms) / 1000.0,
                                          CONTROL_WAIT_LIMIT_S)
        with state.changed:
            while call.gather_slot is None and call.end_status is None and \
                    call.resource["status"] not in FINAL_CALL_STATUSES:
                left = deadline - time.monotonic()
                if left <= 0 or state.stop.is_set():
                    break
                state.changed.wait(left)
            return call.gather_slot


CONTROL_ROUTES = {
    ("POST", "/_sim/faults"): Handler.ctl_add_fault,
    ("GET", "/_sim/faults"): Handler.ctl_list_faults,
    ("DELETE", "/_sim/faults"): Handler.ctl_clear_faults,
    ("GET", "/_sim/requests"): Handler.ctl_requests,
    ("GET", "/_sim/webhooks"): Handler.ctl_webhooks,
    ("POST", "/_sim/reset"): Handler.ctl_reset,
    ("POST", "/_sim/callee"): Handler.ctl_callee,
    ("POST", "/_sim/numbers"): Handler.ctl_numbers,
    ("POST", "/_sim/config"): Handler.ctl_config,
    ("GET", "/_sim/config"): Handler.ctl_get_config,
    ("GET", "/_sim/messages"): Handler.ctl_messages,
    ("GET", "/_sim/calls"): Handler.ctl_calls,
    ("POST", "/_sim/inbound"): Handler.ctl_inbound,
    ("POST", "/_sim/gather"): Handler.ctl_gather,
}


class Server(http.server.ThreadingHTTPServer):
    # A gateway starts a whole round of requests at once; the default
    # backlog of 5 would drop connection attempts under that burst.
    request_queue_size = 128

    daemon_threads = True
    allow_reuse_address = True


# --------------------------------------------------------------- selftest


def selftest():
    """Recompute the published signing vectors; return the exit status."""
    a_pairs = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"),
               ("Digits", "1234"), ("From", "+14158675309"),
               ("To", "+18005551212")]
    body_hash = hashlib.sha256(
        b'{"property": "value", "boolean": true}').hexdigest()
    b_pairs = [("AccountSid", "AC00000000000000000000000000000001"),
               ("ApiVersion", "2010-04-01"),
               ("CallSid", "CA00000000000000000000000000000042"),
               ("CallStatus", "in-progress"), ("Called", "+15558675310"),
               ("Caller", "+15017122661"), ("Digits", "1"),
               ("Direction", "outbound-api"), ("FinishedOnKey", ""),
               ("From", "+15017122661"), ("To", "+15558675310")]
    c_raw = (b"To=%2B15017122661&From=%2B15558675310&Body=ACK+1001"
             b"&MessageSid=SM00000000000000000000000000000077"
             b"&SmsSid=SM00000000000000000000000000000077"
             b"&SmsMessageSid=SM00000000000000000000000000000077"
             b"&AccountSid=AC00000000000000000000000000000001&NumMedia=0"
             b"&NumSegments=1&SmsStatus=received&ApiVersion=2010-04-01")
    token_b = "test_auth_token_0123456789abcdef"
    cases = [
        ("A", "12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
         a_pairs, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        ("A port 443", "12345",
         "https://mycompany.com:443/myapp.php?foo=1&bar=2", a_pairs,
         "kvajT1Ptam85bY51eRf/AJRuM3w="),
        ("A repeated keys", "12345",
         "https://mycompany.com/myapp.php?foo=1&bar=2",
         [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
          ("Digits", "1234")], "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
        ("A bodySHA256", "12345",
         "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=" +
         body_hash, [], "a9nBmqA0ju/hNViExpshrM61xv4="),
        ("B", token_b,
         "https://pager.example.net/hooks/twilio/voice/gather?page=P-1001",
         b_pairs, "jFBaejA28amwyBOlkL5NFM16zVA="),
        ("C", token_b, "https://pager.example.net/hooks/twilio/sms",
         parse_form(c_raw), "nLoN12+4I1rMMH9Qx95B3op++ps="),
    ]
    failed = 0
    for name, token, url, pairs, expected in cases:
        got = compute_signature(token, url, pairs)
        if got == expected:
            print("selftest vector %s ok" % name)
        else:
            failed += 1
            print("selftest vector %s FAILED: got %s, expected %s" %
                  (name, got, expected))
    return 1 if failed else 0


# ------------------------------------------------------------------- main


def write_port_file(path, port):
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path),
                                                  os.getpid()))
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write("%d\n" % port)
    os.replace(tmp, path)


def parse_args(argv):
    routes = "\n".join("  %-6s %s" % route for route in sorted(
        CONTROL_ROUTES, key=lambda r: (r[1], r[0])))
    parser = argparse.ArgumentParser(
        description="Twilio REST API simulator bound to 127.0.0.1.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Control endpoints (JSON, no auth), as the tests in "
        "test/integration use them:\n" + routes)
    parser.add_argument("--account-sid", help="account SID (AC + 32 hex) "
                        "accepted in Basic auth and in the path; "
                        "required")
    parser.add_argument("--auth-token", help="auth token: Basic auth "
                        "password and webhook signing key; required")
    parser.add_argument("--api-key-sid", help="optional API key SID (SK...) "
                        "accepted as Basic auth user")
    parser.add_argument("--api-key-secret", help="secret for --api-key-sid")
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port; 0 picks a free port (default 0)")
    parser.add_argument("--port-file", help="file that receives the bound "
                        "port number, written atomically")
    parser.add_argument("--sms-url", help="default URL for inbound SMS "
                        "webhooks sent by POST /_sim/inbound")
    parser.add_argument("--our-number", help="our Twilio number, the To of "
                        "inbound SMS (default: first From seen, else "
                        "+15005550006)")
    parser.add_argument("--log", help="append log lines to this file "
                        "instead of stderr")
    parser.add_argument("--seed", type=int, help="seed for fault "
                        "probabilities and SIDs")
    parser.add_argument("--selftest", action="store_true",
                        help="check webhook signing against fixed vectors "
                        "and exit")
    args = parser.parse_args(argv)
    if not args.selftest:
        if not args.account_sid or not ACCOUNT_SID_RE.match(args.account_sid):
            parser.error("--account-sid must be AC followed by 32 hex digits")
        if not args.auth_token:
            parser.error("--auth-token is required")
        if bool(args.api_key_sid) != bool(args.api_key_secret):
            parser.error("--api-key-sid and --api-key-secret go together")
    return args


def main(argv):
    args = parse_args(argv)
    if args.selftest:
        return selftest()
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args)
    port = server.server_address[1]
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    if args.port_file:
        write_port_file(args.port_file, port)
    print("twilio-sim: listening port=%d" % port, flush=True)
    server.state.logger.log("start port=%d" % port)
    while not stopping.wait(0.5):
        pass
    server.state.stop.set()
    server.shutdown()
    server.server_close()
    server.state.logger.log("stop port=%d" % port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
