#!/usr/bin/env python3
"""Starved intake (issue 16 item 5), against real processes: a 4-validator network and a
follower, made by `consentd testnet`; an outsider linked to every validator floods it with block
requests and batches of transactions. Honest grants submitted at the follower (which never
proposes: its transactions reach a block only through the validators' intake) must all commit.

Before the fix, transaction batches and block requests shared one 256-entry queue that dropped
what did not fit, and a node gossiped its own submissions once: the follower's batch was dropped
behind the flood and its grants never committed. Now each peer has its own bounded share, served
in turn, block requests are rate-limited per peer, and pending transactions are gossiped again
until committed (node/intake_queue.h, node/node_txs.cc).

Usage: hostile_intake_e2e.py --consentd PATH
Prints "hostile_intake: N passed, M failed"; exit 0 iff M == 0.
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
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_peer as hp  # noqa: E402
from e2e_common import Checks, free_base, sanitized  # noqa: E402

N_VALIDATORS = 4
SLOW = float(os.environ.get("CONSENT_E2E_SLOW", "1"))  # sanitizer builds: scale waits


class Test(Checks):
    def __init__(self, consentd):
        super().__init__(verbose=True)
        self.consentd = os.path.abspath(consentd)
        self.dir = tempfile.mkdtemp(prefix="consent-intake-")
        self.base = free_base(2 * (N_VALIDATORS + 1))
        self.procs = []
        self.stop = threading.Event()
        self.sent = {"block_req": 0, "txs": 0, "links": 0}

    def url(self, i):
        return f"http://127.0.0.1:{self.base + 2 * i}"

    def get(self, i, path):
        try:
            with urllib.request.urlopen(self.url(i) + path, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return None, b""

    def status(self, i):
        code, body = self.get(i, "/v1/status")
        return json.loads(body) if code == 200 else None

    def wait(self, cond, seconds):
        deadline = time.time() + seconds * SLOW
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(0.2)
        return False

    def start(self):
        subprocess.run([self.consentd, "testnet", "--validators", str(N_VALIDATORS), "--followers",
                        "1", "--out", os.path.join(self.dir, "net"), "--base-port", str(self.base)],
                       check=True, stdout=subprocess.DEVNULL)
        for i in range(N_VALIDATORS + 1):
            log = open(os.path.join(self.dir, f"node{i}.log"), "w")
            self.procs.append(subprocess.Popen(
                [self.consentd, "start", "--home", os.path.join(self.dir, "net", f"node{i}")],
                stdout=log, stderr=log))
        ok = self.wait(lambda: all((self.status(i) or {}).get("peers", 0) >= 3
                                   for i in range(N_VALIDATORS)) and
                       (self.status(N_VALIDATORS) or {}).get("peers", 0) >= 1, 60)
        self.check("the network links up", ok)
        self.chain = self.status(0)["chain_id"]

    def flood(self, port):
        """One outsider on one validator: block requests and duplicate transaction batches, as
        fast as its link allows (a fresh key after each ban), for as long as the test runs."""
        req = hp.ws_frame(hp.enc_block_req(1, 50)) * 1500
        tx = hp.make_grant(self.chain)
        txs = hp.ws_frame(hp.enc_txs([tx] * 1000))
        while not self.stop.is_set():
            try:
                link = hp.P2PLink(port + 1)
            except (hp.LinkClosed, OSError):
                time.sleep(0.1)
                continue
            self.sent["links"] += 1
            try:
                while not self.stop.is_set() and not link.closed():
                    link.send_frame(req)
                    link.send_frame(txs)
                    self.sent["block_req"] += 1500
                    self.sent["txs"] += 1
                    link.drain()
                    time.sleep(0.1)  # about 15,000 frames/s: under the link's message rate
            except hp.LinkClosed:
                pass
            link.close()

    def post_many(self, i, txs):
        return self.post(i, None, json.dumps([{"encoding": t.hex()} for t in txs]).encode())

    def post(self, i, tx, body=None):
        body = body or json.dumps({"encoding": tx.hex()}).encode()
        req = urllib.request.Request(self.url(i) + "/v1/txs", body,
                                     {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def run(self):
        self.start()
        # Blocks worth asking for: 4,000 grants (1,000 on a sanitizer build, several times
        # slower), so that each block request the flood sends makes the node read and encode up
        # to megabytes.
        n = 1000 if sanitized(self.consentd) else 4000
        preload = [hp.make_grant(self.chain) for _ in range(n)]
        for k in range(0, len(preload), 1000):
            self.post_many(k % N_VALIDATORS, preload[k:k + 1000])
        self.check("the preload commits", self.wait(lambda: (self.status(0) or {}).get(
            "log_size", 0) >= len(preload), 60))
        floods = [threading.Thread(target=self.flood, args=(self.base + 2 * i,), daemon=True)
                  for i in range(N_VALIDATORS) for _ in range(3)]
        for t in floods:
            t.start()
        time.sleep(3)
        grants = [hp.make_grant(self.chain) for _ in range(10)]
        codes = [self.post(N_VALIDATORS, g) for g in grants]
        self.check("the follower accepts 10 honest grants while the validators are flooded",
                   all(c in (200, 202) for c in codes), str(codes))
        ids = [hp.tx_id(g).hex() for g in grants]

        def committed():
            return all(self.get(0, f"/v1/txs/{i}")[0] == 200 for i in ids)
        ok = self.wait(committed, 90)
        left = [i[:16] for i in ids if self.get(0, f"/v1/txs/{i}")[0] != 200]
        self.check("every honest grant submitted at the follower commits under the flood", ok,
                   f"not committed: {left}; attacker sent {self.sent}")
        code, metrics = self.get(0, "/metrics")
        dropped = hp.metric(metrics.decode(), "consent_intake_block_requests_dropped_total")
        self.check("the flood's block requests beyond the per-peer rate are dropped and counted",
                   dropped is not None and dropped > 0, f"{dropped}")
        self.stop.set()
        for t in floods:
            t.join(timeout=10)
        self.check("every validator still has its 3 validator peers",
                   all((self.status(i) or {}).get("peers", 0) >= 3 for i in range(N_VALIDATORS)))
        print(f"attacker: {self.sent}", flush=True)

    def close(self):
        self.stop.set()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.failed:
            print(f"logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--consentd", required=True)
    a = ap.parse_args()
    t = Test(a.consentd)
    try:
        t.run()
    except Exception as e:  # a crash of the test itself is a failure, with the logs kept
        t.check("test ran to the end", False, f"{type(e).__name__}: {e}")
    finally:
        t.close()
    print(f"hostile_intake: {t.passed} passed, {t.failed} failed")
    return 0 if t.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
