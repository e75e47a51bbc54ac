"""A hostile peer for the adversarial tests: a p2p client that speaks consentd's wire protocol
(docs/protocol.md, "Peer protocol") from the outside, so a test can do to real consentd processes
what an attacker on the network would.

It connects to a node's /p2p WebSocket, exchanges hellos, and (unless told not to) completes the
handshake with an Ed25519 key of its own (a fresh random one by default). A background thread reads
frames, answers WebSocket pings, and queues every binary message; the test sends whatever bytes it
likes. Encoders and decoders cover every message type, with the signing messages of proposals and
votes, so a test can forge, copy, strip or flood them.

Standard library plus python3-cryptography (Ed25519), as the other scripts in this folder.
Not thread-safe beyond this: one thread sends, the reader thread receives.

    link = P2PLink(port)                       # handshake done, reader running
    kind, f = link.recv_msg(timeout=5)         # e.g. ("status", {"height": 7, ...})
    link.send(enc_status(2**62, bytes(32)))    # claim a height
    link.closed_soon(5)                        # True once the node closes the link
"""
import base64
import hashlib
import os
import queue
import socket
import struct
import threading
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

H = lambda b: hashlib.sha256(b).digest()
u8 = lambda v: struct.pack(">B", v)
u32 = lambda v: struct.pack(">I", v)
u64 = lambda v: struct.pack(">Q", v)
bts = lambda b: u32(len(b)) + b
sstr = lambda s: bts(s.encode("utf-8") if isinstance(s, str) else s)

WIRE_VERSION = 1
PROTOCOL_VERSION = 2  # the handshake (docs/protocol.md, "Peer protocol"); 1 is refused by nodes
TYPES = {"hello": 1, "hello_ack": 2, "status": 3, "txs": 4, "proposal": 5, "vote": 6,
         "block_req": 7, "block_resp": 8, "evidence": 9, "goodbye": 10}
NAMES = {v: k for k, v in TYPES.items()}
PREVOTE, PRECOMMIT = 1, 2
NO_ROUND = 0xFFFFFFFF  # pol_round of a proposal without a proof-of-lock round


# ---------------------------------------------------------------- keys and signatures
def new_seed():
    return os.urandom(32)


def pub_of(seed):
    pk = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign(seed, msg):
    return Ed25519PrivateKey.from_private_bytes(seed).sign(msg)


def seed_of_keyfile(path):
    """The 32-byte seed of a consentd/consentctl key file (JSON with a hex "secret" or "seed")."""
    import json
    with open(path) as f:
        j = json.load(f)
    for name in ("secret", "seed", "private_key"):
        if name in j:
            return bytes.fromhex(j[name])[:32]
    raise ValueError(f"{path}: no secret in the key file")


DIALER, ACCEPTOR = 1, 2  # a link's roles: who opened the connection, who accepted it


def handshake_message(chain_id, genesis_hash, dialer_key, dialer_challenge, acceptor_key,
                      acceptor_challenge, signer_role, protocol_version=PROTOCOL_VERSION):
    """What a hello_ack signs (protocol version 2): the transcript of both hellos in role order
    (dialer's key and challenge, then the acceptor's), ended by the signer's role."""
    return (b"consent-ledger/p2p-handshake/v2" + sstr(chain_id) + genesis_hash +
            u32(protocol_version) + dialer_key + dialer_challenge + acceptor_key +
            acceptor_challenge + u8(signer_role))


def handshake_message_v1(chain_id, genesis_hash, signer, challenge):
    """Protocol version 1 (relayable, refused by current nodes): the signer and the OTHER side's
    challenge. Kept to talk to old builds."""
    return b"consent-ledger/p2p-handshake/v1" + sstr(chain_id) + genesis_hash + signer + challenge


def proposal_message(chain_id, height, rnd, pol_round, block_hash):
    return (b"consent-ledger/proposal/v1" + sstr(chain_id) + u64(height) + u32(rnd) +
            u32(pol_round) + block_hash)


def vote_message(chain_id, vote_type, height, rnd, block_hash):
    return (b"consent-ledger/vote/v1" + sstr(chain_id) + u8(vote_type) + u64(height) + u32(rnd) +
            block_hash)


# ---------------------------------------------------------------- transactions and headers
def grant_body(subject, controller, purposes=("marketing.email",), issued_at_ms=None, nonce=None,
               jurisdiction="EU-GDPR"):
    issued = int(time.time() * 1000) if issued_at_ms is None else issued_at_ms
    nonce = int.from_bytes(os.urandom(6), "big") if nonce is None else nonce
    return (u8(1) + u8(1) + subject + controller + u32(len(purposes)) +
            b"".join(sstr(p) for p in sorted(purposes)) + u32(0) + sstr(jurisdiction) +
            bytes(32) + u64(issued) + u64(0) + u64(nonce))


