#!/usr/bin/env python3
"""Validator set changes (issue 17, PROTOCOL.md section 10) on a real network: `consentd testnet
--validators 4 --followers 2` (node0..node3 validators, node4 a follower to promote, node5 a
follower started from an empty data directory at the end), every node a real consentd process on
127.0.0.1, driven over the HTTP API with SET_VALIDATORS transactions encoded and signed here
(tests/e2e/hostile_peer.py) with the validators' node keys.

  G1      a grant commits; its proof (no change yet) verifies with `consentctl verify` and the
          genesis only.
  rotate  validators 0, 1, 2 approve the set with validator 3's key K3 replaced by a new key K3'
          (3 of 4 = the quorum): /v1/validators shows the approvals pending with their counts,
          then the new set in office from the height after the deciding block. node3 (still
          running with K3) becomes a follower; blocks keep committing (G2). The old key does not
          count: with one of node0..node2 stopped (SIGSTOP; not the next proposer) only two
          members of the new set are up, and neither node3 running with K3 nor an outsider peer
          sending prevotes and precommits signed with K3 for the proposed block makes a quorum
          (the grant stays uncommitted); node3 restarted with K3' (same home and data, new
          node.key) makes it, and its precommit is in the commit. Every commit is signed by its
          height's set only.
  remove  with node2 killed (kill -9), K0, K1, K3' approve the set without K2 (3 of 4); G3
          commits (the 3-set's quorum is 3: all of them); node2 restarted syncs through the change
          and runs as a follower.
  promote K0, K1, K3' (all 3 of the 3-set) approve adding node4's key K4; node4, never
          restarted, reports "validator": true and, with node0 stopped, a block commits with
          K4's precommit among the 3 in its commit.
  end     /v1/validators shows the final set; /v1/validators/changes lists the 3 changes with the
          deciding heights; node5 started from scratch syncs from genesis and ends on the same
          set (same /v1/validators answer) and the same head; the proofs of G1, G2, G3 fetched at
          the end verify with `consentctl verify --genesis` (3 changes each); a proof with a
          change left out, an extra change, the changes reordered, or a wrong set list is
          INVALID (exit 1) naming the check. With a consentctl that has `validators` (issue 17's
          cli work), also `consentctl audit` and `consentctl validators` from the genesis.
  streams an unfiltered /v1/stream and a brand-filtered one stay open on node1 throughout: the
          first carries every approval, the second none (consentd used to terminate here).

Every wait is bounded and waits for an outcome; CONSENT_E2E_SLOW (a factor, default 1)
stretches them for sanitizer builds. Prints the heights at which each change took effect and the
wall time.

Usage: validator_changes_e2e.py --consentd PATH --consentctl PATH [--keep]
Prints "validator_changes: N passed, M failed"; exit 0 iff M == 0.
Standard library plus python3-cryptography (through hostile_peer.py).
"""
import argparse
import base64
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
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_peer as hp  # noqa: E402
from e2e_common import Checks, free_base  # noqa: E402

N_VALIDATORS = 4
PROMOTED = 4  # node4: a follower whose key joins the set
FRESH = 5     # node5: started from an empty data directory at the end
SLOW = float(os.environ.get("CONSENT_E2E_SLOW", "1") or 1)


