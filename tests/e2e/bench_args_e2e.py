#!/usr/bin/env python3
"""ledger_apply_bench refuses bad arguments: exit 2, a message naming the option, and no store
created in the --dir it was given. Usage: bench_args_e2e.py PATH_TO_ledger_apply_bench"""
import subprocess
import sys
import tempfile
import os

BENCH = sys.argv[1]
CASES = [
    (["--write-buffer-mb", "0"], "--write-buffer-mb"),
    (["--write-buffer-mb", "4097"], "--write-buffer-mb"),
    (["--write-buffer-mb", "x"], "--write-buffer-mb: 'x' is not a whole number"),
    (["--write-buffer-mb", "-1"], "--write-buffer-mb: '-1' is not a whole number"),
    (["--cache-mb", "0"], "--cache-mb"),
    (["--pipeline", "2"], "--pipeline 0 or 1"),
    (["--block-txs", "0"], "--block-txs"),
    (["--txs", "10", "--block-txs", "100"], "--txs >= --block-txs"),
    (["--no-such-flag", "1"], "unknown option --no-such-flag"),
]

failures = 0
for args, expected in CASES:
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([BENCH, "--dir", d] + args, capture_output=True, text=True, timeout=30)
        problems = []
        if p.returncode != 2:
            problems.append(f"exit {p.returncode}, expected 2")
        if expected not in p.stderr:
            problems.append(f"stderr lacks {expected!r}: {p.stderr!r}")
        if os.listdir(d):
            problems.append(f"created {os.listdir(d)} in --dir")
        if problems:
            failures += 1
            print(f"FAIL {args}: {'; '.join(problems)}")
        else:
            print(f"ok   {args}")
sys.exit(1 if failures else 0)