def make_grant(chain_id, subject_seed=None, controller=None, valid=True, **kw):
    """A syntactically valid signed GRANT (body || sig). valid=False: a random signature, which
    only a signature check finds."""
    subject_seed = subject_seed or new_seed()
    body = grant_body(pub_of(subject_seed), controller or os.urandom(32), **kw)
    if not valid:
        return body + os.urandom(64)
    return body + sign(subject_seed, b"consent-ledger/tx/v1" + sstr(chain_id) + body)


def set_validators_body(validator, validators, issued_at_ms=None, nonce=None):
    """SET_VALIDATORS (kind 4, PROTOCOL.md sections 2 and 10): `validator` (the signer, a member
    of the set in office) approves the set `validators`. The keys are encoded as given: pass them
    strictly ascending for a valid transaction (sorted(keys) does it for raw 32-byte keys)."""
    issued = int(time.time() * 1000) if issued_at_ms is None else issued_at_ms
    nonce = int.from_bytes(os.urandom(6), "big") if nonce is None else nonce
    return (u8(4) + u8(1) + validator + u32(len(validators)) + b"".join(validators) +
            u64(issued) + u64(nonce))


def make_set_validators(chain_id, validator_seed, validators, **kw):
    """A signed SET_VALIDATORS (body || sig) by the validator whose Ed25519 seed is given."""
    body = set_validators_body(pub_of(validator_seed), validators, **kw)
    return body + sign(validator_seed, b"consent-ledger/tx/v1" + sstr(chain_id) + body)


def set_hash(validators):
    """H(list<key> validators): validators_hash / a SET_VALIDATORS's set_hash."""
    return H(u32(len(validators)) + b"".join(validators))


def tx_id(signed_tx):
    return H(b"\x00" + signed_tx)


def decode_header(enc):
    """The fields of a block header encoding (version 1: no next_validators_hash)."""
    p = 0

    def take(n):
        nonlocal p
        out = enc[p:p + n]
        if len(out) != n:
            raise ValueError("header: truncated")
        p += n
        return out
    kind, version = take(1)[0], take(1)[0]
    chain = take(struct.unpack(">I", take(4))[0]).decode()
    f = {"kind": kind, "version": version, "chain_id": chain,
         "height": struct.unpack(">Q", take(8))[0], "time_ms": struct.unpack(">Q", take(8))[0],
         "prev_block_hash": take(32), "log_size": struct.unpack(">Q", take(8))[0],
         "log_root": take(32), "state_root": take(32), "validators_hash": take(32)}
    if version >= 2:
        f["next_validators_hash"] = take(32)
    f["proposer"] = take(32)
    return f


# ---------------------------------------------------------------- frames
def frame(typ, payload):
    return u8(WIRE_VERSION) + u8(TYPES[typ]) + payload


def enc_hello(chain_id, genesis_hash, node_key, challenge, height=0,
              protocol_version=PROTOCOL_VERSION):
    return frame("hello", sstr(chain_id) + genesis_hash + u32(protocol_version) + node_key +
                 challenge + u64(height))


def enc_hello_ack(signature):
    return frame("hello_ack", signature)


def enc_status(height, head_hash=bytes(32)):
    return frame("status", u64(height) + head_hash)


def enc_tx_list(txs):
    return u32(len(txs)) + b"".join(bts(t) for t in txs)


def enc_txs(txs):
    return frame("txs", enc_tx_list(txs))


def enc_proposal(height, rnd, pol_round, proposer, signature, header, txs):
    return frame("proposal", u64(height) + u32(rnd) + u32(pol_round) + proposer + signature +
                 bts(header) + enc_tx_list(txs))


def vote_payload(vote_type, height, rnd, block_hash, validator, signature):
    return u8(vote_type) + u64(height) + u32(rnd) + block_hash + validator + signature


def enc_vote(vote_type, height, rnd, block_hash, validator, signature):
    return frame("vote", vote_payload(vote_type, height, rnd, block_hash, validator, signature))


def signed_vote(seed, chain_id, vote_type, height, rnd, block_hash):
    sig = sign(seed, vote_message(chain_id, vote_type, height, rnd, block_hash))
    return enc_vote(vote_type, height, rnd, block_hash, pub_of(seed), sig)


def enc_block_req(from_height, count):
    return frame("block_req", u64(from_height) + u32(count))


def enc_evidence(vote_a_payload, vote_b_payload):
    return frame("evidence", vote_a_payload + vote_b_payload)


def enc_goodbye(reason):
    return frame("goodbye", sstr(reason))


