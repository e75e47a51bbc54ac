"""The attacks of issue 16 as reusable loops, for the adversarial benchmark
(tests/e2e/hostile_bench.py) and any test that wants an attacker running in the background.

Each attack is an object with start() and stop(); it runs in daemon threads until stop() (or
until its own bound on time and count: every loop here is bounded, and every target is a port on
127.0.0.1 given by the caller). `stats` counts what it did, so a report can say how hard it
pushed. Attacks that a node defends against by banning the attacker's key reconnect with a fresh
key, as a real attacker would.

Standard library plus python3-cryptography (through hostile_peer.py).
"""
import base64
import http.client
import json
import os
import socket
import struct
import threading
import time

import hostile_peer as hp

MAX_SECONDS = 600  # no attack runs longer than this, whatever the caller forgets


class Attack:
    name = "attack"

    def __init__(self):
        self.stats = {}
        self._stop = threading.Event()
        self._threads = []
        self._started = 0.0

    def count(self, key, n=1):
        self.stats[key] = self.stats.get(key, 0) + n

    def running(self):
        return not self._stop.is_set() and time.time() - self._started < MAX_SECONDS

    def spawn(self, fn, *args):
        t = threading.Thread(target=self._guard, args=(fn,) + args, daemon=True)
        self._threads.append(t)
        t.start()

    def _guard(self, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # an attacker thread never takes the test down
            self.count("errors")
            self.stats["last_error"] = f"{type(e).__name__}: {e}"

    def start(self):
        self._started = time.time()
        self.run()
        return self

    def run(self):
        raise NotImplementedError

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)

    def sleep(self, s):
        self._stop.wait(s)


def _link(port, **kw):
    try:
        return hp.P2PLink(port, **kw)
    except (hp.LinkClosed, OSError, ValueError):
        return None


class HandshakeRelay(Attack):
    """An outsider relays handshakes between node A and node B (claiming B's key to A), then
    sends a malformed frame on the link A admitted, to get B's key banned."""
    name = "handshake relay"

    def __init__(self, port_a, port_b):
        super().__init__()
        self.port_a, self.port_b = port_a, port_b

    def run(self):
        self.spawn(self.loop)

    def loop(self):
        key_b = hp.probe_hello(self.port_b)["node_key"]
        while self.running():
            self.count("attempts")
            a = _link(self.port_a, complete=False, node_key=key_b)
            if a is None:
                self.sleep(0.05)
                continue
            b = _link(self.port_b, complete=False, challenge=a.node_hello["challenge"])
            if b is None:
                a.close()
                self.sleep(0.05)
                continue
            kind, f = b.recv_msg(3, want="hello_ack")
            if kind == "hello_ack":
                a.send(hp.enc_hello_ack(f["signature"]))
                # A node sends its own hello_ack before it checks ours; only a link it admitted
                # goes on to status messages (a refused one ends with a goodbye).
                kind2, _ = a.recv_msg(3, want="status")
                if kind2 == "goodbye" or kind2 is None:
                    self.count("refused")
                elif kind2 == "status":
                    self.count("admitted_as_b")
                    try:
                        a.send(os.urandom(64))  # malformed: a ban for whoever A thinks this is
                    except hp.LinkClosed:
                        pass
            a.close()
            b.close()
            self.sleep(0.05)


class ProposalPoison(Attack):
    """An outsider linked to every node copies each honest proposal it receives with its
    transactions stripped (or swapped for one it made), and sends the copies to every node."""
    name = "proposal poisoning"

    def __init__(self, ports, chain_id):
        super().__init__()
        self.ports, self.chain_id = ports, chain_id
        self.links = {}
        self.lock = threading.Lock()
        self.seen = set()

    def run(self):
        for p in self.ports:
            self.spawn(self.reader, p)

    def reader(self, port):
        while self.running():
            link = _link(port)
            if link is None:
                self.sleep(0.2)
                continue
            with self.lock:
                self.links[port] = link
            while self.running() and not link.closed():
                kind, f = link.recv_msg(0.5, want="proposal")
                if kind != "proposal":
                    continue
                key = (f["block_hash"], f["round"])
                with self.lock:
                    if key in self.seen:
                        continue
                    self.seen.add(key)
                    targets = [l for p, l in self.links.items() if p != port]
                swapped = [hp.make_grant(self.chain_id)] if f["txs"] else []
                for txs in ([], swapped):
                    copy = hp.enc_proposal(f["height"], f["round"], f["pol_round"], f["proposer"],
                                           f["signature"], f["header"], txs)
                    for t in targets:
                        try:
                            t.send(copy)
                            self.count("copies_sent")
                        except hp.LinkClosed:
                            pass
            self.count("links_lost")
            self.sleep(0.1)


