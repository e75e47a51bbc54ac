#!/usr/bin/env python3
"""Fault tests of a real 4-validator network: consentd processes on loopback, made by
`consentd testnet`, driven by consentctl and the HTTP API.

Every peer link goes through a TCP proxy (tests/e2e/tcp_proxy.py), so that the test can cut
links between groups of nodes (a partition) and heal them.

1. Transactions submitted to different nodes all commit; every node reports the same header at
   every height; a proof fetched from any node verifies against genesis.json with >= 3 signatures.
2. kill -9 one validator: commits continue; restart it: it catches up and its headers match.
3. SIGSTOP 2 of 4: no block is final and no node forks; SIGCONT: the pending tx commits.
4. A partition {0,1} | {2,3}: no block is final; heal: commits continue, headers match.
5. Peers that send garbage, an oversized frame, or a wrong-chain hello are cut off; the network
   keeps committing.
6. A follower started from genesis after --follower-blocks blocks syncs; its state root (and
   every header) equals the validators'.

7. After a clean stop, consent-store re-executes every node's store from genesis: VALID.

Usage: multinode_e2e.py --consentd PATH --consentctl PATH [--consent-store PATH]
                        [--follower-blocks N]
  (N defaults to $CONSENT_E2E_FOLLOWER_BLOCKS or 1000)
Prints "multinode: N passed, M failed"; exit 0 iff M == 0. Standard library only.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_peer  # noqa: E402
import tcp_proxy  # noqa: E402
from e2e_common import Checks, free_base  # noqa: E402

N_VALIDATORS = 4


free_base_port = free_base  # the name the other scripts import


class Net(Checks):
    def __init__(self, consentd, consentctl, follower_blocks, store_tool=None):
        super().__init__(verbose=True)
        self.store_tool = os.path.abspath(store_tool) if store_tool else None
        self.consentd, self.ctl_path = os.path.abspath(consentd), os.path.abspath(consentctl)
        self.follower_blocks = follower_blocks
        self.dir = tempfile.mkdtemp(prefix="consent-multinode-")
        self.out = os.path.join(self.dir, "net")
        self.procs = {}
        self.proxies = {}  # (i, j) -> proxy carrying i's dial to j
        self.nonce = 0

    # --- helpers -------------------------------------------------------------------------
    def home(self, i):
        return os.path.join(self.out, f"node{i}")

    def api_port(self, i):
        return self.base + 2 * i

    def p2p_port(self, i):
        return self.base + 2 * i + 1

    def url(self, i):
        return f"http://127.0.0.1:{self.api_port(i)}"

    def http(self, i, method, path, body=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.api_port(i), timeout=timeout)
        try:
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json"} if body else {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def status(self, i):
        try:
            st, data = self.http(i, "GET", "/v1/status", timeout=3)
            return json.loads(data) if st == 200 else None
        except (OSError, ValueError):
            return None

    def height(self, i):
        s = self.status(i)
        return s["height"] if s else -1

    def ctl(self, *args, node=0, timeout=60):
        env = dict(os.environ, CONSENT_NODE=self.url(node))
        p = subprocess.run([self.ctl_path, *args], cwd=self.dir, env=env, capture_output=True,
                           text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def wait(self, what, cond, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(0.05)
        return False

    def start(self, i):
        log = open(os.path.join(self.dir, f"node{i}.log"), "ab")
        self.procs[i] = subprocess.Popen([self.consentd, "start", "--home", self.home(i)],
                                         stdout=log, stderr=subprocess.STDOUT)

    def ready(self, i):
        try:
            st, _ = self.http(i, "GET", "/readyz", timeout=2)
            return st == 200
        except OSError:
            return False

    def kill(self, i, sig=signal.SIGKILL):
        p = self.procs.get(i)
        if p and p.poll() is None:
            p.send_signal(sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                p.wait(timeout=30)

    def headers(self, i, frm, to):
        out = []
        h = frm
        while h <= to:
            last = min(to, h + 999)
            st, data = self.http(i, "GET", f"/v1/headers?from={h}&to={last}", timeout=30)
            if st != 200:
                return None
            out += [x["header"]["block_hash"] for x in json.loads(data)["headers"]]
            h = last + 1
        return out

    def same_headers(self, nodes, upto=None):
        heights = [self.height(i) for i in nodes]
        top = min(heights) if upto is None else upto
        if top < 1:
            return True, "no blocks"
        ref = None
        for i in nodes:
            hs = self.headers(i, 1, top)
            if hs is None:
                return False, f"node{i} did not serve headers 1..{top}"
            if ref is None:
                ref = hs
            elif hs != ref:
                first = next(k for k in range(len(hs)) if hs[k] != ref[k])
                return False, f"node{i} differs at height {first + 1}"
        return True, f"{len(nodes)} nodes agree on heights 1..{top}"

    def grant_file(self, purpose, name):
        """A grant signed offline by customer 'me' for the brand; returns the JSON text."""
        self.nonce += 1
        path = os.path.join(self.dir, f"{name}-{self.nonce}.json")
        rc, out, err = self.ctl("grant", "--key", "me.key", "--controller", self.brand,
                                "--purpose", purpose, "--chain-id", self.chain_id,
                                "--issued-at-ms", str(int(time.time() * 1000)),
                                "--out", path)
        if rc != 0:
            raise RuntimeError(f"consentctl grant failed: {err}")
        with open(path) as f:
            return f.read()

    def submit(self, i, tx_json):
        st, data = self.http(i, "POST", "/v1/txs", body=tx_json)
        try:
            j = json.loads(data)
        except ValueError:
            j = {}
        return st, j

    def tx_id_of(self, answer):
        for key in ("tx_id", "id"):
            if key in answer:
                return answer[key]
        if "results" in answer and answer["results"]:
            return answer["results"][0].get("tx_id")
        return None

    def committed_at(self, i, tx_id):
        try:
            st, _ = self.http(i, "GET", f"/v1/txs/{tx_id}", timeout=3)
            return st == 200
        except OSError:
            return False

    # --- setup ---------------------------------------------------------------------------
    def setup(self):
        self.base = free_base_port(2 * (N_VALIDATORS + 1))
        r = subprocess.run([self.consentd, "testnet", "--validators", str(N_VALIDATORS),
                            "--followers", "1", "--out", self.out, "--base-port", str(self.base),
                            "--chain-id", "multinode-e2e"], capture_output=True, text=True,
                           timeout=60)
        self.check("consentd testnet", r.returncode == 0, r.stderr)
        if r.returncode != 0:
            raise SystemExit(1)
        self.genesis = os.path.join(self.out, "genesis.json")
        with open(self.genesis) as f:
            self.chain_id = json.load(f)["chain_id"]
        # Every dial from i to j goes through its own proxy, so links can be cut.
        for i in range(N_VALIDATORS + 1):
            peers = []
            for j in range(N_VALIDATORS):
                if i == j:
                    continue
                p = tcp_proxy.ThreadedProxy(self.p2p_port(j)).start()
                self.proxies[(i, j)] = p
                peers.append(f'"127.0.0.1:{p.port}"')
            cfg = os.path.join(self.home(i), "config.toml")
            with open(cfg) as f:
                text = f.read()
            text, n = re.subn(r"(?ms)^persistent_peers\s*=\s*\[.*?\]",
                              "persistent_peers = [" + ", ".join(peers) + "]", text)
            if n != 1:
                raise RuntimeError(f"no persistent_peers line in {cfg}")
            # Fast blocks for the test; consensus timeouts stay at their defaults.
            text = re.sub(r"(?m)^block_interval_ms\s*=.*$", "block_interval_ms = 1", text)
            with open(cfg, "w") as f:
                f.write(text)
        # The follower (node4) is started later, from genesis.
        self.ctl("keygen", "brand", "--out", "brand.key")
        self.ctl("keygen", "customer", "--out", "me.key")
        with open(os.path.join(self.dir, "brand.key")) as f:
            self.brand = json.load(f)["public_key"]

    def cut(self, a_group, b_group):
        for (i, j), p in self.proxies.items():
            if (i in a_group and j in b_group) or (i in b_group and j in a_group):
                p.cut()

    def heal_all(self):
        for p in self.proxies.values():
            p.heal()

    # --- scenarios -----------------------------------------------------------------------
    def all_commit(self, nodes, label, count=4, timeout=60):
        ids = []
        for k in range(count):
            node = nodes[k % len(nodes)]
            st, ans = self.submit(node, self.grant_file(f"{label}.{k}", f"{label}-{k}"))
            tx_id = self.tx_id_of(ans)
            self.check(f"{label}: tx {k} accepted by node{node}", st in (200, 202) and tx_id,
                       f"{st} {ans}")
            if tx_id:
                ids.append(tx_id)
        ok = self.wait(label, lambda: all(self.committed_at(n, t) for t in ids for n in nodes),
                       timeout)
        self.check(f"{label}: {len(ids)} txs committed on nodes {nodes}", ok)
        return ids

    def scenario_basic(self):
        for i in range(N_VALIDATORS):
            self.start(i)
        ok = self.wait("ready", lambda: all(self.ready(i) for i in range(N_VALIDATORS)), 60)
        self.check("4 validators ready", ok)
        ok = self.wait("peers", lambda: all((self.status(i) or {}).get("peers", 0) >= 3
                                            for i in range(N_VALIDATORS)), 60)
        self.check("every validator has 3 peers", ok,
                   str([(self.status(i) or {}).get("peers") for i in range(N_VALIDATORS)]))
        rc, out, err = self.ctl("register", "--key", "brand.key", "--name", "Multi Brand",
                                "--wait", node=1)
        self.check("register at node1 commits", rc == 0, err)
        self.all_commit(list(range(N_VALIDATORS)), "basic", count=8)
        ok, why = self.same_headers(list(range(N_VALIDATORS)))
        self.check("same header at every height on all nodes", ok, why)
        # A proof from every node verifies against the genesis alone, with >= 3 signatures.
        rc, subject, _ = self.ctl("id", "--key", "me.key", "--controller", self.brand)
        subject = subject.strip()
        for i in range(N_VALIDATORS):
            path = os.path.join(self.dir, f"proof{i}.json")
            rc, out, err = self.ctl("prove", "--subject", subject, "--controller", self.brand,
                                    "--purpose", "basic.0", "--out", path, node=i)
            self.check(f"prove from node{i}", rc == 0, err)
            if rc != 0:
                continue
            with open(path) as f:
                proof = json.load(f)
            n_sigs = len(proof.get("commit", {}).get("signatures", []))
            self.check(f"proof from node{i} carries >= 3 signatures", n_sigs >= 3, str(n_sigs))
            rc, out, err = self.ctl("--json", "verify", path, "--genesis", self.genesis)
            v = json.loads(out) if out.strip().startswith("{") else {}
            self.check(f"proof from node{i} verifies: granted", rc == 0 and
                       v.get("status") == "granted", out + err)

    def scenario_kill9(self):
        self.kill(3, signal.SIGKILL)
        self.all_commit([0, 1, 2], "kill9", count=4, timeout=90)
        self.start(3)
        top = max(self.height(i) for i in range(3))
        ok = self.wait("catch up", lambda: self.height(3) >= top, 90)
        self.check("restarted node3 catches up", ok, f"node3 at {self.height(3)}, others {top}")
        ok, why = self.same_headers(list(range(N_VALIDATORS)))
        self.check("headers match after restart", ok, why)
        self.all_commit(list(range(N_VALIDATORS)), "after-restart", count=4)

    def scenario_stop_two(self):
        self.kill(2, signal.SIGSTOP)
        self.kill(3, signal.SIGSTOP)
        time.sleep(1)  # a block whose precommits were already sent may still land: let it
        before = [self.height(0), self.height(1)]  # the stopped nodes do not answer
        st, ans = self.submit(0, self.grant_file("stopped.0", "stopped-0"))
        tx_id = self.tx_id_of(ans)
        self.check("tx accepted while 2 of 4 are stopped", tx_id is not None, str(ans))
        time.sleep(4)
        h0, h1 = self.height(0), self.height(1)
        self.check("no block final with 2 of 4 stopped", h0 == max(before[:2]) and h1 == h0,
                   f"before {before}, now {h0} {h1}")
        self.check("the tx is not committed", not self.committed_at(0, tx_id))
        ok, why = self.same_headers([0, 1])
        self.check("no fork between the running nodes", ok, why)
        self.kill(2, signal.SIGCONT)
        self.kill(3, signal.SIGCONT)
        ok = self.wait("resume", lambda: all(self.committed_at(i, tx_id)
                                             for i in range(N_VALIDATORS)), 90)
        self.check("after SIGCONT the pending tx commits on all nodes", ok)
        ok, why = self.same_headers(list(range(N_VALIDATORS)))
        self.check("headers match after resume", ok, why)

    def scenario_partition(self):
        self.cut({0, 1}, {2, 3})
        time.sleep(1)  # as above: a block already precommitted may still land
        before = max(self.height(i) for i in range(N_VALIDATORS))
        st, ans = self.submit(0, self.grant_file("part.0", "part-0"))
        tx_a = self.tx_id_of(ans)
        st, ans = self.submit(2, self.grant_file("part.1", "part-1"))
        tx_b = self.tx_id_of(ans)
        time.sleep(4)
        after = max(self.height(i) for i in range(N_VALIDATORS))
        self.check("no block final during a 2|2 partition", after == before,
                   f"{before} -> {after}")
        self.heal_all()
        ok = self.wait("heal", lambda: all(self.committed_at(i, t) for t in (tx_a, tx_b)
                                           for i in range(N_VALIDATORS)), 120)
        self.check("after healing, txs from both sides commit everywhere", ok)
        ok, why = self.same_headers(list(range(N_VALIDATORS)))
        self.check("headers match after the partition", ok, why)

    def ws_connect(self, port):
        s, line, _ = hostile_peer.ws_connect(port, timeout=5)
        return s, line

    ws_frame = staticmethod(hostile_peer.ws_frame)

    @staticmethod
    def closed_soon(s, timeout=10):
        s.settimeout(timeout)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def scenario_bad_peers(self):
        port = self.p2p_port(0)
        s, line = self.ws_connect(port)
        self.check("raw websocket upgrade on /p2p", b"101" in line, str(line))
        s.sendall(self.ws_frame(os.urandom(200)))
        self.check("garbage frame: link closed", self.closed_soon(s))
        s.close()
        s, _ = self.ws_connect(port)
        try:
            s.sendall(self.ws_frame(b"\x01" * (17 << 20)))
            closed = self.closed_soon(s)
        except (BrokenPipeError, ConnectionResetError):
            closed = True  # the node closed the link from the frame's header, mid-upload
        self.check("oversized frame: link closed", closed)
        s.close()
        s, _ = self.ws_connect(port)
        chain = b"some-other-chain"
        hello = (bytes([1, 1]) + struct.pack(">I", len(chain)) + chain + os.urandom(32) +
                 struct.pack(">I", 1) + os.urandom(32) + os.urandom(32) + struct.pack(">Q", 0))
        s.sendall(self.ws_frame(hello))
        self.check("wrong-chain hello: link closed", self.closed_soon(s))
        s.close()
        s, _ = self.ws_connect(port)
        s.sendall(self.ws_frame(b"hello", opcode=1))
        self.check("text frame: link closed", self.closed_soon(s))
        s.close()
        self.check("node0 still has its 3 validator peers",
                   (self.status(0) or {}).get("peers", 0) >= 3, str(self.status(0)))
        self.all_commit(list(range(N_VALIDATORS)), "after-bad-peers", count=4)

    def scenario_follower(self):
        target = self.follower_blocks
        t0 = time.time()
        k = 0
        # One transaction per block: submit, wait for the height to move, repeat.
        while self.height(0) < target:
            h = self.height(0)
            st, ans = self.submit(k % N_VALIDATORS, self.grant_file(f"fill.{k % 50}", "fill"))
            k += 1
            if not self.wait("block", lambda: self.height(0) > h, 30):
                break
        self.check(f"chain reached {target} blocks", self.height(0) >= target,
                   f"height {self.height(0)} after {time.time() - t0:.0f} s")
        print(f"     {self.height(0)} blocks in {time.time() - t0:.1f} s", flush=True)
        follower = N_VALIDATORS
        self.start(follower)
        t1 = time.time()
        top = self.height(0)
        ok = self.wait("follower sync", lambda: self.height(follower) >= top, 300)
        self.check(f"follower synced {top} blocks from genesis", ok,
                   f"follower at {self.height(follower)}")
        print(f"     follower synced to {self.height(follower)} in {time.time() - t1:.1f} s",
              flush=True)
        st = self.status(follower) or {}
        self.check("follower is not a validator", st.get("validator") is False, str(st))
        h = min(self.height(i) for i in range(N_VALIDATORS + 1))
        roots = set()
        for i in range(N_VALIDATORS + 1):
            code, data = self.http(i, "GET", f"/v1/headers?from={h}&to={h}")
            if code == 200:
                roots.add(json.loads(data)["headers"][0]["fields"]["state_root"])
        self.check(f"follower's state root at height {h} equals the validators'", len(roots) == 1,
                   str(roots))
        ok, why = self.same_headers(list(range(N_VALIDATORS + 1)), upto=h)
        self.check("follower's headers equal the validators'", ok, why)

    def main(self):
        try:
            self.setup()
            self.scenario_basic()
            self.scenario_kill9()
            self.scenario_stop_two()
            self.scenario_partition()
            self.scenario_bad_peers()
            self.scenario_follower()
        except Exception as e:  # noqa: BLE001 -- any crash of the test itself is a failure
            import traceback
            traceback.print_exc()
            self.check("the test ran to its end", False, repr(e))
        finally:
            for i, p in self.procs.items():
                if p.poll() is None:
                    p.send_signal(signal.SIGCONT)
                    p.send_signal(signal.SIGTERM)
            for i, p in self.procs.items():
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
            for p in self.proxies.values():
                p.close()
        if self.store_tool and self.procs and all(p.poll() is not None
                                                  for p in self.procs.values()):
            # Every stopped node's store re-executes from genesis to the same roots and commits.
            for i in sorted(self.procs):
                r = subprocess.run([self.store_tool, "verify", "--data",
                                    os.path.join(self.home(i), "data"), "--genesis", self.genesis],
                                   capture_output=True, text=True, timeout=600)
                self.check(f"consent-store verify node{i}: VALID",
                           r.returncode == 0 and "VALID" in r.stdout, r.stdout + r.stderr)
        print(f"multinode: {self.passed} passed, {self.failed} failed", flush=True)
        if self.failed:
            for i in self.procs:
                print(f"--- last lines of node{i}.log ---")
                with open(os.path.join(self.dir, f"node{i}.log"), errors="replace") as f:
                    print("".join(f.readlines()[-30:]))
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return 0 if self.failed == 0 else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--consentd", required=True)
    ap.add_argument("--consentctl", required=True)
    ap.add_argument("--consent-store", help="also verify every node's store after the run")
    ap.add_argument("--follower-blocks", type=int,
                    default=int(os.environ.get("CONSENT_E2E_FOLLOWER_BLOCKS", "1000")))
    a = ap.parse_args()
    sys.exit(Net(a.consentd, a.consentctl, a.follower_blocks, a.consent_store).main())
