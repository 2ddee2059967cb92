#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A reader that keeps a transaction open on the store (an sqlite3 shell, a
backup tool) must not stall the daemon.

The writer copies the store's log into the database each time the log
grows by another thousand pages, waiting briefly for readers so that the
log can start over.  Everything that writes waits meanwhile, so the wait
must stay short: with a reader that never ends, the daemon goes on
storing mail, recording acknowledgements and paging each member once.
"""

import os
import sqlite3
import sys

import harness

# Pages of 4 KiB: the log passes a thousand of them after about 4 MiB.
LOG_MARK_BYTES = 4 * 1024 * 1024 + 512 * 1024
# Once the log starts over, SQLite cuts its file back to this size.
LOG_LIMIT_BYTES = 8 * 1024 * 1024


def big_message(n):
    """Returns a report with about 600 KiB of text from its own sender."""
    text = harness.message(
        subject=f"Payment export stuck, report {n}",
        message_id=f"big-{n}@reader.example",
        sender=f"Reporter {n} <r{n}@reader.example>")
    filler = ("export line " + "x" * 84 + "\r\n") * 6000
    head, _, body = text.partition("\r\n\r\n")
    return head + "\r\n\r\n" + filler + body, f"r{n}@reader.example"


def wal_bytes(world):
    try:
        return os.path.getsize(os.path.join(world.dir, "critgate.db-wal"))
    except OSError:
        return 0


def body(world, tap):
    world.start_daemon()
    world.send(harness.message())
    harness.wait_for(lambda: len(world.pages_at_sim()) >= 4, 30,
                     "the first incident's pages")

    reader = sqlite3.connect(os.path.join(world.dir, "critgate.db"),
                             isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM messages").fetchone()
    sent = 0
    try:
        while wal_bytes(world) < LOG_LIMIT_BYTES + LOG_MARK_BYTES and \
                sent < 40:
            sent += 1
            text, sender = big_message(sent)
            world.send(text, sender=sender)
        tap.check(wal_bytes(world) >= LOG_LIMIT_BYTES + LOG_MARK_BYTES,
                  "the log grew past its limit behind the reader",
                  f"{wal_bytes(world)} bytes after {sent} messages")
        # Once more past the mark, with the reader still open.
        text, sender = big_message(sent + 1)
        world.send(text, sender=sender)
        rc, out = world.cli("ack", "1", "--by", "alice")
        tap.check(rc == 0, "critgate ack works beside the reader", out)
    finally:
        reader.execute("COMMIT")
        reader.close()

    # Without the reader, the next checkpoint lets the log start over.
    while wal_bytes(world) > LOG_LIMIT_BYTES and sent < 60:
        sent += 1
        text, sender = big_message(sent + 1)
        world.send(text, sender=sender)
    tap.check(wal_bytes(world) <= LOG_LIMIT_BYTES, "the log's file is cut "
              "back once the reader has gone", f"{wal_bytes(world)} bytes")
    incidents = sent + 2
    harness.wait_for(
        lambda: len(world.incidents_all()) == incidents, 30,
        "every report opened its incident")
    # Under load, pages of several incidents due for one member at once
    # go out as one request: the store's pages are counted, not requests.
    def pages(state=None):
        db = sqlite3.connect(os.path.join(world.dir, "critgate.db"))
        try:
            return db.execute("SELECT count(*) FROM pages WHERE "
                              "coalesce(?, state) = state",
                              (state,)).fetchone()[0]
        finally:
            db.close()
    try:
        harness.wait_for(lambda: pages("sent") >= 4 * incidents, 30,
                         "every page answered")
    except TimeoutError:
        pass
    tap.check(pages("sent") == pages() == 4 * incidents and
              len(world.pages_at_sim()) <= 4 * incidents, "each member was "
              "paged once per incident on each channel",
              f"{pages('sent')} of {pages()} pages sent in "
              f"{len(world.pages_at_sim())} requests for {incidents} "
              "incidents")
    tap.check("database is locked" not in world.log(), "no statement "
              "waited out the busy timeout")


if __name__ == "__main__":
    sys.exit(harness.run(body, repeat_minutes=600,
                         extra_config='page_limits = { voice = "1000/1s"; '
                         'sms = "1000/1s"; };'))
