#!/usr/bin/env python3
"""Independent checker for tests/vectors/protocol.json.

Written from ../shared/PROTOCOL.md alone, sharing no code with the C++ implementation: it
re-encodes every transaction from its JSON field form, re-derives ids, keys, Merkle roots and
proofs, header hashes and vote messages, and verifies every signature. It also decodes each
"invalid_transactions" entry with its own strict decoder and requires that decoding to fail.
The "proposals", "p2p_frames" and "p2p_invalid_frames" sections are extensions not in
PROTOCOL.md; they are checked from docs/protocol.md ("Consensus", "Peer protocol"): proposal_msg,
handshake_msg and every frame re-encoded from its fields and decoded back by a strict frame
decoder written here, which must also refuse each invalid frame for its stated rule.

Needs Python 3.9+ and the `cryptography` package (Debian: python3-cryptography) for Ed25519.
The "set_changes" section (PROTOCOL.md section 10) is replayed from genesis: every block's
header v2, commit by the set held, state rules with their names, approvals, the decision and the
end-of-block removal of approvals (state_root recomputed), then each proof's validator_changes walk.
Usage: check_vectors.py [path/to/protocol.json]. Exit 0 and "N passed, 0 failed" when all agree.
"""
import hashlib
import hmac
import json
import re
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

H = lambda b: hashlib.sha256(b).digest()
u8 = lambda v: struct.pack(">B", v)
u32 = lambda v: struct.pack(">I", v)
u64 = lambda v: struct.pack(">Q", v)
bts = lambda b: u32(len(b)) + b
sstr = lambda s: bts(s.encode("utf-8"))
unhex = bytes.fromhex

LABEL = re.compile(rb"^[a-z0-9._-]{1,64}$")
JURIS = re.compile(rb"^[A-Z0-9-]{0,16}$")
CHAIN = re.compile(r"^[a-z0-9._-]{1,64}$")


class Reject(Exception):
    pass


# ---------------------------------------------------------------- transactions (section 2)
def str_list(items):
    return u32(len(items)) + b"".join(sstr(s) for s in items)


def encode_body(j):
    kind = j["kind"]
    if kind == "grant":
        return (u8(1) + u8(1) + unhex(j["subject"]) + unhex(j["controller"]) +
                str_list(j["purposes"]) + str_list(j["data_categories"]) +
                sstr(j["jurisdiction"]) + unhex(j["policy_hash"]) + u64(j["issued_at_ms"]) +
                u64(j["expires_at_ms"]) + u64(j["nonce"]))
    if kind == "revoke":
        return (u8(2) + u8(1) + unhex(j["subject"]) + unhex(j["controller"]) +
                str_list(j["purposes"]) + u64(j["issued_at_ms"]) + u64(j["nonce"]))
    if kind == "register_controller":
        return (u8(3) + u8(1) + unhex(j["controller"]) + sstr(j["name"]) +
                sstr(j["contact_uri"]) + u64(j["issued_at_ms"]) + u64(j["nonce"]))
    if kind == "set_validators":
        keys = [unhex(k) for k in j["validators"]]
        return (u8(4) + u8(1) + unhex(j["validator"]) + u32(len(keys)) + b"".join(keys) +
                u64(j["issued_at_ms"]) + u64(j["nonce"]))
    raise ValueError("unknown kind " + kind)


class Rd:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        if self.p + n > len(self.b):
            raise Reject("truncated")
        out = self.b[self.p:self.p + n]
        self.p += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        v = struct.unpack(">Q", self.take(8))[0]
        if v >= 1 << 53:  # PROTOCOL.md section 1: all values stay below 2^53
            raise Reject("integer not below 2^53")
        return v

    def str(self, cap):
        n = self.u32()
        if n > cap:
            raise Reject("string too long")
        raw = self.take(n)
        if b"\x00" in raw:
            raise Reject("NUL")
        try:
            raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise Reject("bad utf-8")
        return raw

    def labels(self, lo, hi):
        n = self.u32()
        if n < lo or n > hi:
            raise Reject("list count")
        items = [self.str(64) for _ in range(n)]
        for it in items:
            if not LABEL.match(it):
                raise Reject("label charset")
        for a, b in zip(items, items[1:]):
            if not a < b:
                raise Reject("unsorted or duplicate")
        return items