def open_stream(port, controller, timeout):
    """A WebSocket handshake to /v1/stream; returns (HTTP status, socket, bytes after the head)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    q = f"?controller={controller}" if controller else ""
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /v1/stream{q} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n")[0].split()
    return (int(parts[1]) if len(parts) > 1 else 0), s, rest


class StreamReader:
    """Reads a stream in a thread: collects its JSON text messages, answers pings."""

    def __init__(self, sock, leftover):
        self.s, self.buf, self.messages, self.closed = sock, leftover, [], False
        threading.Thread(target=self.run, daemon=True).start()

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def run(self):
        self.s.settimeout(None)
        try:
            while True:
                b0, b1 = self.need(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self.need(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self.need(8))[0]
                payload, op = self.need(n), b0 & 0x0F
                if op == 1:
                    self.messages.append(json.loads(payload))
                elif op == 9:  # pong, masked as a client must
                    self.s.sendall(bytes([0x8A, 0x80 | len(payload[:125])]) + bytes(4) +
                                   payload[:125])
                elif op == 8:
                    break
        except (EOFError, OSError, ValueError):
            pass
        self.closed = True


class Net(Checks):
    def __init__(self, consentd, consentctl, keep):
        super().__init__(verbose=True)
        self.consentd, self.ctl_path = os.path.abspath(consentd), os.path.abspath(consentctl)
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix="consent-valchanges-")
        self.out = os.path.join(self.dir, "net")
        self.procs = {}
        self.t0 = time.time()
        self.figures = []

    # --- plumbing ----------------------------------------------------------------------------
    def home(self, i):
        return os.path.join(self.out, f"node{i}")

    def log_path(self, i):
        return os.path.join(self.dir, f"node{i}.log")

    def http(self, i, method, path, body=None, timeout=10):
        req = urllib.request.Request(f"http://127.0.0.1:{self.base + 2 * i}{path}", data=body,
                                     method=method,
                                     headers={"Content-Type": "application/json"} if body else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout * SLOW) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return 0, b""

    def get_json(self, i, path):
        st, body = self.http(i, "GET", path)
        if st != 200:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return None

    def status(self, i):
        return self.get_json(i, "/v1/status")

    def height(self, i):
        return (self.status(i) or {}).get("height", -1)

    def wait(self, cond, seconds):
        deadline = time.time() + seconds * SLOW
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(0.1)
        return bool(cond())

    def start(self, i):
        log = open(self.log_path(i), "ab")
        self.procs[i] = subprocess.Popen([self.consentd, "start", "--home", self.home(i)],
                                         stdout=log, stderr=subprocess.STDOUT)

    def stop(self, i):
        p = self.procs[i]
        p.send_signal(signal.SIGCONT)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60 * SLOW)
        self.check(f"node{i} exits cleanly on SIGTERM", p.returncode in (0, -signal.SIGTERM),
                   str(p.returncode))

    def ctl(self, *args, timeout=60):
        p = subprocess.run([self.ctl_path, *args], cwd=self.dir, capture_output=True, text=True,
                           timeout=timeout * SLOW)
        return p.returncode, p.stdout, p.stderr

    def log(self, i):
        with open(self.log_path(i), errors="replace") as f:
            return f.read()

    def elapsed(self):
        return f"{time.time() - self.t0:.1f} s"

    # --- transactions --------------------------------------------------------------------------
    def submit(self, i, tx, wait_commit=True):
        """POST /v1/txs with {"encoding": hex}; returns (HTTP status, answer)."""
        body = json.dumps({"encoding": tx.hex()}).encode()
        path = "/v1/txs?wait=commit" if wait_commit else "/v1/txs"
        st, data = self.http(i, "POST", path, body, timeout=40)
        try:
            return st, json.loads(data)
        except ValueError:
            return st, {"raw": data[:200]}

    def grant(self, purpose):
        self.brand_grants += 1
        return hp.make_grant(self.chain_id, subject_seed=self.subject_seed,
                             controller=self.brand, purposes=(purpose,))

    def committed(self, i, tx):
        return self.http(i, "GET", "/v1/txs/" + hp.tx_id(tx).hex())[0] == 200

    def approve(self, seed, keys):
        return hp.make_set_validators(self.chain_id, seed, sorted(keys))

    def commit_signers(self, i, height):
        b = self.get_json(i, f"/v1/blocks/{height}")
        if not b:
            return None
        return {s["validator"] for s in b["commit"]["signatures"]}

    def validators(self, i):
        return self.get_json(i, "/v1/validators")

    def change_to(self, approvers, keys, label):
        """Each (node, seed) approver submits its approval of `keys` to its own node; waits for
        the set in office to be `keys`. Returns the height of the deciding block (or None)."""
        want = hp.set_hash(sorted(keys)).hex()
        first = True
        for node, seed in approvers:
            st, ans = self.submit(node, self.approve(seed, keys))
            self.check(f"{label}: approval by node{node}'s key committed", st == 200 and
                       ans.get("status") == "committed", f"{st} {ans}")
            if first:
                v = self.validators(node) or {}
                pend = [p for p in v.get("pending", []) if p.get("set_hash") == want]
                self.check(f"{label}: /v1/validators shows the first approval pending, "
                           f"1 of quorum {v.get('quorum')}",
                           len(pend) == 1 and pend[0].get("approvals") == 1 and
                           pend[0].get("in_office") is True and
                           pend[0].get("validator") == hp.pub_of(seed).hex(), json.dumps(v))
                first = False
        ok = self.wait(lambda: (self.validators(0) or {}).get("validators_hash") == want, 30)
        v = self.validators(0) or {}
        self.check(f"{label}: the new set is in office on node0", ok, json.dumps(v))
        if not ok:
            return None
        self.check(f"{label}: validators listed in ascending order, pending cleared",
                   v["validators"] == [k.hex() for k in sorted(keys)] and v["pending"] == [],
                   json.dumps(v))
        decided = v["since_height"] - 1
        self.figures.append(f"{label}: decided at height {decided}, new set of {len(keys)} "
                            f"commits from height {decided + 1} (t = {self.elapsed()})")
        print("     " + self.figures[-1], flush=True)
        return decided

    def forge_votes(self, i, seed, stop, count, goodbyes):
        """Links to node i as an outsider and, until `stop`, answers every proposal or non-nil
        vote it receives with a prevote and a precommit for the same block signed with `seed`.
        When the node closes the link (it cuts a peer that sends votes of a non-member), links
        again with a fresh key."""
        seen = set()
        while not stop.is_set():
            try:
                link = hp.P2PLink(self.base + 2 * i + 1, timeout=10 * SLOW)
            except (hp.LinkClosed, OSError):
                time.sleep(0.2)
                continue
            while not stop.is_set():
                kind, f = link.recv_msg(timeout=0.2)
                if kind == "goodbye":
                    goodbyes.append(f["reason"])
                if kind is None and link.closed():
                    break
                if kind not in ("proposal", "vote") or f["block_hash"] == bytes(32):
                    continue
                what = (f["height"], f["round"], f["block_hash"])
                if what in seen:
                    continue
                seen.add(what)
                try:
                    for vt in (hp.PREVOTE, hp.PRECOMMIT):
                        link.send(hp.signed_vote(seed, self.chain_id, vt, *what))
                        count[0] += 1
                except hp.LinkClosed:
                    break
            link.close()

    # --- proofs ----------------------------------------------------------------------------------
    def prove(self, i, purpose, name):
        st, body = self.http(i, "GET", f"/v1/consents/{hp.pub_of(self.subject_seed).hex()}/"
                                       f"{self.brand.hex()}/{purpose}")
        path = os.path.join(self.dir, f"{name}.json")
        with open(path, "wb") as f:
            f.write(body)
        self.check(f"{name}: the node serves the proof", st == 200, body[:200])
        return path, (json.loads(body) if st == 200 else None)

    def verify(self, path):
        return self.ctl("verify", path, "--genesis", self.genesis, "--max-age", "0")

    def verify_ok(self, path, name, changes):
        with open(path) as f:
            proof = json.load(f)
        n = len(proof.get("validator_changes", []))
        self.check(f"{name}: carries {changes} validator change(s)", n == changes, str(n))
        rc, out, err = self.verify(path)
        self.check(f"{name}: consentctl verify with the genesis only: VALID, granted",
                   rc == 0 and "VALID" in out and "granted" in out, out + err)

    def verify_refused(self, proof, name, expect):
        path = os.path.join(self.dir, f"tampered-{name}.json")
        with open(path, "w") as f:
            json.dump(proof, f)
        rc, out, err = self.verify(path)
        self.check(f"tampered proof ({name}): consentctl verify exits 1, INVALID naming "
                   f"'{expect}'", rc == 1 and "INVALID" in out and expect in out, out + err)

    def cli_checks(self):
        """`consentctl audit` (walks every header through the changes) and `consentctl
        validators`, from the genesis only. Enabled when the consentctl given has them with
        validator set changes (issue 17's cli work, which adds `validators`); an
        older consentctl audits with the genesis set alone, which cannot pass after a change, so
        the checks are skipped with a note rather than failed."""
        rc, out, err = self.ctl("--help")
        if not re.search(r"(?m)^\s+validators\s", out):
            print("     SKIPPED consentctl audit/validators: this consentctl predates validator set "
                  "changes (issue 17 cli work)", flush=True)
            return
        node = f"http://127.0.0.1:{self.base}"
        rc, out, err = self.ctl("--node", node, "audit", "--genesis", self.genesis,
                                "--max-age", "0")
        self.check("consentctl audit from the genesis: VALID through the 3 changes",
                   rc == 0 and out.startswith("VALID") and
                   re.search(r"\b3 (validator set )?change", out), out + err)
        rc, out, err = self.ctl("--node", node, "validators", "--genesis", self.genesis)
        self.check("consentctl validators: the set in office, checked through the 3 changes",
                   rc == 0 and re.search(r"\b3 (validator set )?change", out), out + err)

    # --- the scenario ----------------------------------------------------------------------------
    def setup(self):
        self.base = free_base(2 * (N_VALIDATORS + 2))
        r = subprocess.run([self.consentd, "testnet", "--validators", str(N_VALIDATORS),
                            "--followers", "2", "--out", self.out, "--base-port", str(self.base),
                            "--chain-id", "valchanges-e2e"], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("consentd testnet: " + r.stderr)
        self.genesis = os.path.join(self.out, "genesis.json")
        with open(self.genesis) as f:
            self.chain_id = json.load(f)["chain_id"]
        for i in range(N_VALIDATORS + 2):
            cfg = os.path.join(self.home(i), "config.toml")
            with open(cfg) as f:
                text = f.read()
            # No idle blocks: the chain moves only with the test's transactions, so that the
            # proposer of the next height is known when the test stops a validator.
            text, n = re.subn(r"(?m)^heartbeat_ms\s*=.*$", "heartbeat_ms = 0", text)
            if n != 1:
                raise RuntimeError(f"no heartbeat_ms line in {cfg}")
            with open(cfg, "w") as f:
                f.write(text)
        self.seeds = [hp.seed_of_keyfile(os.path.join(self.home(i), "node.key"))
                      for i in range(N_VALIDATORS + 2)]
        self.keys = [hp.pub_of(s) for s in self.seeds]
        self.subject_seed = hp.new_seed()
        self.brand_grants = 0
        self.brand = hp.pub_of(hp.new_seed())
        for i in range(N_VALIDATORS + 1):
            self.start(i)
        ok = self.wait(lambda: all((self.status(i) or {}).get("peers", 0) >= 3
                                   for i in range(N_VALIDATORS)), 60)
        self.check("4 validators linked", ok)
        # Streams open on node1 through every change: one of every change, one of the brand's.
        # (The node used to terminate when a block with a SET_VALIDATORS transaction met an open
        # stream: the stream looked up the transaction's controller, which it has none of.)
        self.streams = {}
        for name, ctl in (("all", None), ("brand", self.brand.hex())):
            st, sock, rest = open_stream(self.base + 2, ctl, 10 * SLOW)
            self.check(f"stream ({name}) opened on node1", st == 101, str(st))
            if st == 101:
                self.streams[name] = StreamReader(sock, rest)
        v = self.validators(0) or {}
        self.check("/v1/validators before any change: the genesis set, since height 1, quorum 3",
                   v.get("validators") == [k.hex() for k in self.keys[:4]] and
                   v.get("since_height") == 1 and v.get("quorum") == 3 and
                   v.get("pending") == [], json.dumps(v))

    def scenario(self):
        k0, k1, k2, k3, k4 = self.keys[:5]
        s0, s1, s2, s3 = self.seeds[:4]
        # G1, and its proof before any change.
        g1 = self.grant("g1")
        st, ans = self.submit(0, g1)
        self.check("G1 commits", st == 200 and ans.get("status") == "committed", f"{st} {ans}")
        path, _ = self.prove(0, "g1", "proof-g1-before")
        self.verify_ok(path, "G1 proof before any change", 0)

        # (b) Rotate validator 3's key.
        s3_new = hp.new_seed()
        k3_new = hp.pub_of(s3_new)
        set1 = [k0, k1, k2, k3_new]
        d1 = self.change_to([(0, s0), (1, s1), (2, s2)], set1, "rotate K3 -> K3'")
        if d1 is None:
            return
        ok = self.wait(lambda: (self.status(3) or {}).get("validator") is False, 30)
        self.check("node3, still on K3, reports \"validator\": false after the change", ok,
                   str(self.status(3)))
        g2 = self.grant("g2")
        st, ans = self.submit(1, g2)
        self.check("G2 commits with the new set (K3' not running yet)",
                   st == 200 and ans.get("status") == "committed", f"{st} {ans}")
        # The old key cannot help make a quorum. One of node0..node2 is stopped (not the
        # proposer of the next height, round 0, so that a block is proposed), node3 is up on K3.
        # With heartbeats off the chain waits for transactions, so the next height is known.
        order = sorted(set1)  # a chosen set's proposer order: keys[(height + round) mod n]
        for _ in range(4):
            proposer = order[(self.height(0) + 1) % 4]
            if proposer != k3_new:
                break
            self.submit(0, self.grant("filler"))  # K3' (not running yet) would propose: skip
        stopped = next(i for i in (2, 1, 0) if self.keys[i] != proposer)
        live = [i for i in (0, 1, 2) if i != stopped]
        self.procs[stopped].send_signal(signal.SIGSTOP)
        # An outsider peer holding the old K3 seed (a leaked key) linked to the two live
        # validators signs, with K3, a prevote and a precommit for every block it sees proposed
        # or voted.
        stop_forging = threading.Event()
        forged, goodbyes = [0], []
        forgers = [threading.Thread(target=self.forge_votes,
                                    args=(i, s3, stop_forging, forged, goodbyes), daemon=True)
                   for i in live]
        for t in forgers:
            t.start()
        held = self.grant("held")
        # To the proposer's node first (so that it proposes at once), then to the other.
        live.sort(key=lambda i: self.keys[i] != proposer)
        answers = [self.submit(i, held, wait_commit=False) for i in live]
        self.check(f"a grant is accepted by node{live[0]} and node{live[1]} while node{stopped} "
                   "is stopped", all(st == 202 for st, _ in answers), str(answers))
        sent = self.wait(lambda: forged[0] >= 2, 20)
        time.sleep(3 * SLOW)  # a quorum counting the old key's votes would commit in this
        stop_forging.set()
        for t in forgers:
            t.join(timeout=10 * SLOW)
        self.check("an outsider sent prevotes and precommits signed with the old K3 for the "
                   "block proposed", sent, str(forged[0]))
        self.check(f"no quorum from K{live[0]}, K{live[1]} and the old K3 (node3 up on K3, plus "
                   f"{forged[0]} forged K3 votes): the grant is not committed",
                   not self.committed(live[0], held))
        print(f"     the nodes cut the forger's links: {sorted(set(goodbyes))[:3]}", flush=True)
        # node3 comes back with K3' (same home and data directory, new node.key).
        self.stop(3)
        key_path = os.path.join(self.home(3), "node.key")
        os.rename(key_path, key_path + ".old")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"type": "consent-ledger-key", "version": 1, "kind": "validator",
                       "secret": s3_new.hex(), "public_key": k3_new.hex()}, f)
        self.start(3)
        ok = self.wait(lambda: self.committed(live[0], held), 60)
        self.check(f"node3 restarted with K3': the held grant commits (K{live[0]}, K{live[1]}, "
                   "K3')", ok)
        st3 = self.status(3) or {}
        self.check("node3 reports \"validator\": true with K3'",
                   st3.get("validator") is True and st3.get("node_key") == k3_new.hex(), str(st3))
        if ok:
            h = self.get_json(live[0], "/v1/txs/" + hp.tx_id(held).hex())["height"]
            signers = self.commit_signers(live[0], h) or set()
            self.check(f"the held grant's block {h} is committed by K{live[0]}, K{live[1]} and "
                       "K3'", signers == {self.keys[live[0]].hex(), self.keys[live[1]].hex(),
                                          k3_new.hex()}, str(signers))
        self.procs[stopped].send_signal(signal.SIGCONT)
        ok = self.wait(lambda: self.height(stopped) >= self.height(live[0]), 30)
        self.check(f"node{stopped} resumed and caught up", ok)
        path, _ = self.prove(1, "g2", "proof-g2-after-rotation")
        self.verify_ok(path, "G2 proof after the rotation", 1)

        # (c) Remove validator 2, while it is down (kill -9): restarted after the change, it
        # syncs through the change block and runs as a follower.
        self.procs[2].kill()
        self.procs[2].wait(timeout=30 * SLOW)
        set2 = [k0, k1, k3_new]
        d2 = self.change_to([(0, s0), (1, s1), (3, s3_new)], set2, "remove K2")
        if d2 is None:
            return
        g3 = self.grant("g3")
        st, ans = self.submit(3, g3)
        self.check("G3 commits with the 3-set", st == 200 and ans.get("status") == "committed",
                   f"{st} {ans}")
        self.start(2)
        ok = self.wait(lambda: self.height(2) >= self.height(0) and
                       (self.status(2) or {}).get("validator") is False, 60)
        self.check("node2, killed before its removal and restarted after, catches up past the "
                   "change and reports \"validator\": false", ok, str(self.status(2)))
        path, _ = self.prove(3, "g3", "proof-g3-after-removal")
        self.verify_ok(path, "G3 proof after the removal", 2)

        # (d) Promote the follower node4, without restarting it.
        pid4 = self.procs[PROMOTED].pid
        set3 = [k0, k1, k3_new, k4]
        d3 = self.change_to([(0, s0), (1, s1), (3, s3_new)], set3, "promote node4")
        if d3 is None:
            return
        ok = self.wait(lambda: (self.status(PROMOTED) or {}).get("validator") is True, 30)
        self.check("node4 reports \"validator\": true without a restart",
                   ok and self.procs[PROMOTED].pid == pid4 and
                   self.procs[PROMOTED].poll() is None, str(self.status(PROMOTED)))
        self.procs[0].send_signal(signal.SIGSTOP)
        time.sleep(1)
        g4 = self.grant("g4")
        st, ans = self.submit(1, g4)
        ok = st == 200 and ans.get("status") == "committed"
        self.check("with node0 stopped, a grant commits (K1, K3', K4)", ok, f"{st} {ans}")
        if ok:
            signers = self.commit_signers(1, ans["height"]) or set()
            self.check(f"block {ans['height']}'s commit carries node4's precommit",
                       k4.hex() in signers and len(signers) >= 3, str(signers))
        self.procs[0].send_signal(signal.SIGCONT)

        # Every commit is signed by members of the set of its height only: no commit after the
        # rotation carries the old K3, none after the removal K2.
        top = max(self.height(i) for i in range(N_VALIDATORS + 1))
        self.wait(lambda: self.height(0) >= top, 30)
        stray = []
        for h in range(1, top + 1):
            in_office = (self.keys[:4] if h <= d1 else set1 if h <= d2 else set2 if h <= d3
                         else set3)
            signers = self.commit_signers(0, h)
            if signers is None or not signers <= {k.hex() for k in in_office}:
                stray.append(h)
        self.check(f"every commit of heights 1..{top} is signed by its height's set only",
                   not stray, str(stray[:10]))

        # The streams saw every approval (the unfiltered one) and none (the brand's).
        alive = self.procs[1].poll() is None
        self.check("node1, with its streams open through 9 approvals, is still running", alive,
                   f"exit code {self.procs[1].returncode}")
        approvals = lambda r: [m for m in r.messages if m.get("kind") == "set_validators"]
        all_ok = "all" in self.streams and self.wait(
            lambda: len(approvals(self.streams["all"])) == 9, 20)
        self.check("the unfiltered stream carried the 9 approvals (validator, validators, "
                   "set_hash; no controller)", all_ok and all(
                       "controller" not in m and m.get("validator") and m.get("set_hash")
                       for m in approvals(self.streams["all"])),
                   str([m.get("kind") for m in self.streams["all"].messages]
                       if "all" in self.streams else "no stream"))
        brand = self.streams.get("brand")
        self.check(f"the brand's stream carried its {self.brand_grants} grants and no approval",
                   brand is not None and not brand.closed and self.wait(
                       lambda: len(brand.messages) == self.brand_grants, 20) and
                   all(m.get("kind") == "grant" for m in brand.messages),
                   str([m.get("kind") for m in brand.messages]) if brand else "no stream")

        # The end state.
        v = self.validators(0) or {}
        self.check("/v1/validators: the final set (K0, K1, K3', K4), since the promotion",
                   v.get("validators") == [k.hex() for k in sorted(set3)] and
                   v.get("since_height") == d3 + 1 and v.get("quorum") == 3, json.dumps(v))
        c = self.get_json(0, "/v1/validators/changes") or {}
        changes = c.get("changes", [])
        self.check("/v1/validators/changes lists 3 changes at the deciding heights with the new "
                   "sets", [x["header"]["height"] for x in changes] == [d1, d2, d3] and
                   [x["validators"] for x in changes] ==
                   [[k.hex() for k in sorted(s)] for s in (set1, set2, set3)],
                   json.dumps(c)[:500])
        heads = self.get_json(0, f"/v1/headers?from={d1}&to={d1 + 1}") or {"headers": []}
        f = [x["fields"] for x in heads["headers"]]
        self.check("headers show next_validators_hash: the change block names the new set",
                   len(f) == 2 and f[0]["next_validators_hash"] == hp.set_hash(sorted(set1)).hex()
                   and f[0]["validators_hash"] != f[0]["next_validators_hash"] and
                   f[1]["validators_hash"] == f[0]["next_validators_hash"], str(f))

        # A node started from scratch syncs from genesis to the same set and head.
        self.start(FRESH)
        target = self.height(0)
        ok = self.wait(lambda: self.height(FRESH) >= target, 90)
        self.check(f"node5 (empty data directory) syncs from genesis past height {target}", ok,
                   f"node5 at {self.height(FRESH)}")

        def same_head():
            a, b = self.status(0) or {}, self.status(FRESH) or {}
            return a.get("height") == b.get("height") and a.get("head_hash") and \
                a.get("head_hash") == b.get("head_hash")
        self.check("node5 reaches the same head (height and hash) as node0",
                   self.wait(same_head, 30))

        def same_set():
            a, b = self.validators(0), self.validators(FRESH)
            return a is not None and a == b
        self.check("node5's /v1/validators answer equals node0's", self.wait(same_set, 30),
                   f"{self.validators(0)} vs {self.validators(FRESH)}")
        st5 = self.status(FRESH) or {}
        self.check("node5 is a follower", st5.get("validator") is False, str(st5))

        # Every proof, fetched at the end, verifies from genesis through the 3 changes.
        final = {}
        for name, node in (("g1", FRESH), ("g2", 0), ("g3", 1)):
            path, proof = self.prove(node, name, f"proof-{name}-end")
            self.verify_ok(path, f"{name.upper()} proof at the end (from node{node})", 3)
            final[name] = proof
        self.cli_checks()
        p = final["g1"]
        if not p or len(p.get("validator_changes", [])) != 3:
            return
        ch = p["validator_changes"]
        self.verify_refused(dict(p, validator_changes=[ch[0], ch[2]]), "a change left out",
                            "validator_changes[1]: validators_hash")
        self.verify_refused(dict(p, validator_changes=ch[:2]), "the last change left out",
                            "validators_hash")
        self.verify_refused(dict(p, validator_changes=[ch[0], ch[1], ch[1], ch[2]]),
                            "an extra change", "validator_changes[2]: order")
        self.verify_refused(dict(p, validator_changes=[ch[1], ch[0], ch[2]]),
                            "changes reordered", "validator_changes[0]: validators_hash")
        wrong = dict(ch[1], validators=[x for x in ch[1]["validators"] if x != k0.hex()])
        self.verify_refused(dict(p, validator_changes=[ch[0], wrong, ch[2]]), "a wrong set list",
                            "validator_changes[1]: next_validators_hash")

    def main(self):
        try:
            self.setup()
            self.scenario()
        except Exception as e:  # noqa: BLE001 -- any crash of the test itself is a failure
            import traceback
            traceback.print_exc()
            self.check("the test ran to its end", False, repr(e))
        finally:
            for p in self.procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGCONT)
                    p.send_signal(signal.SIGTERM)
            for p in self.procs.values():
                try:
                    p.wait(timeout=30 * SLOW)
                except subprocess.TimeoutExpired:
                    p.kill()
        crashed = [i for i, p in self.procs.items() if p.returncode not in (0, -signal.SIGTERM)]
        self.check("every node exited cleanly on SIGTERM", not crashed,
                   str({i: self.procs[i].returncode for i in crashed}))
        for f in self.figures:
            print("figure: " + f)
        print(f"figure: wall time {self.elapsed()}")
        print(f"validator_changes: {self.passed} passed, {self.failed} failed", flush=True)
        if self.failed:
            for i in sorted(self.procs):
                print(f"--- last lines of node{i}.log ---")
                print("".join(self.log(i).splitlines(True)[-25:]))
            print(f"(kept {self.dir})")
        elif not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return 0 if self.failed == 0 else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--consentd", required=True)
    ap.add_argument("--consentctl", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    sys.exit(Net(a.consentd, a.consentctl, a.keep).main())
