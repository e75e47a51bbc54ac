#!/usr/bin/env python3
"""Independent checker for tests/vectors/protocol.json.

Written from ../shared/PROTOCOL.md alone, sharing no code with the C++ implementation: it
re-encodes every transaction from its JSON field form, re-derives ids, keys, Merkle roots and
proofs, header hashes and vote messages, and verifies every signature. It also decodes each
"invalid_transactions" entry with its own strict decoder and requires that decoding to fail.

Needs Python 3.9+ and the `cryptography` package (Debian: python3-cryptography) for Ed25519.
Usage: check_vectors.py [path/to/protocol.json]. Exit 0 and "N passed, 0 failed" when all agree.
"""
import hashlib
import hmac
import json
import re
import struct
import sys

from cryptography.exceptions import InvalidSignature
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
    else:
        raise Reject("kind")
    body_end = r.p
    sig = r.take(64)
    if r.p != len(enc):
        raise Reject("trailing bytes")
    return enc[:body_end], sig


def signer_of(j):
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
        enc = (u8(16) + u8(1) + sstr(f["chain_id"]) + u64(f["height"]) + u64(f["time_ms"]) +
               unhex(f["prev_block_hash"]) + u64(f["log_size"]) + unhex(f["log_root"]) +
               unhex(f["state_root"]) + unhex(f["validators_hash"]) + unhex(f["proposer"]))
        c.eq(f"header {f['height']} encoding", enc.hex(), hd["encoding"])
        c.eq(f"header {f['height']} block_hash", H(enc).hex(), hd["block_hash"])

    for vt in v["votes"]:
        msg = (b"consent-ledger/vote/v1" + sstr(chain) + u8(vt["type"]) + u64(vt["height"]) +
               u32(vt["round"]) + unhex(vt["block_hash"]))
        c.eq("vote message", msg.hex(), vt["message"])
        priv = Ed25519PrivateKey.from_private_bytes(unhex(vt["validator_seed"]))
        c.eq("vote signature", priv.sign(msg).hex(), vt["signature"])

    print(f"check_vectors: {c.passed} passed, {c.failed} failed")
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
