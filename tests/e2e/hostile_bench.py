#!/usr/bin/env python3
"""The adversarial benchmark of issue 16: for each attack, the honest commit rate of a real
4-validator network (plus one follower) under attack, as a ratio to the rate without it measured
on the same network in the same run, and the nodes' memory growth.

For each attack in turn: a fresh `consentd testnet --validators 4 --followers 1`; consent-bench
submits --txs grants spread over the four validators (?wait=commit) and its committed tx/s is the
baseline; then the attack starts (tests/e2e/attacks.py), and after --warmup seconds the same load
runs again; the ratio is the second rate over the first. Memory: the largest growth of any node's
resident set (VmRSS, sampled every 0.25 s while the attack runs) over its size just before the
attack. A run of the load that does not finish within --load-timeout seconds counts as rate 0.
The follower's lag (validators' height - its height) at the end is printed too: the height-lie
attack targets it (the follower is stopped during the baseline load and restarted as the attack
starts, so it must catch up by block sync while the liar claims height 2^62).

Goals (issue 16): every ratio >= 0.5 and every growth <= 256 MiB. A goal missed is printed as
such; the exit code is 0 when the benchmark ran (whatever the figures), 2 on a setup error.

Usage: hostile_bench.py --consentd PATH --consent-bench PATH [--txs N] [--attacks a,b,...]
       (scripts/bench-hostile.sh builds and runs it with the defaults)
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacks  # noqa: E402
import hostile_peer as hp  # noqa: E402
from e2e_common import free_base  # noqa: E402

GOAL_RATIO, GOAL_GROWTH_MIB = 0.5, 256
N_VALIDATORS = 4


class Network:
    def __init__(self, consentd, workdir):
        self.consentd = consentd
        self.dir = tempfile.mkdtemp(prefix="hostile-bench-", dir=workdir)
        self.base = free_base(2 * (N_VALIDATORS + 1))
        subprocess.run([consentd, "testnet", "--validators", str(N_VALIDATORS), "--followers", "1",
                        "--out", os.path.join(self.dir, "net"), "--base-port", str(self.base)],
                       check=True, stdout=subprocess.DEVNULL)
        self.procs = [None] * (N_VALIDATORS + 1)
        for i in range(N_VALIDATORS + 1):
            self.start(i)
        deadline = time.time() + 60
        while time.time() < deadline:
            st = [self.status(i) for i in range(N_VALIDATORS + 1)]
            if all(s and s.get("peers", 0) >= 3 for s in st[:N_VALIDATORS]) and st[-1] and \
                    st[-1].get("peers", 0) >= 1:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("the network did not link up within 60 s")
        self.chain_id = self.status(0)["chain_id"]

    def start(self, i):
        log = open(os.path.join(self.dir, f"node{i}.log"), "a")
        self.procs[i] = subprocess.Popen(
            [self.consentd, "start", "--home", os.path.join(self.dir, "net", f"node{i}")],
            stdout=log, stderr=log)

    def stop(self, i):
        self.procs[i].send_signal(signal.SIGTERM)
        self.procs[i].wait(timeout=30)

    def api(self, i):
        return self.base + 2 * i

    def p2p(self, i):
        return self.base + 2 * i + 1

    def url(self, i):
        return f"http://127.0.0.1:{self.api(i)}"

    def status(self, i):
        try:
            with urllib.request.urlopen(self.url(i) + "/v1/status", timeout=5) as r:
                return json.load(r)
        except (OSError, ValueError):
            return None

    def rss_kib(self):
        return [hp.vm_rss_kib(p.pid) if p.poll() is None else 0 for p in self.procs]

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def load(bench, net, txs, timeout):
    """Committed tx/s of one consent-bench run over the four validators (0 when it fails)."""
    nodes = ",".join(net.url(i) for i in range(N_VALIDATORS))
    try:
        out = subprocess.run([bench, "--node", nodes, "--txs", str(txs), "--connections", "8",
                              "--batch", "50", "--nodes-share", str(N_VALIDATORS), "--goal", "0"],
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 0.0, "timed out"
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            j = json.loads(line)
            rate = j["tx_per_s"] if j["committed"] == txs else 0.0
            return rate, f"{j['committed']}/{txs} committed, p99 {j['p99_ms']:.0f} ms"
    return 0.0, "no result: " + (out.stderr.strip().splitlines() or ["?"])[-1]


def make_attack(name, net):
    if name == "relay":
        return attacks.HandshakeRelay(net.p2p(0), net.p2p(1))
    if name == "poison":
        return attacks.ProposalPoison([net.p2p(i) for i in range(N_VALIDATORS)], net.chain_id)
    if name == "future":
        return attacks.FutureFlood(net.p2p(0), net.chain_id)
    if name == "height":
        return attacks.HeightLie(net.p2p(N_VALIDATORS))  # the follower
    if name == "admission":
        return attacks.AdmissionFill([net.p2p(i) for i in range(N_VALIDATORS)], links=64)
    if name == "txflood":
        return attacks.TxFloodApi(net.api(0), net.chain_id)
    if name == "streams":
        return attacks.StreamStall(net.api(0), streams=256)
    raise ValueError(name)


ALL = ["relay", "poison", "future", "height", "admission", "txflood", "streams"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--consentd", required=True)
    ap.add_argument("--consent-bench", required=True)
    ap.add_argument("--txs", type=int, default=3000)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--load-timeout", type=float, default=120.0)
    ap.add_argument("--attacks", default=",".join(ALL))
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    names = [n for n in a.attacks.split(",") if n]
    for n in names:
        if n not in ALL:
            print(f"unknown attack '{n}' (known: {', '.join(ALL)})", file=sys.stderr)
            return 2
    rows = []
    for name in names:
        net = Network(os.path.abspath(a.consentd), a.workdir)
        try:
            if name == "height":
                # The follower is down while the baseline load runs, and starts again with the
                # liar linked to it: block sync must bring it up to the validators' height.
                net.stop(N_VALIDATORS)
            base, base_note = load(a.consent_bench, net, a.txs, a.load_timeout)
            if name == "height":
                net.start(N_VALIDATORS)
            before = net.rss_kib()
            peak = list(before)
            attack = make_attack(name, net).start()
            sampling = threading.Event()

            def sample():
                while not sampling.is_set():
                    for i, r in enumerate(net.rss_kib()):
                        peak[i] = max(peak[i], r)
                    sampling.wait(0.25)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            time.sleep(a.warmup)
            if name == "admission":
                # Two validators restart while outsiders hold every slot they could get: they
                # must link up again, or no block has a quorum.
                for i in (2, 3):
                    net.stop(i)
                    net.start(i)
            rate, note = load(a.consent_bench, net, a.txs, a.load_timeout)
            sampling.set()
            sampler.join()
            attack.stop()
            growth_mib = max(p - b for p, b in zip(peak, before)) / 1024
            heights = [(net.status(i) or {}).get("height", 0) for i in range(N_VALIDATORS + 1)]
            lag = max(heights[:N_VALIDATORS]) - heights[N_VALIDATORS]
            ratio = rate / base if base > 0 else 0.0
            rows.append({"attack": name, "baseline_tx_per_s": round(base), "attacked_tx_per_s":
                         round(rate), "ratio": round(ratio, 3), "rss_growth_mib":
                         round(growth_mib, 1), "follower_lag_blocks": lag,
                         "ratio_goal_met": ratio >= GOAL_RATIO,
                         "growth_goal_met": growth_mib <= GOAL_GROWTH_MIB,
                         "baseline": base_note, "attacked": note,
                         "attacker": {k: v for k, v in attack.stats.items()}})
            r = rows[-1]
            print(f"{name:10s} baseline {r['baseline_tx_per_s']:6d} tx/s  under attack "
                  f"{r['attacked_tx_per_s']:6d} tx/s  ratio {ratio:5.2f} "
                  f"({'met' if r['ratio_goal_met'] else 'NOT met'}, goal >= {GOAL_RATIO})  "
                  f"RSS growth {growth_mib:7.1f} MiB "
                  f"({'met' if r['growth_goal_met'] else 'NOT met'}, goal <= {GOAL_GROWTH_MIB})"
                  f"  follower lag {lag}", flush=True)
            print(f"           baseline: {base_note}; attacked: {note}; attacker: {attack.stats}",
                  flush=True)
        finally:
            net.close()
    print(json.dumps({"goal_ratio": GOAL_RATIO, "goal_growth_mib": GOAL_GROWTH_MIB,
                      "attacks": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