class _Rd:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        if self.p + n > len(self.b):
            raise ValueError("truncated")
        out = self.b[self.p:self.p + n]
        self.p += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def bytes(self):
        return self.take(self.u32())

    def txs(self):
        return [self.bytes() for _ in range(self.u32())]

    def vote(self):
        return {"vote_type": self.u8(), "height": self.u64(), "round": self.u32(),
                "block_hash": self.take(32), "validator": self.take(32),
                "signature": self.take(64)}


def decode(data):
    """(type name, fields) of one frame; raw bytes stay bytes. Lenient: for reading what a node
    sends, not for judging it. Unknown types come back as ("type<N>", {"raw": data})."""
    r = _Rd(data)
    version, t = r.u8(), r.u8()
    name = NAMES.get(t, f"type{t}")
    if version != WIRE_VERSION or name not in TYPES:
        return name, {"raw": data}
    if name == "hello":
        f = {"chain_id": r.bytes().decode(), "genesis_hash": r.take(32),
             "protocol_version": r.u32(), "node_key": r.take(32), "challenge": r.take(32),
             "height": r.u64()}
    elif name == "hello_ack":
        f = {"signature": r.take(64)}
    elif name == "status":
        f = {"height": r.u64(), "head_hash": r.take(32)}
    elif name == "txs":
        f = {"txs": r.txs()}
    elif name == "proposal":
        f = {"height": r.u64(), "round": r.u32(), "pol_round": r.u32(), "proposer": r.take(32),
             "signature": r.take(64), "header": r.bytes(), "txs": r.txs()}
        f["block_hash"] = H(f["header"])
    elif name == "vote":
        f = r.vote()
    elif name == "block_req":
        f = {"from_height": r.u64(), "count": r.u32()}
    elif name == "block_resp":
        blocks = []
        for _ in range(r.u32()):
            b = {"header": r.bytes(), "txs": r.txs(), "commit_round": r.u32()}
            b["signatures"] = [(r.take(32), r.take(64)) for _ in range(r.u32())]
            blocks.append(b)
        f = {"blocks": blocks}
    elif name == "evidence":
        f = {"a": r.vote(), "b": r.vote()}
    else:
        f = {"reason": r.bytes().decode("utf-8", "replace")}
    f["raw"] = data
    return name, f


# ---------------------------------------------------------------- WebSocket transport
def ws_frame(payload, opcode=2):
    """One masked client frame (FIN set)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    if n > 4096:  # mask in bulk: a byte loop over 16 MiB would take seconds
        key = (mask * (n // 4 + 1))[:n]
        masked = int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")
        return head + mask + masked.to_bytes(n, "big")
    return head + mask + bytes(b ^ mask[k % 4] for k, b in enumerate(payload))


def xor_mask(data, mask, offset=0):
    """`data` masked with the 4-byte WebSocket `mask`, as if it started at `offset` of a payload."""
    n = len(data)
    if n == 0:
        return b""
    rot = mask[offset % 4:] + mask[:offset % 4]
    key = (rot * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class PremaskedFrames:
    """Client frames of `prefix || body` where only the prefix changes (of a fixed length): the
    body is masked once, so a flood of 16 MiB frames costs Python little per frame."""

    def __init__(self, body, prefix_len):
        self.mask = os.urandom(4)
        self.prefix_len = prefix_len
        self.body_masked = xor_mask(body, self.mask, prefix_len)
        self.n = prefix_len + len(body)

    def frame(self, prefix):
        assert len(prefix) == self.prefix_len
        n = self.n
        head = bytes([0x82])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        return head + self.mask + xor_mask(prefix, self.mask) + self.body_masked


def ws_connect(port, host="127.0.0.1", timeout=10, source=None):
    """A TCP connection upgraded to WebSocket on /p2p: (socket, status line). `source`: a local
    address to bind first (e.g. "127.0.0.2", another client address on loopback)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /p2p HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(4096)
        if not chunk:
            break
        resp += chunk
    head, _, rest = resp.partition(b"\r\n\r\n")
    return s, head.split(b"\r\n")[0], rest


class LinkClosed(Exception):
    pass


