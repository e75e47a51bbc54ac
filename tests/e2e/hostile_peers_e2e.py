#!/usr/bin/env python3
"""Hostile peers against a real 4-validator network (issue 16, items 1 and 6): consentd processes
on loopback, made by `consentd testnet`, attacked with tests/e2e/hostile_peer.py.

(a) Handshake relay. An outsider with no key sits between two validators A and B, which are
    already linked:
    - relay: to A it claims B's key; to B it claims A's key with A's challenge; it passes B's
      hello_ack on to A;
    - forwarder: it dials both and passes every message on unchanged (each sees the other's hello
      and hello_ack).
    Then it sends a malformed frame on every link. Asserted: no relayed link is admitted (the
    node says goodbye "bad handshake signature"), every validator keeps its 3 validator peers,
    nobody is banned (consent_peer_bans_total stays 0) and grants still commit.
(b) Admission. An outsider opens links with fresh keys, completing the handshake:
    - from 127.0.0.1 until refused: the excess is refused with a goodbye naming the per-IP cap;
    - from other loopback addresses (127.0.0.2, ...) until every validator's slots are full;
    then a validator is restarted: it must be linked to the 3 others again (guests are evicted
    for validators) and grants commit.

Usage: hostile_peers_e2e.py --consentd PATH --consentctl PATH
Prints "hostile_peers: N passed, M failed"; exit 0 iff M == 0. CONSENT_E2E_SLOW (a factor,
default 1) stretches every wait for sanitizer builds.
"""
import argparse
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_peer as hp  # noqa: E402
from e2e_common import Checks  # noqa: E402
from multinode_e2e import free_base_port  # noqa: E402

N = 4
SLOW = float(os.environ.get("CONSENT_E2E_SLOW", "1"))
BAD_FRAME = bytes([hp.WIRE_VERSION, 0xFF])  # an unknown message type: a malformed frame


def t(seconds):
    return seconds * SLOW


class Pump:
    """A message-level forwarder between two WebSocket connections (the outsider's client side
    of each): every message read from one is sent to the other, unchanged."""

    def __init__(self, src, dst, log, buffered=b""):
        self.src, self.dst, self.log = src, dst, log
        self.buf = buffered  # bytes read with the upgrade answer (the node's hello follows it)
        threading.Thread(target=self.run, daemon=True).start()

    def read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.src.recv(65536)
            if not chunk:
                raise OSError("eof")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def run(self):
        try:
            while True:
                b0, b1 = self.read_exact(2)
                opcode, n = b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self.read_exact(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self.read_exact(8))[0]
                payload = self.read_exact(n)  # a server's frames are not masked
                if opcode == 9:
                    self.src.sendall(hp.ws_frame(payload, 10))
                elif opcode == 8:
                    break
                elif opcode == 2:
                    kind, f = hp.decode(payload)
                    self.log.append((kind, f))
                    self.dst.sendall(hp.ws_frame(payload))
        except (OSError, ValueError):
            pass


