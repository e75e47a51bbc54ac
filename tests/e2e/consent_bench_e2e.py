#!/usr/bin/env python3
"""consent-bench against a real consentd: it refuses bad arguments (exit 2, a message naming the
problem) and a node that is not there; against a running single-validator node it submits, waits
for every commit and reports figures that agree with each other and with the node.

Checks on a run of 600 grants (4 connections, 50 per request): exit 0; the JSON line says 600
committed; tx/s, the limit and both one-core verification rates are positive; the ratio is tx/s
divided by the limit; the limit is cores x the higher one-core rate; p50 <= p99; and the node's
/v1/status then shows a log of at least 600 entries. No figure is compared with a speed: timing
belongs to the benchmark itself, not to a pass/fail test.

Usage: consent_bench_e2e.py --consentd PATH --consent-bench PATH
Prints "consent-bench e2e: N passed, M failed"; exit 0 iff M == 0.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks, free_port, wait_until_ok  # noqa: E402


class Test(Checks):
    def __init__(self, consentd, bench):
        super().__init__()
        self.consentd, self.bench = os.path.abspath(consentd), os.path.abspath(bench)
        self.dir = tempfile.mkdtemp(prefix="consent-bench-e2e-")
        self.home = os.path.join(self.dir, "home")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def run_bench(self, *args):
        p = subprocess.run([self.bench, *args], capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def status(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/v1/status")
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def start_node(self):
        subprocess.run([self.consentd, "init", "--home", self.home, "--chain-id", "bench-e2e",
                        "--api", f"127.0.0.1:{self.port}", "--p2p", f"127.0.0.1:{free_port()}"],
                       check=True, capture_output=True, timeout=30)
        log = open(os.path.join(self.dir, "consentd.log"), "ab")
        self.proc = subprocess.Popen([self.consentd, "start", "--home", self.home], stdout=log,
                                     stderr=subprocess.STDOUT)
        wait_until_ok(lambda: self.status()[0], 30,
                      "consentd did not become ready; see " + log.name)

    def bad_arguments(self):
        cases = [
            (["--txs", "0"], "need --txs"),
            (["--batch", "1001"], "--batch <= 1000"),
            (["--connections", "x"], "--connections: 'x' is not a valid number"),
            (["--goal", "-1"], "--goal: '-1' is not a valid number"),
            (["--no-such-flag", "1"], "unknown option --no-such-flag"),
            (["--node", "ftp://127.0.0.1:1"], "http"),
        ]
        for args, fragment in cases:
            rc, _, err = self.run_bench(*args)
            self.check(f"refuses {args}", rc == 2 and fragment in err, f"rc={rc} err={err!r}")
        # Nothing listens on a port we just freed.
        rc, _, err = self.run_bench("--node", f"http://127.0.0.1:{free_port()}", "--txs", "10")
        self.check("refuses an absent node", rc == 2 and "cannot reach the node" in err,
                   f"rc={rc} err={err!r}")

    def run_against_node(self):
        self.start_node()
        rc, out, err = self.run_bench("--node", self.url, "--txs", "600", "--connections", "4",
                                      "--batch", "50", "--controllers", "7")
        self.check("bench exits 0", rc == 0, f"rc={rc} err={err[-500:]!r}")
        lines = [l for l in out.splitlines() if l.startswith("{")]
        self.check("one JSON line", len(lines) == 1, out)
        if len(lines) != 1:
            return
        j = json.loads(lines[0])
        self.check("600 committed", j["committed"] == 600, j)
        for key in ("tx_per_s", "limit_tx_per_s", "verify_per_core_before",
                    "verify_per_core_after"):
            self.check(f"{key} > 0", j[key] > 0, j)
        self.check("ratio = tx/s / limit",
                   abs(j["ratio"] - j["tx_per_s"] / j["limit_tx_per_s"]) < 0.002, j)
        cores = os.cpu_count() or 1
        best = max(j["verify_per_core_before"], j["verify_per_core_after"])
        self.check("limit = cores x the higher one-core rate",
                   abs(j["limit_tx_per_s"] - cores * best) <= 1.0, j)
        self.check("p50 <= p99", 0 < j["p50_ms"] <= j["p99_ms"], j)
        self.check("table names the ratio", "ratio to limit" in out, out)
        # CPU per tx: verification is --nodes-share (1) / the one-core rate; everything else is
        # the rest of the machine's busy time; the goal's budget is (1 / 0.7 - 1) x that.
        self.check("verify_us_per_tx = 1e6 / the one-core rate",
                   abs(j["verify_us_per_tx"] - 1e6 / best) < 0.1, j)
        self.check("other_budget_us_per_tx = (1 / 0.7 - 1) x verify_us_per_tx",
                   abs(j["other_budget_us_per_tx"] - (1 / 0.7 - 1) * 1e6 / best) < 0.1, j)
        if j["machine_busy"] >= 0:
            self.check("cpu = verify + other",
                       abs(j["cpu_us_per_tx"] - j["verify_us_per_tx"] - j["other_us_per_tx"])
                       < 0.2 and j["cpu_us_per_tx"] > 0, j)
            self.check("table has the CPU line", "CPU per tx" in out, out)
        code, body = self.status()
        st = json.loads(body)
        self.check("the node committed them", code == 200 and st["log_size"] >= 600, st)

    def main(self):
        try:
            self.bad_arguments()
            self.run_against_node()
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=30)
            shutil.rmtree(self.dir, ignore_errors=True)
        print(f"consent-bench e2e: {self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--consentd", required=True)
    ap.add_argument("--consent-bench", required=True)
    a = ap.parse_args()
    sys.exit(Test(a.consentd, a.consent_bench).main())