def _big_tx_list(chain_id, total_bytes):
    """Syntactically valid grants with random signatures, about total_bytes in all."""
    purposes = tuple(f"p{i:02d}." + "x" * 58 for i in range(32))
    tx = hp.make_grant(chain_id, valid=False, purposes=purposes)
    return [tx] * max(1, total_bytes // (len(tx) + 4))


class FutureFlood(Attack):
    """An outsider sends proposals for the next height with bodies of about `mib` MiB and random
    signatures, as fast as the link takes them (reconnecting with a fresh key when banned)."""
    name = "future-height flood"

    def __init__(self, port, chain_id, mib=15, height_fn=None):
        super().__init__()
        self.port, self.chain_id, self.mib = port, chain_id, mib
        self.height_fn = height_fn

    def run(self):
        self.spawn(self.loop)

    def loop(self):
        txs = _big_tx_list(self.chain_id, self.mib << 20)
        body = hp.enc_tx_list(txs)
        while self.running():
            link = _link(self.port)
            if link is None:
                self.sleep(0.2)
                continue
            rnd, height = 0, link.node_hello["height"]
            header_len = len(self._header(1))
            frames = hp.PremaskedFrames(body, 2 + 8 + 4 + 4 + 32 + 64 + 4 + header_len)
            while self.running() and not link.closed():
                for kind, f in link.drain():
                    if kind == "status":
                        height = max(height, f["height"])
                # The node decides height + 1: these are for the height after it.
                h = (self.height_fn() if self.height_fn else height) + 2
                prefix = (hp.u8(1) + hp.u8(5) + hp.u64(h) + hp.u32(rnd) + hp.u32(hp.NO_ROUND) +
                          os.urandom(32) + os.urandom(64) + hp.bts(self._header(h)))
                rnd += 1
                try:
                    link.send_frame(frames.frame(prefix))
                    self.count("proposals_sent")
                    self.count("bytes_sent", frames.n)
                except hp.LinkClosed:
                    break
            self.count("links_lost")
            link.close()

    def _header(self, h):
        return (b"\x10\x01" + hp.sstr(self.chain_id) + hp.u64(h) + hp.u64(0) + os.urandom(32) +
                hp.u64(0) + os.urandom(32 * 3) + os.urandom(32))


class HeightLie(Attack):
    """An outsider tells a node it is at height 2^62 and never answers a block request."""
    name = "height lie"

    def __init__(self, port):
        super().__init__()
        self.port = port

    def run(self):
        self.spawn(self.loop)

    def loop(self):
        while self.running():
            link = _link(self.port, height=1 << 62)
            if link is None:
                self.sleep(0.2)
                continue
            while self.running() and not link.closed():
                try:
                    link.send(hp.enc_status(1 << 62, os.urandom(32)))
                except hp.LinkClosed:
                    break
                kind, _ = link.recv_msg(0.25, want="block_req")
                if kind == "block_req":
                    self.count("block_requests_ignored")
            self.count("links_lost")
            link.close()


class AdmissionFill(Attack):
    """An outsider opens `links` peer links with fresh keys to each port and holds them."""
    name = "admission fill"

    def __init__(self, ports, links=64):
        super().__init__()
        self.ports = ports if isinstance(ports, (list, tuple)) else [ports]
        self.n = links

    def run(self):
        for p in self.ports:
            self.spawn(self.loop, p)

    def loop(self, port):
        self.port, held = port, []
        self.held = held
        while self.running():
            held[:] = [l for l in held if not l.closed()]
            if len(held) < self.n:
                link = _link(port, timeout=5)
                if link is None:
                    self.count("refused")
                    self.sleep(0.1)
                else:
                    held.append(link)
                    self.count("admitted")
            else:
                self.sleep(0.2)
        for l in held:
            l.close()


class TxFloodApi(Attack):
    """API clients post batches of `batch` grants with random signatures over `connections`
    keep-alive connections (each a full signature check for the node)."""
    name = "API transaction flood"

    def __init__(self, api_port, chain_id, connections=8, batch=1000):
        super().__init__()
        self.port, self.chain_id = api_port, chain_id
        self.connections, self.batch = connections, batch

    def run(self):
        for _ in range(self.connections):
            self.spawn(self.loop)

    def loop(self):
        body = json.dumps([{"encoding": hp.make_grant(self.chain_id, valid=False).hex()}
                           for _ in range(self.batch)]).encode()
        conn = None
        while self.running():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", "/v1/txs", body, {"Content-Type": "application/json"})
                res = conn.getresponse()
                res.read()
                self.count(f"http_{res.status}")
                if res.status == 429:
                    self.sleep(float(res.getheader("Retry-After", "1") or 1) / 10)
            except (OSError, http.client.HTTPException):
                self.count("connection_errors")
                conn = None
                self.sleep(0.1)


class StreamStall(Attack):
    """API clients open `streams` WebSocket streams and never read a byte: half filtered on a
    controller that never appears (they hold slots), half unfiltered (their backlog grows with
    every committed transaction)."""
    name = "stalled streams"

    def __init__(self, api_port, streams=256):
        super().__init__()
        self.port, self.n = api_port, streams
        self.socks = []

    def run(self):
        self.spawn(self.loop)

    def open_one(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        key = base64.b64encode(os.urandom(16)).decode()
        self.count("attempts")
        query = f"?controller={os.urandom(32).hex()}" if self.stats["attempts"] % 2 else ""
        s.sendall((f"GET /v1/stream{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = s.recv(256)
        return s, head.split(b"\r\n")[0]

    def loop(self):
        while self.running() and len(self.socks) < self.n:
            try:
                s, line = self.open_one()
                if b"101" in line:
                    self.socks.append(s)
                    self.count("open")
                else:
                    self.count("refused")
                    s.close()
                    self.sleep(0.05)
            except OSError:
                self.count("errors")
                self.sleep(0.1)
        while self.running():
            self.sleep(0.5)
        for s in self.socks:
            s.close()
