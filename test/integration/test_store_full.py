#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A full disk: the store on a small tmpfs.  Once it fills, SMTP senders
get 451 and the MTA pipe exit 75, so both retry; nothing acknowledged is
lost, and intake recovers by itself once there is room again.  Needs root
to mount the tmpfs; skipped otherwise."""

import os
import smtplib
import subprocess
import sys
import tempfile

import harness

MOUNT = tempfile.mkdtemp(prefix="critgate-full-")


def mount():
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m",
                           "tmpfs", MOUNT], capture_output=True, text=True)
    return proc.returncode == 0, proc.stderr.strip()


def fill(leave_bytes):
    """Fills the tmpfs up to leave_bytes free; returns the filler path."""
    path = os.path.join(MOUNT, "filler")
    chunk = b"\0" * 4096
    with open(path, "wb") as f:
        while True:
            st = os.statvfs(MOUNT)
            if st.f_bavail * st.f_frsize <= leave_bytes:
                break
            try:
                f.write(chunk)
                f.flush()
            except OSError:
                break
    return path


def send(world, n):
    text = harness.message(f"Disk test {n}", f"disk-{n}@shop.example",
                           f"Shop <disk{n}@shop{n}.example>")
    text = text.replace("Payments fail", "Payments fail " + "x" * 20000)
    try:
        with smtplib.SMTP("127.0.0.1", world.smtp_port, timeout=30) as s:
            s.sendmail(f"disk{n}@shop{n}.example",
                       ["critical@support.example.com"], text.encode())
        return 250
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code


def body(world, tap):
    world.start_daemon()
    accepted = [n for n in range(3) if send(world, n) == 250]
    tap.check(len(accepted) == 3, "messages accepted while there is room",
              accepted)
    filler = fill(64 * 1024)
    codes = {}
    for n in range(3, 40):
        codes[n] = send(world, n)
        if codes[n] == 250:
            accepted.append(n)
        else:
            break
    refused = [c for c in codes.values() if c != 250]
    tap.check(refused and refused[0] == 451, "full disk gives 451", codes)
    # Each refusal logs its message, and the store's error is counted
    # after its first line, not logged again for every message.
    refused += [send(world, n) for n in range(40, 50)]
    failed = [line for line in world.log().splitlines()
              if "store: statement failed" in line]
    tap.check(len(refused) > 10 and 0 < len(failed) < 5,
              "a full disk logs its error once, not once per message",
              f"{len(refused)} refused, {len(failed)} lines: {failed}")

    proc = subprocess.run(
        [harness.CRITGATE, "deliver", "--config", world.config, "--sender",
         "x@example.org", "--recipient", "critical@support.example.com"],
        input=("Subject: pipe\n\n" + "y" * 200000 + "\n").encode(),
        capture_output=True, timeout=30)
    tap.check(proc.returncode == 75, "pipe exits 75 on a full disk",
              proc.returncode)
    tap.check(world.daemon.poll() is None, "daemon survives a full disk")

    os.unlink(filler)
    tap.check(send(world, 100) == 250, "intake recovers once there is room")
    accepted.append(100)

    harness.wait_for(lambda: len(world.incidents_all()) == len(accepted),
                     30, "an incident for every accepted message")
    subjects = {i["subject"] for i in world.incidents_all()}
    tap.check(all(f"Disk test {n}" in subjects for n in accepted),
              "every accepted message kept", sorted(subjects))


def main():
    ok, why = mount()
    if not ok:
        print(f"1..0 # SKIP cannot mount a small tmpfs ({why}); this test "
              "needs root")
        os.rmdir(MOUNT)
        return 77
    try:
        return harness.run(body, store_dir=MOUNT)
    finally:
        subprocess.run(["umount", "-l", MOUNT], capture_output=True)
        os.rmdir(MOUNT)


if __name__ == "__main__":
    sys.exit(main())
