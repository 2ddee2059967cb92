# SPDX-License-Identifier: ISC
"""A real SMTP server on 127.0.0.1 for critgate's outbound mail: aiosmtpd
in a thread of the test, keeping every message it accepts.  It can refuse
the first messages with a temporary or permanent reply, and call a hook on
each message (a vacation responder writing back, say)."""

import asyncio
import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


class Received:
    """One accepted message: envelope and the parsed message."""

    def __init__(self, mail_from, rcpts, data):
        self.mail_from = mail_from
        self.rcpts = rcpts
        self.data = data
        self.msg = email.message_from_bytes(data, policy=email.policy.SMTP)

    def header(self, name):
        value = self.msg.get(name)
        return None if value is None else str(value)

    def message_id(self):
        """The Message-ID without its angle brackets."""
        return (self.header("Message-ID") or "").strip().strip("<>")

    def text(self):
        part = self.msg.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class Silent:
    """A relay that takes connections and never says a word."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.conns = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def stop(self):
        # shutdown() wakes the thread in accept(); close() alone would
        # leave the socket listening until it returns.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)
        for conn in self.conns:
            conn.close()


class Sink:
    """Start with start(), read .messages, stop with stop()."""

    def __init__(self, port, refuse=0, refuse_reply="451 4.3.0 try again",
                 on_message=None, hang=False):
        self.port = port
        self.refuse = refuse
        self.refuse_reply = refuse_reply
        self.refused = 0
        self.on_message = on_message
        # With hang, the body is read and the reply never comes.
        self.hang = hang
        self.messages = []
        self.lock = threading.Lock()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        if self.hang:
            await asyncio.sleep(3600)
        with self.lock:
            if self.refused < self.refuse:
                self.refused += 1
                return self.refuse_reply
            got = Received(envelope.mail_from, list(envelope.rcpt_tos),
                           envelope.original_content or envelope.content)
            self.messages.append(got)
        if self.on_message is not None:
            threading.Thread(target=self.on_message, args=(got,),
                             daemon=True).start()
        return "250 2.0.0 kept"

    def start(self):
        self.controller = Controller(self, hostname="127.0.0.1",
                                     port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, rcpt):
        """Returns the messages sent to rcpt, oldest first."""
        with self.lock:
            return [m for m in self.messages if rcpt in m.rcpts]

    def all(self):
        with self.lock:
            return list(self.messages)