class P2PLink:
    """One link to a node, as an outsider. After construction with complete=True the handshake is
    done (or HandshakeRefused is raised with the node's goodbye reason); `node_hello` holds the
    node's hello fields. With complete=False only the hellos are exchanged (ours is sent, theirs
    read): the test answers with its own hello_ack (e.g. a relayed one) through send()."""

    def __init__(self, port, seed=None, height=0, complete=True, chain_id=None, genesis_hash=None,
                 challenge=None, node_key=None, source=None, timeout=10):
        self.port = port
        self.seed = seed or new_seed()
        self.key = node_key or pub_of(self.seed)
        self.challenge = challenge or os.urandom(32)
        self.sock, self.status_line, self._buf = ws_connect(port, source=source, timeout=timeout)
        if b"101" not in self.status_line:
            raise LinkClosed(f"upgrade refused: {self.status_line!r}")
        self._q = queue.Queue()
        self._closed = threading.Event()
        self._send_lock = threading.Lock()
        self.goodbye = None
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        # The node sends its hello as soon as the WebSocket opens.
        kind, f = self.recv_msg(timeout)
        if kind != "hello":
            raise LinkClosed(f"expected the node's hello, got {kind}: {f}")
        self.node_hello = f
        self.chain_id = chain_id or f["chain_id"]
        self.genesis_hash = genesis_hash or f["genesis_hash"]
        # Speak the node's protocol version (2; 1 only for old builds).
        self.protocol_version = f["protocol_version"]
        self.hello = enc_hello(self.chain_id, self.genesis_hash, self.key, self.challenge, height,
                               protocol_version=self.protocol_version)
        self.send(self.hello)
        if complete:
            self.complete_handshake(timeout)

    # The handshake: we dialled, so we sign the transcript (our hello, the node's) as the dialer.
    def ack_for(self, node_hello):
        """Our hello_ack frame answering the node's hello."""
        if self.protocol_version == 1:
            return enc_hello_ack(sign(self.seed, handshake_message_v1(
                self.chain_id, self.genesis_hash, self.key, node_hello["challenge"])))
        return enc_hello_ack(sign(self.seed, handshake_message(
            self.chain_id, self.genesis_hash, self.key, self.challenge, node_hello["node_key"],
            node_hello["challenge"], DIALER, self.protocol_version)))

    def complete_handshake(self, timeout=10):
        self.send(self.ack_for(self.node_hello))
        kind, f = self.recv_msg(timeout)
        if kind == "goodbye":
            raise HandshakeRefused(f["reason"])
        if kind != "hello_ack":
            raise LinkClosed(f"expected hello_ack, got {kind}")
        self.node_ack = f

    # Transport.
    def send(self, data, opcode=2):
        """Sends one binary message (raises LinkClosed once the node has closed the link)."""
        try:
            with self._send_lock:
                self.sock.sendall(ws_frame(data, opcode))
        except OSError as e:
            raise LinkClosed(str(e))

    def send_frame(self, ws_bytes):
        """Sends an already built WebSocket frame (e.g. from PremaskedFrames)."""
        try:
            with self._send_lock:
                self.sock.sendall(ws_bytes)
        except OSError as e:
            raise LinkClosed(str(e))

    def recv(self, timeout=10):
        """The next binary message, or None after `timeout` s or once the link is closed."""
        try:
            item = self._q.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None:
            self._q.put(None)  # keep reporting the close
            return None
        return item

    def recv_msg(self, timeout=10, want=None):
        """(kind, fields) of the next message (of kind `want`, skipping others), or
        (None, None) on timeout or close. A goodbye is recorded in self.goodbye."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None, None
            data = self.recv(left)
            if data is None:
                return None, None
            kind, f = decode(data)
            if kind == "goodbye":
                self.goodbye = f["reason"]
            if want is None or kind == want or kind == "goodbye":
                return kind, f

    def drain(self):
        """Every message already received, as (kind, fields), without waiting."""
        out = []
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                return out
            if item is None:
                self._q.put(None)
                return out
            out.append(decode(item))

    def closed(self):
        return self._closed.is_set()

    def closed_soon(self, timeout=10):
        """True once the node has closed the link (within `timeout` s)."""
        return self._closed.wait(timeout)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _read_exact(self, n):
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise LinkClosed("eof")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _read_loop(self):
        self.sock.settimeout(None)
        message = b""
        try:
            while True:
                b0, b1 = self._read_exact(2)
                opcode, n = b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self._read_exact(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self._read_exact(8))[0]
                if b1 & 0x80:
                    mask = self._read_exact(4)
                    payload = bytes(c ^ mask[k % 4] for k, c in enumerate(self._read_exact(n)))
                else:
                    payload = self._read_exact(n)
                if opcode == 9:  # ping: answer, or the node's idle timeout closes the link
                    self.send(payload, opcode=10)
                elif opcode == 8:  # close
                    break
                elif opcode in (0, 1, 2):
                    message += payload
                    if b0 & 0x80:
                        self._q.put(message)
                        message = b""
        except (OSError, LinkClosed, ValueError):
            pass
        self._closed.set()
        self._q.put(None)


class HandshakeRefused(LinkClosed):
    """The node said goodbye during the handshake; str(e) is its reason."""


def probe_hello(port, timeout=10):
    """The node's hello fields (chain_id, genesis_hash, node_key, height, ...), without a link."""
    link = P2PLink(port, complete=False, timeout=timeout)
    f = link.node_hello
    link.close()
    return f


def vm_rss_kib(pid):
    """The resident set size of a process, in KiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def metric(text, name):
    """The value of an unlabelled Prometheus metric in `text` (None when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None
