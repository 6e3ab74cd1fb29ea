#!/usr/bin/env python3
"""Runs a command and reports its own CPU seconds and peak RSS (getrusage of the child) as the
last stderr line: RUSAGE {"code": ..., "cpu": ..., "maxrss_kb": ..., "wall": ...}.
Used by bench/lib/proc.ts for processes that exit on their own (nothing left in /proc to read)."""
import json
import os
import signal
import subprocess
import sys
import time

if len(sys.argv) < 2:
    sys.exit("usage: rusage.py command [args...]")
t0 = time.monotonic()
child = subprocess.Popen(sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
while True:
    try:
        _, status, usage = os.wait4(child.pid, 0)
        break
    except InterruptedError:
        continue
wall = time.monotonic() - t0
code = os.waitstatus_to_exitcode(status)
sys.stderr.write("\nRUSAGE " + json.dumps({
    "code": code,
    "cpu": usage.ru_utime + usage.ru_stime,
    "maxrss_kb": usage.ru_maxrss,
    "wall": wall,
}) + "\n")
sys.exit(0 if code == 0 else 1)