def decode_signed_tx(enc):
    """Strict decoder: returns (body, sig) or raises Reject. Signature not checked."""
    if len(enc) > 4096:
        raise Reject("over 4096 bytes")
    r = Rd(enc)
    kind, version = r.u8(), r.u8()
    if version != 1:
        raise Reject("version")
    if kind == 1:
        r.take(64)
        r.labels(1, 32)
        r.labels(0, 32)
        if not JURIS.match(r.str(16)):
            raise Reject("jurisdiction")
        r.take(32)
        issued, expires = r.u64(), r.u64()
        r.u64()
        if expires != 0 and expires <= issued:
            raise Reject("expiry")
    elif kind == 2:
        r.take(64)
        r.labels(0, 32)
        r.u64()
        r.u64()
    elif kind == 3:
        r.take(32)
        name = r.str(128)
        if len(name) < 1:
            raise Reject("empty name")
        r.str(256)
        r.u64()
        r.u64()
    elif kind == 4:  # SET_VALIDATORS: 1..64 keys, strictly ascending
        r.take(32)
        n = r.u32()
        if n < 1 or n > 64:
            raise Reject("validators: 1..64 keys")
        keys = [r.take(32) for _ in range(n)]
        for a, b in zip(keys, keys[1:]):
            if not a < b:
                raise Reject("validators: strictly ascending")
        r.u64()
        r.u64()
    else:
        raise Reject("kind")
    body_end = r.p
    sig = r.take(64)
    if r.p != len(enc):
        raise Reject("trailing bytes")
    return enc[:body_end], sig


def signer_of(j):
    if j["kind"] == "set_validators":
        return unhex(j["validator"])
    return unhex(j["controller"] if j["kind"] == "register_controller" else j["subject"])


def verify(pub, msg, sig):
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except InvalidSignature:
        return False


# ---------------------------------------------------------------- RFC 9162 log (section 4)
def mth(leaves):
    n = len(leaves)
    if n == 0:
        return H(b"")
    if n == 1:
        return H(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m, leaves):
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, b):
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


# ---------------------------------------------------------------- sparse Merkle tree (section 3)
ZERO = bytes(32)


