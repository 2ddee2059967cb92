#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Script gateway peer for the benchmark: the mail-to-SMS script a team
writes by hand.

An aiosmtpd server on 127.0.0.1 writes each message to its own file,
fsyncs it, replies 250, and then, for a Message-ID it has not seen yet,
POSTs one SMS and one call per team member to the Twilio-compatible
simulator, one request after the other on a single background thread.
"""

import argparse
import base64
import concurrent.futures
import email.parser
import os
import signal
import threading
import urllib.parse
import urllib.request

from aiosmtpd.controller import Controller


class Gateway:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.seen = set()
        self.lock = threading.Lock()
        self.poster = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        token = f"{args.account_sid}:{args.auth_token}".encode()
        self.auth = "Basic " + base64.b64encode(token).decode()
        self.base = (f"{args.api_base}/2010-04-01/Accounts/"
                     f"{args.account_sid}/")

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            number = self.count
        path = os.path.join(self.args.spool, f"{os.getpid()}.{number}.eml")
        if not self.args.no_spool:
            with open(path, "wb") as spool_file:
                spool_file.write(envelope.original_content)
                spool_file.flush()
                os.fsync(spool_file.fileno())
        headers = email.parser.BytesHeaderParser().parsebytes(
            envelope.original_content)
        message_id = headers.get("Message-ID", path)
        if message_id not in self.seen:
            self.seen.add(message_id)
            subject = headers.get("Subject", "(no subject)")
            self.poster.submit(self.page_team, subject)
        return "250 OK stored"

    def post(self, resource, fields):
        request = urllib.request.Request(
            self.base + resource,
            data=urllib.parse.urlencode(fields).encode(), method="POST",
            headers={"Authorization": self.auth,
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
        except OSError as exc:
            print(f"gateway-peer: POST {resource} failed: {exc}", flush=True)

    def page_team(self, subject):
        for phone in self.args.team:
            self.post("Messages.json", {"To": phone, "From": self.args.sender,
                                        "Body": "CRITICAL: " + subject})
            self.post("Calls.json", {"To": phone, "From": self.args.sender,
                                     "Twiml": "<Response><Say>Critical "
                                     "incident</Say></Response>"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--spool", required=True,
                        help="folder that receives one file per message")
    parser.add_argument("--api-base", required=True,
                        help="simulator URL, http://127.0.0.1:PORT")
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--auth-token", required=True)
    parser.add_argument("--sender", required=True, help="E.164 From number")
    parser.add_argument("--team", nargs="+", required=True,
                        help="E.164 numbers paged for each new message")
    parser.add_argument("--no-spool", action="store_true",
                        help="keep nothing: the harness's own floor for "
                        "the time to the first page")
    args = parser.parse_args()
    gateway = Gateway(args)
    controller = Controller(gateway, hostname="127.0.0.1", port=args.port,
                            data_size_limit=64 * 1024 * 1024)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    print(f"gateway-peer: listening port={args.port}", flush=True)
    stop.wait()
    controller.stop()
    gateway.poster.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    main()