class Net(Checks):
    def __init__(self, consentd, consentctl):
        super().__init__(verbose=True)
        self.consentd, self.ctl_path = os.path.abspath(consentd), os.path.abspath(consentctl)
        self.dir = tempfile.mkdtemp(prefix="consent-hostile-peers-")
        self.out = os.path.join(self.dir, "net")
        self.procs = {}
        self.links = {i: [] for i in range(N)}  # the outsider's admitted links, per node
        self.nonce = 0

    # --- nodes ---------------------------------------------------------------------------
    def home(self, i):
        return os.path.join(self.out, f"node{i}")

    def api_port(self, i):
        return self.base + 2 * i

    def p2p_port(self, i):
        return self.base + 2 * i + 1

    def get(self, i, path, timeout=5):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port(i)}{path}",
                                        timeout=timeout) as r:
                return r.status, r.read().decode()
        except OSError:
            return None, ""

    def status(self, i):
        st, body = self.get(i, "/v1/status")
        return json.loads(body) if st == 200 else {}

    def metrics(self, i):
        return self.get(i, "/metrics")[1]

    def bans(self, i):
        return hp.metric(self.metrics(i), "consent_peer_bans_total")

    def validator_peers(self, i):
        """Links to validators: the node's own count if it has one, else its peers less the
        outsider's links to it that are still open."""
        text = self.metrics(i)
        v = hp.metric(text, "consent_validator_peers")
        if v is not None:
            return int(v)
        peers = self.status(i).get("peers", 0)
        return peers - sum(1 for link in self.links[i] if not link.closed())

    def start(self, i):
        log = open(os.path.join(self.dir, f"node{i}.log"), "ab")
        self.procs[i] = subprocess.Popen([self.consentd, "start", "--home", self.home(i)],
                                         stdout=log, stderr=subprocess.STDOUT)

    def stop(self, i, sig=signal.SIGKILL):
        p = self.procs.get(i)
        if p and p.poll() is None:
            p.send_signal(sig)
            p.wait(timeout=60)

    def wait(self, cond, timeout):
        deadline = time.time() + t(timeout)
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(0.1)
        return cond()

    def ctl(self, *args, node=0, timeout=60):
        env = dict(os.environ, CONSENT_NODE=f"http://127.0.0.1:{self.api_port(node)}")
        p = subprocess.run([self.ctl_path, *args], cwd=self.dir, env=env, capture_output=True,
                           text=True, timeout=t(timeout))
        return p.returncode, p.stdout, p.stderr

    def grants_commit(self, label, nodes=range(N), count=4):
        """One grant submitted to each node in turn, each waited for (consentctl --wait)."""
        ok = True
        for k in range(count):
            node = list(nodes)[k % len(nodes)]
            self.nonce += 1
            path = os.path.join(self.dir, f"{label}-{self.nonce}.json")
            rc, _, err = self.ctl("grant", "--key", "me.key", "--controller", self.brand,
                                  "--purpose", f"{label}.{k}", "--chain-id", self.chain_id,
                                  "--out", path)
            if rc == 0:
                rc, _, err = self.ctl("submit", path, "--wait", node=node, timeout=90)
            ok = ok and rc == 0
            if rc != 0:
                print(f"  grant {label}.{k} at node{node}: rc {rc}: {err.strip()}", flush=True)
        self.check(f"{label}: {count} grants commit", ok)

    def setup(self):
        self.base = free_base_port(2 * N)
        r = subprocess.run([self.consentd, "testnet", "--validators", str(N), "--out", self.out,
                            "--base-port", str(self.base), "--chain-id", "hostile-peers-e2e"],
                           capture_output=True, text=True, timeout=60)
        if not self.check("consentd testnet", r.returncode == 0, r.stderr):
            raise SystemExit(1)
        with open(os.path.join(self.out, "genesis.json")) as f:
            genesis = json.load(f)
        self.chain_id = genesis["chain_id"]
        self.val_keys = [bytes.fromhex(v["public_key"]) for v in genesis["validators"]]
        with open(os.path.join(self.home(0), "config.toml")) as f:
            cfg = f.read()
        m = re.search(r"(?m)^max_peers\s*=\s*(\d+)", cfg)
        self.max_peers = int(m.group(1)) if m else 50
        for i in range(N):
            self.start(i)
        self.check("4 validators linked", self.wait(
            lambda: all(self.status(i).get("peers") == N - 1 for i in range(N)), 60),
            str([self.status(i).get("peers") for i in range(N)]))
        self.ctl("keygen", "brand", "--out", "brand.key")
        self.ctl("keygen", "customer", "--out", "me.key")
        with open(os.path.join(self.dir, "brand.key")) as f:
            self.brand = json.load(f)["public_key"]
        rc, _, err = self.ctl("register", "--key", "brand.key", "--name", "Hostile Brand",
                              "--wait", timeout=90)
        self.check("brand registered", rc == 0, err)

    # --- (a) handshake relay -------------------------------------------------------------
    def admitted(self, link, timeout):
        """True if the node took the link: a message other than its hello_ack before a goodbye
        or the close. The node's goodbye reason is kept in link.goodbye."""
        deadline = time.time() + t(timeout)
        while time.time() < deadline:
            kind, _ = link.recv_msg(timeout=max(0.05, deadline - time.time()))
            if kind is None:
                return False
            if kind == "goodbye":
                return False
            if kind != "hello_ack":
                return True
        return False

    def send_quietly(self, link, data):
        try:
            link.send(data)
        except hp.LinkClosed:
            pass

    def relay(self, a, b):
        """To A: "I am B" (own challenge). To B: A's own hello (A's key, A's challenge). B's
        hello_ack goes to A. Returns (admitted by A, A's goodbye reason)."""
        to_a = hp.P2PLink(self.p2p_port(a), complete=False, node_key=self.val_keys[b])
        hello_a = to_a.node_hello
        to_b = hp.P2PLink(self.p2p_port(b), complete=False, node_key=hello_a["node_key"],
                          challenge=hello_a["challenge"])
        kind, ack_b = to_b.recv_msg(timeout=t(10), want="hello_ack")
        if kind != "hello_ack":
            return False, f"B sent no hello_ack: {kind} {to_b.goodbye}"
        self.send_quietly(to_a, hp.enc_hello_ack(ack_b["signature"]))
        took = self.admitted(to_a, 3)
        self.send_quietly(to_a, BAD_FRAME)
        self.send_quietly(to_b, BAD_FRAME)
        to_a.closed_soon(t(5))
        to_b.closed_soon(t(5))
        return took, to_a.goodbye

    def forward(self, a, b):
        """Dials A and B and forwards every message unchanged both ways; then a malformed frame
        to each. Returns the messages each node sent (kind, fields)."""
        sa, st_a, rest_a = hp.ws_connect(self.p2p_port(a))
        sb, st_b, rest_b = hp.ws_connect(self.p2p_port(b))
        if b"101" not in st_a or b"101" not in st_b:
            return None, None
        from_a, from_b = [], []
        Pump(sa, sb, from_a, rest_a)
        Pump(sb, sa, from_b, rest_b)
        self.wait(lambda: any(k == "goodbye" for k, _ in from_a) and
                  any(k == "goodbye" for k, _ in from_b), 5)
        for s in (sa, sb):
            try:
                s.sendall(hp.ws_frame(BAD_FRAME))
            except OSError:
                pass
        time.sleep(t(0.5))
        for s in (sa, sb):
            s.close()
        return from_a, from_b

    def network_untouched(self, label):
        peers = [self.validator_peers(i) for i in range(N)]
        ok = self.wait(lambda: all(self.validator_peers(i) == N - 1 for i in range(N)), 10)
        self.check(f"{label}: every validator keeps its 3 validator peers", ok,
                   f"{peers} -> {[self.validator_peers(i) for i in range(N)]}")
        bans = [self.bans(i) for i in range(N)]
        self.check(f"{label}: nobody banned (consent_peer_bans_total)",
                   all(b == 0 for b in bans), str(bans))

    def attack_relay(self):
        for a, b in [(0, 1), (1, 2), (2, 3), (3, 0)]:
            took, reason = self.relay(a, b)
            self.check(f"relay node{b} -> node{a}: not admitted", not took, f"goodbye {reason!r}")
            self.check(f"relay node{b} -> node{a}: goodbye 'bad handshake signature'",
                       reason == "bad handshake signature", repr(reason))
        self.network_untouched("after relays")
        for a, b in [(0, 2), (1, 3)]:
            from_a, from_b = self.forward(a, b)
            if from_a is None:
                self.check(f"forwarder node{a} <-> node{b}: both upgrades", False)
                continue
            kinds_a = [k for k, _ in from_a]
            kinds_b = [k for k, _ in from_b]
            bye_a = [f["reason"] for k, f in from_a if k == "goodbye"]
            bye_b = [f["reason"] for k, f in from_b if k == "goodbye"]
            admitted = [k for k in kinds_a + kinds_b if k not in ("hello", "hello_ack", "goodbye")]
            self.check(f"forwarder node{a} <-> node{b}: neither admits it", not admitted,
                       f"{kinds_a} {kinds_b}")
            self.check(f"forwarder node{a} <-> node{b}: both say 'bad handshake signature'",
                       bye_a == ["bad handshake signature"] and
                       bye_b == ["bad handshake signature"], f"{bye_a} {bye_b}")
        self.network_untouched("after forwarders")
        self.grants_commit("after-relay")

    # --- (b) admission -------------------------------------------------------------------
    def open_guest(self, i, source=None):
        """A link with a fresh key: (link, None) if admitted, (None, reason) if refused."""
        try:
            link = hp.P2PLink(self.p2p_port(i), source=source, timeout=t(10))
        except hp.HandshakeRefused as e:
            return None, str(e)
        except hp.LinkClosed as e:
            return None, f"closed: {e}"
        except OSError as e:
            return None, f"error: {e}"
        # Admitted only if the node then talks to it (a refusal comes as a goodbye after the
        # node's hello_ack).
        kind, f = link.recv_msg(timeout=t(2))
        if kind == "goodbye" or (kind is None and link.closed()):
            return None, f["reason"] if kind == "goodbye" else "closed"
        self.links[i].append(link)
        return link, None

    def fill(self, i, sources, max_links):
        """Opens guests from each source until refused; returns the refusal reasons."""
        reasons = []
        for src in sources:
            for _ in range(max_links):
                link, why = self.open_guest(i, source=src)
                if link is None:
                    reasons.append(why)
                    break
        return reasons

    def attack_admission(self):
        # One address: refused past the per-IP cap, with a goodbye that says so.
        reasons = self.fill(0, ["127.0.0.1"], self.max_peers)
        n_local = len(self.links[0])
        self.check("guests from 127.0.0.1 refused past the per-IP cap", n_local < self.max_peers - 3,
                   f"{n_local} admitted")
        self.check("the refusal names the per-IP cap",
                   bool(reasons) and "too many links from 127.0.0.1" in reasons[0], str(reasons))
        text = self.metrics(0)
        self.check("consent_peer_refused_total{reason=\"inbound_per_ip\"} counts it",
                   'consent_peer_refused_total{reason="inbound_per_ip"} 1' in text)
        # Many addresses: fill every validator's slots.
        sources = [f"127.0.0.{k}" for k in range(2, 40)]
        for i in range(N):
            self.fill(i, sources, self.max_peers)
        counts = [self.status(i).get("peers") for i in range(N)]
        self.check("every validator's slots filled by guests",
                   all(c is not None and c >= self.max_peers for c in counts), str(counts))
        self.check("validators still linked while full",
                   all(self.validator_peers(i) == N - 1 for i in range(N)),
                   str([self.validator_peers(i) for i in range(N)]))
        # Restart a validator: the others' slots it held are taken by guests before it is back.
        self.stop(3)
        self.links[3] = []
        time.sleep(t(1))
        for i in range(3):
            self.fill(i, [f"127.0.0.{k}" for k in range(40, 50)], self.max_peers)
        full = [self.status(i).get("peers") for i in range(3)]
        self.start(3)
        ok = self.wait(lambda: all(self.validator_peers(i) == N - 1 for i in range(N)), 60)
        self.check("the restarted validator is linked to the 3 others again", ok,
                   f"full at {full}; validator peers "
                   f"{[self.validator_peers(i) for i in range(N)]}")
        text = self.metrics(0)
        ev = hp.metric(text, "consent_peer_evictions_total")
        self.check("guests were evicted for it", ev is not None and ev >= 1, str(ev))
        self.grants_commit("after-admission", nodes=[3, 0, 1, 2])
        bans = [self.bans(i) for i in range(N)]
        self.check("admission: nobody banned", all(b == 0 for b in bans), str(bans))

    def main(self):
        try:
            self.setup()
            self.attack_relay()
            self.attack_admission()
        except Exception as e:  # noqa: BLE001 -- a crash of the test itself is a failure
            import traceback
            traceback.print_exc()
            self.check("the test ran to its end", False, repr(e))
        finally:
            for links in self.links.values():
                for link in links:
                    link.close()
            for p in self.procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in self.procs.values():
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        print(f"hostile_peers: {self.passed} passed, {self.failed} failed", flush=True)
        if self.failed:
            for i in sorted(self.procs):
                print(f"--- last lines of node{i}.log ---")
                with open(os.path.join(self.dir, f"node{i}.log"), errors="replace") as f:
                    print("".join(f.readlines()[-25:]))
        else:
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)
        return 1 if self.failed else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--consentd", required=True)
    ap.add_argument("--consentctl", required=True)
    a = ap.parse_args()
    sys.exit(Net(a.consentd, a.consentctl).main())