def bit(key, d):
    return (key[d // 8] >> (7 - d % 8)) & 1


def smt_root(entries, depth=0):
    """entries: list of (key, value_hash)."""
    if not entries:
        return ZERO
    if len(entries) == 1:
        k, vh = entries[0]
        return H(b"\x02" + k + vh)
    left = [e for e in entries if bit(e[0], depth) == 0]
    right = [e for e in entries if bit(e[0], depth) == 1]
    return H(b"\x03" + smt_root(left, depth + 1) + smt_root(right, depth + 1))


def smt_verify(root, key, value, siblings, leaf):
    if len(siblings) > 256:
        return False
    d = len(siblings)
    if value is not None:
        if leaf is not None:
            return False
        node = H(b"\x02" + key + H(value))
    elif leaf is None:
        node = ZERO
    else:
        lk, lvh = leaf
        if lk == key or any(bit(lk, i) != bit(key, i) for i in range(d)):
            return False
        node = H(b"\x02" + lk + lvh)
    for i in range(d - 1, -1, -1):
        s = siblings[i]
        node = H(b"\x03" + (s + node if bit(key, i) else node + s))
    return node == root


# ---------------------------------------------------------------- headers (section 5)
HEADER_FIELDS = ["chain_id", "height", "time_ms", "prev_block_hash", "log_size", "log_root",
                 "state_root", "validators_hash", "next_validators_hash", "proposer"]


def encode_header(f):
    """Version 2: next_validators_hash after validators_hash."""
    return (u8(16) + u8(2) + sstr(f["chain_id"]) + u64(f["height"]) + u64(f["time_ms"]) +
            unhex(f["prev_block_hash"]) + u64(f["log_size"]) + unhex(f["log_root"]) +
            unhex(f["state_root"]) + unhex(f["validators_hash"]) +
            unhex(f["next_validators_hash"]) + unhex(f["proposer"]))


def parse_header(enc):
    """Strict decode of a version 2 header into its fields; raises Reject."""
    r = Rd(enc)
    if r.u8() != 16:
        raise Reject("header kind")
    if r.u8() != 2:
        raise Reject("header version")
    chain = r.str(64).decode()
    if not CHAIN.match(chain):
        raise Reject("header chain id")
    f = {"chain_id": chain, "height": r.u64(), "time_ms": r.u64(),
         "prev_block_hash": r.take(32).hex(), "log_size": r.u64(), "log_root": r.take(32).hex(),
         "state_root": r.take(32).hex(), "validators_hash": r.take(32).hex(),
         "next_validators_hash": r.take(32).hex(), "proposer": r.take(32).hex()}
    if f["height"] == 0:
        raise Reject("header height 0")
    if r.p != len(enc):
        raise Reject("header trailing bytes")
    return f


# ---------------------------------------------------------------- checks
class Checker:
    def __init__(self):
        self.passed = self.failed = 0

    def eq(self, what, got, want):
        if got == want:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}: got {got!r}, want {want!r}")

    def ok(self, what, cond):
        self.eq(what, bool(cond), True)


# ---------------------------------------------------------------- proposals and peer frames
# From docs/protocol.md ("Consensus" and "Peer protocol"): these are our extensions, not in
# PROTOCOL.md.
NO_ROUND = 0xFFFFFFFF
FRAME_TYPES = {"hello": 1, "hello_ack": 2, "status": 3, "txs": 4, "proposal": 5, "vote": 6,
               "block_req": 7, "block_resp": 8, "evidence": 9, "goodbye": 10,
               "proposal_evidence": 11}
TYPE_NAMES = {n: k for k, n in FRAME_TYPES.items()}
MAX_FRAME, MAX_GOSSIP_TXS, MAX_BLOCK_TXS, MAX_BLOCKS, MAX_SIGS = 16 << 20, 1000, 10000, 50, 256
MAX_TX, MAX_HEADER, MAX_GOODBYE, MAX_CHAIN_ID = 4096, 1024, 256, 64


def proposal_msg(chain, height, rnd, pol_round, block_hash):
    return (b"consent-ledger/proposal/v1" + sstr(chain) + u64(height) + u32(rnd) +
            u32(pol_round) + block_hash)


def vote_msg(chain, vtype, height, rnd, block_hash):
    return b"consent-ledger/vote/v1" + sstr(chain) + u8(vtype) + u64(height) + u32(rnd) + block_hash


ROLES = {"dialer": 1, "acceptor": 2}


def handshake_msg(chain, genesis_hash, version, dialer_key, dialer_challenge, acceptor_key,
                  acceptor_challenge, role):
    """Protocol version 2: the transcript of both hellos in role order, then the signer's role."""
    return (b"consent-ledger/p2p-handshake/v2" + sstr(chain) + genesis_hash + u32(version) +
            dialer_key + dialer_challenge + acceptor_key + acceptor_challenge + u8(ROLES[role]))


def pub_of(seed):
    pk = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def enc_vote(f):
    return (u8(f["vote_type"]) + u64(f["height"]) + u32(f["round"]) + unhex(f["block_hash"]) +
            unhex(f["validator"]) + unhex(f["signature"]))


def enc_proposal_ref(f):
    return (u64(f["height"]) + u32(f["round"]) + u32(f["pol_round"]) + unhex(f["block_hash"]) +
            unhex(f["proposer"]) + unhex(f["signature"]))


def enc_tx_list(txs):
    return u32(len(txs)) + b"".join(bts(unhex(t)) for t in txs)


def encode_frame(typ, f):
    """The frame bytes from the decoded fields (hex strings and numbers, as in the vectors)."""
    if typ == "hello":
        p = (sstr(f["chain_id"]) + unhex(f["genesis_hash"]) + u32(f["protocol_version"]) +
             unhex(f["node_key"]) + unhex(f["challenge"]) + u64(f["height"]))
    elif typ == "hello_ack":
        p = unhex(f["signature"])
    elif typ == "status":
        p = u64(f["height"]) + unhex(f["head_hash"])
    elif typ == "txs":
        p = enc_tx_list(f["txs"])
    elif typ == "proposal":
        p = (u64(f["height"]) + u32(f["round"]) + u32(f["pol_round"]) + unhex(f["proposer"]) +
             unhex(f["signature"]) + bts(unhex(f["header"])) + enc_tx_list(f["txs"]))
    elif typ == "vote":
        p = enc_vote(f)
    elif typ == "block_req":
        p = u64(f["from_height"]) + u32(f["count"])
    elif typ == "block_resp":
        p = u32(len(f["blocks"]))
        for b in f["blocks"]:
            p += (bts(unhex(b["header"])) + enc_tx_list(b["txs"]) + u32(b["commit_round"]) +
                  u32(len(b["signatures"])) +
                  b"".join(unhex(s["validator"]) + unhex(s["signature"]) for s in b["signatures"]))
    elif typ == "evidence":
        p = enc_vote(f["a"]) + enc_vote(f["b"])
    elif typ == "proposal_evidence":
        p = enc_proposal_ref(f["a"]) + enc_proposal_ref(f["b"])
    elif typ == "goodbye":
        p = sstr(f["reason"])
    else:
        raise ValueError("unknown frame type " + typ)
    return u8(1) + u8(FRAME_TYPES[typ]) + p


class FrameReject(Exception):
    """A refused frame; .rule is one of version, type, trailing, truncated, count, length,
    vote_type, chain_id, tx, header."""

    def __init__(self, rule, detail=""):
        super().__init__(rule + (": " + detail if detail else ""))
        self.rule = rule


class FRd(Rd):
    """Frame reader: Rd with plain u64 (frames carry no 2^53 rule) and FrameReject errors; every
    cap is checked before reading."""

    def take(self, n):
        if self.p + n > len(self.b):
            raise FrameReject("truncated")
        return super().take(n)

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def hx(self, n):
        return self.take(n).hex()

    def bytes(self, cap):
        n = self.u32()
        if n > cap:
            raise FrameReject("length", f"{n} > {cap}")
        return self.take(n)

    def str(self, cap):
        raw = self.bytes(cap)
        if b"\x00" in raw:
            raise FrameReject("length", "NUL")  # not a case in the vectors
        try:
            return raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise FrameReject("length", "bad utf-8")

    def count(self, cap, min_item):
        n = self.u32()
        if n > cap:
            raise FrameReject("count", f"{n} > {cap}")
        if n * min_item > len(self.b) - self.p:
            raise FrameReject("truncated", "count does not fit")
        return n

    def end(self):
        if self.p != len(self.b):
            raise FrameReject("trailing")


def decode_header(enc):
    r = FRd(enc)
    if r.u8() != 16 or r.u8() != 2:
        raise FrameReject("header", "kind or version")
    chain = r.str(MAX_CHAIN_ID)
    if not CHAIN.match(chain):
        raise FrameReject("header", "chain id")
    height = r.u64()
    if height == 0:
        raise FrameReject("header", "height 0")
    r.take(8 + 32 + 8 + 32 * 5)
    r.end()
    return height


def dec_tx_list(r, cap):
    out = []
    for _ in range(r.count(cap, 4)):
        enc = r.bytes(MAX_TX)
        try:
            decode_signed_tx(enc)
        except Reject as e:
            raise FrameReject("tx", str(e))
        out.append(enc.hex())
    return out


def dec_header_field(r):
    enc = r.bytes(MAX_HEADER)
    decode_header(enc)
    return enc.hex()


def dec_vote(r):
    t = r.u8()
    if t not in (1, 2):
        raise FrameReject("vote_type", str(t))
    return {"vote_type": t, "height": r.u64(), "round": r.u32(), "block_hash": r.hx(32),
            "validator": r.hx(32), "signature": r.hx(64)}


def dec_proposal_ref(r):
    return {"height": r.u64(), "round": r.u32(), "pol_round": r.u32(), "block_hash": r.hx(32),
            "proposer": r.hx(32), "signature": r.hx(64)}


def decode_frame(frame):
    """Strict decoder: (type name, fields) or FrameReject."""
    if len(frame) > MAX_FRAME:
        raise FrameReject("length", "frame size")
    r = FRd(frame)
    if r.u8() != 1:
        raise FrameReject("version")
    t = r.u8()
    if t not in TYPE_NAMES:
        raise FrameReject("type", str(t))
    typ = TYPE_NAMES[t]
    if typ == "hello":
        chain = r.str(MAX_CHAIN_ID)
        if not CHAIN.match(chain):
            raise FrameReject("chain_id", chain)
        f = {"chain_id": chain, "genesis_hash": r.hx(32), "protocol_version": r.u32(),
             "node_key": r.hx(32), "challenge": r.hx(32), "height": r.u64()}
    elif typ == "hello_ack":
        f = {"signature": r.hx(64)}
    elif typ == "status":
        f = {"height": r.u64(), "head_hash": r.hx(32)}
    elif typ == "txs":
        f = {"txs": dec_tx_list(r, MAX_GOSSIP_TXS)}
    elif typ == "proposal":
        f = {"height": r.u64(), "round": r.u32(), "pol_round": r.u32(), "proposer": r.hx(32),
             "signature": r.hx(64), "header": dec_header_field(r),
             "txs": dec_tx_list(r, MAX_BLOCK_TXS)}
    elif typ == "vote":
        f = dec_vote(r)
    elif typ == "block_req":
        f = {"from_height": r.u64(), "count": r.u32()}
        if not 1 <= f["count"] <= MAX_BLOCKS:
            raise FrameReject("count", str(f["count"]))
    elif typ == "block_resp":
        blocks = []
        for _ in range(r.count(MAX_BLOCKS, 16)):
            b = {"header": dec_header_field(r), "txs": dec_tx_list(r, MAX_BLOCK_TXS),
                 "commit_round": r.u32()}
            b["signatures"] = [{"validator": r.hx(32), "signature": r.hx(64)}
                               for _ in range(r.count(MAX_SIGS, 96))]
            blocks.append(b)
        f = {"blocks": blocks}
    elif typ == "evidence":
        f = {"a": dec_vote(r), "b": dec_vote(r)}
    elif typ == "proposal_evidence":
        f = {"a": dec_proposal_ref(r), "b": dec_proposal_ref(r)}
    else:  # goodbye
        f = {"reason": r.str(MAX_GOODBYE)}
    r.end()
    return typ, f


def strip_seeds(f):
    """The decoded fields of a vector entry: without the signer seeds and handshake inputs."""
    if isinstance(f, dict):
        return {k: strip_seeds(x) for k, x in f.items()
                if k not in ("validator_seed", "signer_seed", "handshake")}
    if isinstance(f, list):
        return [strip_seeds(x) for x in f]
    return f


def check_signed_vote(c, n, chain, f):
    msg = vote_msg(chain, f["vote_type"], f["height"], f["round"], unhex(f["block_hash"]))
    seed = unhex(f["validator_seed"])
    c.eq(n + " validator key from seed", pub_of(seed).hex(), f["validator"])
    c.eq(n + " deterministic signature",
         Ed25519PrivateKey.from_private_bytes(seed).sign(msg).hex(), f["signature"])
    c.ok(n + " signature verifies", verify(unhex(f["validator"]), msg, unhex(f["signature"])))


def check_p2p(c, v, chain):
    valid_txs = {t["encoding"] for t in v["transactions"]}
    header_hashes = {hd["encoding"]: hd["block_hash"] for hd in v["headers"]}

    proposals = v.get("proposals", [])
    c.ok("at least three proposals", len(proposals) >= 3)
    c.ok("a proposal with pol_round none and one with pol_round set",
         {p["pol_round"] == NO_ROUND for p in proposals} == {True, False})
    for p in proposals:
        n = "proposal " + p["name"]
        header = unhex(p["header"])
        c.eq(n + " chain_id", p["chain_id"], chain)
        c.eq(n + " block_hash", H(header).hex(), p["block_hash"])
        c.eq(n + " header is a vector header", header_hashes.get(p["header"]), p["block_hash"])
        c.eq(n + " header height", decode_header(header), p["height"])
        c.ok(n + " pol_round none or below round",
             p["pol_round"] == NO_ROUND or p["pol_round"] < p["round"])
        msg = proposal_msg(p["chain_id"], p["height"], p["round"], p["pol_round"], H(header))
        c.eq(n + " proposal_msg", msg.hex(), p["message"])
        seed = unhex(p["signer_seed"])
        c.eq(n + " proposer key from seed", pub_of(seed).hex(), p["proposer"])
        c.eq(n + " deterministic signature",
             Ed25519PrivateKey.from_private_bytes(seed).sign(msg).hex(), p["signature"])
        c.ok(n + " signature verifies", verify(unhex(p["proposer"]), msg, unhex(p["signature"])))

    frames = v.get("p2p_frames", [])
    c.eq("p2p_frames cover every message type", sorted({f["type"] for f in frames}),
         sorted(FRAME_TYPES))
    hellos = {}
    for fr in frames:
        n = "frame " + fr["name"]
        typ, f = fr["type"], fr["fields"]
        frame = unhex(fr["frame"])
        c.eq(n + " encoding", encode_frame(typ, f).hex(), fr["frame"])
        try:
            got = decode_frame(frame)
        except FrameReject as e:
            got = ("refused", str(e))
        c.eq(n + " decodes to its fields", got, (typ, strip_seeds(f)))
        if typ == "hello":
            hellos[(f["node_key"], f["challenge"])] = f
        elif typ == "hello_ack":
            hs = f["handshake"]
            dialer = hellos.get((hs["dialer_key"], hs["dialer_challenge"]))
            acceptor = hellos.get((hs["acceptor_key"], hs["acceptor_challenge"]))
            c.ok(n + " transcript is of two hellos above", dialer is not None and
                 acceptor is not None)
            if dialer and acceptor:
                for hello in (dialer, acceptor):
                    c.eq(n + " handshake chain, genesis and version",
                         (hs["chain_id"], hs["genesis_hash"], hs["protocol_version"]),
                         (hello["chain_id"], hello["genesis_hash"], hello["protocol_version"]))
                c.eq(n + " signer is the hello of its role",
                     hs["signer"], (dialer if hs["role"] == "dialer" else acceptor)["node_key"])
            msg = handshake_msg(hs["chain_id"], unhex(hs["genesis_hash"]), hs["protocol_version"],
                                unhex(hs["dialer_key"]), unhex(hs["dialer_challenge"]),
                                unhex(hs["acceptor_key"]), unhex(hs["acceptor_challenge"]),
                                hs["role"])
            c.eq(n + " handshake_msg", msg.hex(), hs["message"])
            seed = unhex(hs["signer_seed"])
            c.eq(n + " signer key from seed", pub_of(seed).hex(), hs["signer"])
            c.eq(n + " deterministic signature",
                 Ed25519PrivateKey.from_private_bytes(seed).sign(msg).hex(), f["signature"])
            c.ok(n + " signature verifies", verify(unhex(hs["signer"]), msg, unhex(f["signature"])))
        elif typ == "txs":
            c.ok(n + " carries valid vector transactions",
                 len(f["txs"]) >= 2 and all(t in valid_txs for t in f["txs"]))
        elif typ == "proposal":
            header = unhex(f["header"])
            msg = proposal_msg(chain, f["height"], f["round"], f["pol_round"], H(header))
            seed = unhex(f["signer_seed"])
            c.eq(n + " proposer key from seed", pub_of(seed).hex(), f["proposer"])
            c.eq(n + " deterministic signature",
                 Ed25519PrivateKey.from_private_bytes(seed).sign(msg).hex(), f["signature"])
            c.ok(n + " signature verifies",
                 verify(unhex(f["proposer"]), msg, unhex(f["signature"])))
            c.ok(n + " txs are vector transactions", all(t in valid_txs for t in f["txs"]))
        elif typ == "vote":
            check_signed_vote(c, n, chain, f)
        elif typ == "evidence":
            a, b = f["a"], f["b"]
            check_signed_vote(c, n + " a", chain, a)
            check_signed_vote(c, n + " b", chain, b)
            c.ok(n + " same validator, height, round and type, different votes",
                 all(a[k] == b[k] for k in ("validator", "height", "round", "vote_type")) and
                 a["block_hash"] != b["block_hash"])
        elif typ == "proposal_evidence":
            a, b = f["a"], f["b"]
            for side, x in (("a", a), ("b", b)):
                msg = proposal_msg(chain, x["height"], x["round"], x["pol_round"],
                                   unhex(x["block_hash"]))
                seed = unhex(x["signer_seed"])
                c.eq(f"{n} {side} proposer key from seed", pub_of(seed).hex(), x["proposer"])
                c.ok(f"{n} {side} signature verifies",
                     verify(unhex(x["proposer"]), msg, unhex(x["signature"])))
            c.ok(n + " same proposer, height and round, different proposals",
                 all(a[k] == b[k] for k in ("proposer", "height", "round")) and
                 (a["block_hash"], a["pol_round"]) != (b["block_hash"], b["pol_round"]))
        elif typ == "block_resp":
            for b in f["blocks"]:
                header = unhex(b["header"])
                height = decode_header(header)
                signers = set()
                for s in b["signatures"]:
                    sv = {"vote_type": 2, "height": height, "round": b["commit_round"],
                          "block_hash": H(header).hex(), "validator": s["validator"],
                          "signature": s["signature"], "validator_seed": s["validator_seed"]}
                    check_signed_vote(c, n + " commit signature", chain, sv)
                    signers.add(s["validator"])
                c.eq(n + " commit signers distinct", len(signers), len(b["signatures"]))
                c.ok(n + " txs are vector transactions", all(t in valid_txs for t in b["txs"]))

    invalid = v.get("p2p_invalid_frames", [])
    c.ok("at least six invalid frames", len(invalid) >= 6)
    for fr in invalid:
        n = "invalid frame " + fr["name"]
        try:
            decode_frame(unhex(fr["frame"]))
            rule = None
        except FrameReject as e:
            rule = e.rule
        c.eq(n + " refused for its rule", rule, fr["rule"])


def main():
    path_arg = sys.argv[1] if len(sys.argv) > 1 else "tests/vectors/protocol.json"
    v = json.load(open(path_arg))
    c = Checker()
    chain = v["chain_id"]
    c.ok("chain_id syntax", CHAIN.match(chain))
    tx_tag = b"consent-ledger/tx/v1"

    for t in v["transactions"]:
        n = "tx " + t["name"]
        j = t["json"]
        body = encode_body(j)
        c.eq(n + " body", body.hex(), t["body"])
        sig = unhex(j["signature"])
        c.eq(n + " signature field", j["signature"], t["signature"])
        c.eq(n + " encoding", (body + sig).hex(), t["encoding"])
        c.eq(n + " tx_id", H(b"\x00" + body + sig).hex(), t["tx_id"])
        msg = tx_tag + sstr(chain) + body
        c.ok(n + " signature verifies", verify(signer_of(j), msg, sig))
        seed = unhex(t["signer_seed"])
        priv = Ed25519PrivateKey.from_private_bytes(seed)
        pub = priv.public_key().public_bytes_raw() if hasattr(
            priv.public_key(), "public_bytes_raw") else None
        if pub is not None:
            c.eq(n + " signer key from seed", pub.hex(), signer_of(j).hex())
        c.eq(n + " deterministic signature", priv.sign(msg).hex(), t["signature"])
        try:
            decode_signed_tx(body + sig)
            c.ok(n + " decodes", True)
        except Reject as e:
            c.ok(n + " decodes (" + str(e) + ")", False)

    c.ok("at least ten invalid transactions", len(v["invalid_transactions"]) >= 10)
    for t in v["invalid_transactions"]:
        n = "invalid tx " + t["name"]
        enc = unhex(t["encoding"])
        rejected = False
        try:
            body, sig = decode_signed_tx(enc)
            # Decodes: then only the signature can be what is wrong. Any key in the body that
            # would be the signer must fail to verify.
            kind = body[0]
            signer = body[2:34]
            rejected = not verify(signer, tx_tag + sstr(chain) + body, sig)
        except Reject:
            rejected = True
        c.ok(n + " rejected", rejected)

    for s in v["subject_keys"]:
        seed = hmac.new(unhex(s["master_secret"]),
                        b"consent-ledger/subject/v1" + unhex(s["controller"]),
                        hashlib.sha256).digest()
        c.eq("subject seed", seed.hex(), s["seed"])
        pk = Ed25519PrivateKey.from_private_bytes(seed).public_key()
        if hasattr(pk, "public_bytes_raw"):
            c.eq("subject public key", pk.public_bytes_raw().hex(), s["public_key"])

    for lg in v["log"]:
        leaves = [unhex(x) for x in lg["leaves"]]
        n = len(leaves)
        c.eq(f"log root n={n}", mth(leaves).hex(), lg["root"])
        want_incl = {(i, sz) for sz in range(1, n + 1) for i in range(sz)}
        got_incl = set()
        for p in lg["inclusion"]:
            i, sz = p["index"], p["size"]
            got_incl.add((i, sz))
            c.eq(f"inclusion {i}/{sz}", [h.hex() for h in path(i, leaves[:sz])], p["proof"])
        c.eq(f"log n={n} has every inclusion proof", sorted(got_incl), sorted(want_incl))
        want_cons = {(a, b) for b in range(1, n + 1) for a in range(1, b + 1)}
        got_cons = set()
        for p in lg["consistency"]:
            a, b = p["size1"], p["size2"]
            got_cons.add((a, b))
            want = [] if a == b else subproof(a, leaves[:b], True)
            c.eq(f"consistency {a}->{b}", [h.hex() for h in want], p["proof"])
        c.eq(f"log n={n} has every consistency proof", sorted(got_cons), sorted(want_cons))

    for st in v["state"]:
        entries = [(unhex(e["key"]), H(unhex(e["value"]))) for e in st["entries"]]
        c.eq(f"state root ({len(entries)} entries)", smt_root(entries).hex(), st["root"])
        root = unhex(st["root"])
        present = {k for k, _ in entries}
        for p in st["proofs"]:
            key = unhex(p["key"])
            value = None if p["value"] is None else unhex(p["value"])
            leaf = None if p["leaf"] is None else (unhex(p["leaf"]["key"]),
                                                    unhex(p["leaf"]["value_hash"]))
            c.eq("state proof membership claim", value is not None, key in present)
            c.ok(f"state proof for {p['key'][:16]}", smt_verify(
                root, key, value, [unhex(x) for x in p["siblings"]], leaf))

    for hd in v["headers"]:
        f = hd["fields"]
        enc = encode_header(f)
        c.eq(f"header {f['height']} encoding", enc.hex(), hd["encoding"])
        c.eq(f"header {f['height']} block_hash", H(enc).hex(), hd["block_hash"])
        c.eq(f"header {f['height']} decodes", parse_header(enc), f)
        c.eq(f"header {f['height']} decides no change", f["next_validators_hash"],
             f["validators_hash"])

    for vt in v["votes"]:
        msg = (b"consent-ledger/vote/v1" + sstr(chain) + u8(vt["type"]) + u64(vt["height"]) +
               u32(vt["round"]) + unhex(vt["block_hash"]))
        c.eq("vote message", msg.hex(), vt["message"])
        priv = Ed25519PrivateKey.from_private_bytes(unhex(vt["validator_seed"]))
        c.eq("vote signature", priv.sign(msg).hex(), vt["signature"])

    check_p2p(c, v, chain)
    # Section 10, in its own file (shares this file's primitives).
    from check_set_changes import check_set_changes
    check_set_changes(c, v["set_changes"], chain)

    print(f"check_vectors: {c.passed} passed, {c.failed} failed")
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
