#!/usr/bin/env python3
"""ledger_apply_bench refuses bad arguments: exit 2, a message naming the option, and no store
created in the --dir it was given; and a small run prints every figure in its JSON line, the
storage ceiling and floor among them, and removes the stores it wrote those into.
Usage: bench_args_e2e.py PATH_TO_ledger_apply_bench"""
import json
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
    (["--txs", "3000", "--ceiling-txs", "999"], "--ceiling-txs 0 (skip) or >= --block-txs"),
    (["--ceiling-txs", "x"], "--ceiling-txs: 'x' is not a whole number"),
]

failures = 0


def report(name, problems):
    """Prints one line per case; counts it as a failure when it has problems."""
    global failures
    if problems:
        failures += 1
        print(f"FAIL {name}: {'; '.join(problems)}")
    else:
        print(f"ok   {name}")


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
        report(str(args), problems)
# A --dir that already holds a store or one of the raw-write stores' names: refused before
# anything is written, and what was there is left as it was.
for name in ("db", "ceiling", "floor"):
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, name))
        with open(os.path.join(d, name, "mine"), "w") as f:
            f.write("keep")
        p = subprocess.run([BENCH, "--dir", d, "--txs", "1000"], capture_output=True, text=True,
                           timeout=30)
        problems = []
        if p.returncode != 2:
            problems.append(f"exit {p.returncode}, expected 2")
        if f"{name} already exists" not in p.stderr:
            problems.append(f"stderr lacks '{name} already exists': {p.stderr!r}")
        if sorted(os.listdir(d)) != [name] or os.listdir(os.path.join(d, name)) != ["mine"]:
            problems.append(f"--dir changed: {sorted(os.listdir(d))}")
        report(f"existing {name} refused, left as it was", problems)
# A small run (3 blocks of 1,000): the last line is JSON with every figure, each a number, the
# counts exact and the times positive.
FIELDS = ["txs", "tx_per_s", "p50_block_ms", "p99_block_ms", "p50_build_ms", "p50_write_ms",
          "records_per_tx", "build_cpu_us_per_tx", "write_cpu_us_per_tx", "process_cpu_us_per_tx",
          "peak_rss_mib", "disk_bytes_per_tx", "proof_us_small", "proof_us_large",
          "proof_us_large_old", "proof_us_large_new", "proof_us_small_again",
          "proof_us_large_again", "proof_us_small_files", "proof_us_small_files_again",
          "pipeline", "ceiling_txs", "ceiling_tx_per_s", "ceiling_cpu_us_per_tx",
          "floor_tx_per_s", "floor_cpu_us_per_tx"]
with tempfile.TemporaryDirectory() as d:
    p = subprocess.run([BENCH, "--dir", d, "--txs", "3000"], capture_output=True, text=True,
                       timeout=120)
    problems = []
    if p.returncode != 0:
        problems.append(f"exit {p.returncode}: {p.stderr[-500:]!r}")
    else:
        figures = json.loads(p.stdout.strip().splitlines()[-1])
        missing = [f for f in FIELDS if f not in figures]
        if missing:
            problems.append(f"JSON lacks {missing}")
        elif (figures["txs"] != 3000 or figures["pipeline"] != 1 or
              figures["ceiling_txs"] != 3000):
            problems.append(f"txs {figures['txs']}, pipeline {figures['pipeline']}, "
                            f"ceiling_txs {figures['ceiling_txs']}")
        else:
            not_positive = [f for f in FIELDS if not figures[f] > 0]
            if not_positive:
                problems.append(f"not positive: {not_positive}")
        if "the same proofs again" not in p.stdout:
            problems.append("no line for the repeated proofs")
        if "read from files" not in p.stdout:
            problems.append("no line for the proofs read from files")
        for line in ("storage ceiling", "storage floor"):
            if line not in p.stdout:
                problems.append(f"no {line} line")
        # The raw-write stores are removed; the ledger's own store stays in the --dir given.
        if sorted(os.listdir(d)) != ["db"]:
            problems.append(f"--dir holds {sorted(os.listdir(d))}, expected only db")
    report("small run: every figure in the JSON line", problems)
sys.exit(1 if failures else 0)
