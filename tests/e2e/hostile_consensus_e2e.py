#!/usr/bin/env python3
"""Attacks on consensus messages and block sync against real consentd processes (issue 16 items
2, 3 and 4): a 4-validator testnet plus one follower (`consentd testnet --validators 4
--followers 1`), a steady load of valid grants submitted over the validators' APIs, and an
outsider peer (tests/e2e/attacks.py over tests/e2e/hostile_peer.py: its own fresh key, no
validator key) that:

  poison  copies every honest proposal it receives with its transactions stripped or swapped and
          sends the copies to the other validators as fast as it can. Pass: marker grants
          submitted under attack commit; no validator judged an honest proposal invalid or cut a
          validator's link for it; after the attack every validator is linked to the other three.
  future  floods next-height proposals with ~15 MiB bodies and random signatures at validator 0.
          Pass: validator 0's VmRSS stays below its size before the attack + RSS_BOUND_MIB (the
          next-height buffer keeps at most 48 MiB, docs/security.md), and marker grants commit.
  height  with the follower stopped while the chain moves on by at least LAG_BLOCKS blocks, restarts
          it while the outsider tells it it is at height 2^62 and never answers a block request.
          Pass: the follower reaches the validators' height.

For poison and future the blocks committed over a fixed window with and without the attack are
printed, and their ratio (a figure, not a pass/fail criterion). Every wait is a bounded wait for an
outcome; CONSENT_E2E_SLOW (a factor, default 1) stretches them for sanitizer builds.

Usage: hostile_consensus_e2e.py --consentd PATH [--only poison,future,height] [--keep]
Standard library plus python3-cryptography (through hostile_peer.py).
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
from e2e_common import free_base, sanitized  # noqa: E402

N_VALIDATORS = 4
FOLLOWER = N_VALIDATORS
SLOW = float(os.environ.get("CONSENT_E2E_SLOW", "1") or 1)
WINDOW_S = 8.0            # blocks are counted over this long, with and without an attack
RSS_BOUND_MIB = 256       # future flood: allowed VmRSS growth of the attacked validator (x4
                          # for an ASan/TSan build, whose allocator keeps freed memory)
LAG_BLOCKS = 160          # height lie: how far behind the follower restarts (> 3 block_resp)
IDLE_FLOOD_S = 10.0       # future flood: seconds against an idle chain before the load resumes
MARKERS = 8               # grants that must commit under each attack


class Network:
    def __init__(self, consentd, keep):
        self.consentd, self.keep = consentd, keep
        self.dir = tempfile.mkdtemp(prefix="hostile-consensus-")
        self.base = free_base(2 * (N_VALIDATORS + 1))
        subprocess.run([consentd, "testnet", "--validators", str(N_VALIDATORS), "--followers", "1",
                        "--out", os.path.join(self.dir, "net"), "--base-port", str(self.base)],
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        self.procs = [None] * (N_VALIDATORS + 1)
        for i in range(N_VALIDATORS + 1):
            self.start(i)
        if not self.wait(lambda: all((self.status(i) or {}).get("peers", 0) >= 3
                                     for i in range(N_VALIDATORS)), 60):
            raise RuntimeError("the validators did not link up within 60 s")
        self.chain_id = self.status(0)["chain_id"]

    def wait(self, cond, seconds):
        deadline = time.time() + seconds * SLOW
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(0.2)
        return cond()

    def start(self, i):
        log = open(self.log_path(i), "a")
        self.procs[i] = subprocess.Popen(
            [self.consentd, "start", "--home", os.path.join(self.dir, "net", f"node{i}")],
            stdout=log, stderr=log)

    def stop(self, i):
        self.procs[i].send_signal(signal.SIGTERM)
        self.procs[i].wait(timeout=30 * SLOW)

    def log_path(self, i):
        return os.path.join(self.dir, f"node{i}.log")

    def log(self, i):
        with open(self.log_path(i), errors="replace") as f:
            return f.read()

    def api(self, i):
        return self.base + 2 * i

    def p2p(self, i):
        return self.base + 2 * i + 1

    def http(self, i, method, path, body=None, timeout=5):
        req = urllib.request.Request(f"http://127.0.0.1:{self.api(i)}{path}", data=body,
                                     method=method,
                                     headers={"Content-Type": "application/json"} if body else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return 0, b""

    def status(self, i):
        st, body = self.http(i, "GET", "/v1/status")
        try:
            return json.loads(body) if st == 200 else None
        except ValueError:
            return None

    def height(self, i):
        return (self.status(i) or {}).get("height", 0)

    def metric(self, i, name):
        st, body = self.http(i, "GET", "/metrics")
        return hp.metric(body.decode(errors="replace"), name) if st == 200 else None

    def submit(self, i, txs):
        body = json.dumps([{"encoding": t.hex()} for t in txs]).encode()
        return self.http(i, "POST", "/v1/txs", body)[0]

    def committed(self, i, tx):
        return self.http(i, "GET", "/v1/txs/" + hp.tx_id(tx).hex())[0] == 200

    def close(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            if not p:
                continue
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.keep:
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Load:
    """Valid grants, a batch every 100 ms, to the validators in turn: blocks keep coming."""

    def __init__(self, net):
        self.net, self.stop_ = net, threading.Event()
        self.paused = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        i = 0
        while not self.stop_.is_set():
            if self.paused.is_set():
                self.stop_.wait(0.1)
                continue
            self.net.submit(i % N_VALIDATORS, [hp.make_grant(self.net.chain_id) for _ in range(5)])
            i += 1
            self.stop_.wait(0.1)

    def stop(self):
        self.stop_.set()
        self.thread.join(timeout=10)


class Test:
    def __init__(self):
        self.failures = 0

    def check(self, name, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
        if not ok:
            self.failures += 1
        return ok

    def blocks_in_window(self, net):
        h0 = net.height(0)
        time.sleep(WINDOW_S)
        return net.height(0) - h0

    def markers_commit(self, net, what):
        markers = [hp.make_grant(net.chain_id) for _ in range(MARKERS)]
        for k, tx in enumerate(markers):
            net.submit(k % N_VALIDATORS, [tx])
        ok = net.wait(lambda: all(net.committed(0, tx) for tx in markers), 60)
        done = sum(net.committed(0, tx) for tx in markers)
        return self.check(f"{what}: grants submitted under attack commit", ok,
                          f"{done}/{MARKERS} committed")

    # -------------------------------------------------------------------- proposal poisoning
    def poison(self, net):
        base = self.blocks_in_window(net)
        attack = attacks.ProposalPoison([net.p2p(i) for i in range(N_VALIDATORS)],
                                        net.chain_id).start()
        try:
            time.sleep(2)
            under = self.blocks_in_window(net)
            print(f"     poison: {base} blocks in {WINDOW_S:.0f} s without the attack, {under} "
                  f"under it: ratio {under / base if base else 0:.2f}; attacker {attack.stats}",
                  flush=True)
            self.markers_commit(net, "poison")
        finally:
            attack.stop()
        self.check("poison: the attacker sent copies", attack.stats.get("copies_sent", 0) > 0,
                   str(attack.stats))
        judged = [i for i in range(N_VALIDATORS) if " is invalid: " in net.log(i)]
        self.check("poison: no validator judged a proposal invalid", not judged,
                   f"validators {judged} did" if judged else "")
        cut = [i for i in range(N_VALIDATORS) if "proposed an invalid block" in net.log(i)]
        self.check("poison: no validator cut a proposer's link", not cut,
                   f"validators {cut} did" if cut else "")
        linked = net.wait(lambda: all((net.status(i) or {}).get("peers", 0) >= N_VALIDATORS - 1
                                      for i in range(N_VALIDATORS)), 15)
        self.check("poison: every validator is still linked to the other three", linked,
                   str([(net.status(i) or {}).get("peers") for i in range(N_VALIDATORS)]))
        mism = [net.metric(i, "consent_proposal_body_mismatch_total") for i in range(N_VALIDATORS)]
        print(f"     poison: consent_proposal_body_mismatch_total per validator {mism}; "
              f"consent_peer_bans_total "
              f"{[net.metric(i, 'consent_peer_bans_total') for i in range(N_VALIDATORS)]}")

    # -------------------------------------------------------------------- future-height flood
    def future(self, net, load):
        bound = RSS_BOUND_MIB
        if sanitized(net.consentd):
            bound = 4 * RSS_BOUND_MIB
            print(f"     future: a sanitizer build: the RSS bound is {bound} MiB", flush=True)
        pid = net.procs[0].pid
        base = self.blocks_in_window(net)
        # An idle chain stays long at one height (until a heartbeat block, if the validators make
        # them), so nothing for the next height is taken out of the buffer meanwhile: the flood's
        # worst case for memory.
        load.paused.set()
        time.sleep(1)
        before = hp.vm_rss_kib(pid)
        attack = attacks.FutureFlood(net.p2p(0), net.chain_id, mib=15,
                                     height_fn=lambda: net.height(0)).start()
        peak = [before]
        over = threading.Event()

        def sample():
            while not over.is_set() and attack.running():
                r = hp.vm_rss_kib(pid)
                peak[0] = max(peak[0], r)
                if r - before > 2 * bound * 1024:
                    attack.stop()  # the old code grows without bound: do not take the host down
                    break
                over.wait(0.1)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            time.sleep(IDLE_FLOOD_S)
            idle_mib = attack.stats.get("bytes_sent", 0) / (1 << 20)
            load.paused.clear()
            under = self.blocks_in_window(net)
            print(f"     future: {idle_mib:.0f} MiB sent to the idle node in {IDLE_FLOOD_S:.0f} s")
            print(f"     future: {base} blocks in {WINDOW_S:.0f} s without the attack, {under} "
                  f"under it: ratio {under / base if base else 0:.2f}; attacker {attack.stats}",
                  flush=True)
            self.markers_commit(net, "future")
        finally:
            over.set()
            sampler.join(timeout=5)
            attack.stop()
        sent_mib = attack.stats.get("bytes_sent", 0) / (1 << 20)
        self.check("future: the attacker sent next-height proposals", sent_mib > 15,
                   f"{attack.stats.get('proposals_sent', 0)} proposals, {sent_mib:.0f} MiB")
        growth = (peak[0] - before) / 1024
        self.check(f"future: validator 0's VmRSS grew less than {bound} MiB",
                   growth < bound,
                   f"{before / 1024:.0f} MiB before, peak {peak[0] / 1024:.0f} MiB "
                   f"(+{growth:.0f} MiB)")

    # -------------------------------------------------------------------- height lie
    def height_lie(self, net):
        start = net.height(FOLLOWER)
        net.stop(FOLLOWER)
        moved = net.wait(lambda: net.height(0) >= start + LAG_BLOCKS, 90)
        if not self.check(f"height: the chain moved {LAG_BLOCKS} blocks past the stopped follower",
                          moved, f"follower at {start}, validators at {net.height(0)}"):
            return
        attack = attacks.HeightLie(net.p2p(FOLLOWER)).start()
        net.start(FOLLOWER)
        try:
            # The liar must be linked before the follower can be expected to be misled.
            net.wait(lambda: attack.stats.get("block_requests_ignored", 0) > 0 or
                     (net.status(FOLLOWER) or {}).get("peers", 0) >= 2, 20)
            target = net.height(0)
            reached = net.wait(lambda: net.height(FOLLOWER) >= target, 90)
            self.check("height: the follower reaches the validators' height while a peer claims "
                       "2^62 and never answers", reached,
                       f"follower at {net.height(FOLLOWER)}, validators were at {target}; "
                       f"attacker {attack.stats}; demotions "
                       f"{net.metric(FOLLOWER, 'consent_block_sync_demotions_total')}")
        finally:
            attack.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--consentd", required=True)
    ap.add_argument("--only", default="poison,future,height")
    ap.add_argument("--keep", action="store_true", help="keep the network's directory")
    a = ap.parse_args()
    names = [n for n in a.only.split(",") if n]
    t = Test()
    net = Network(os.path.abspath(a.consentd), a.keep)
    load = Load(net)
    started = time.time()
    try:
        for name in names:
            if name == "future":
                t.future(net, load)
            else:
                getattr(t, {"poison": "poison", "height": "height_lie"}[name])(net)
    except Exception as e:  # noqa: BLE001
        t.check("the test ran to its end", False, repr(e))
    finally:
        load.stop()
        net.close()
    print(f"hostile_consensus: {t.failures} failed, {time.time() - started:.0f} s")
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())
