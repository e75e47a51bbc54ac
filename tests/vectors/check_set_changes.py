"""Section 10 (validator set changes) part of check_vectors.py: replays the "set_changes" chain of
tests/vectors/protocol.json from its genesis, written from PROTOCOL.md sections 2, 3, 5, 6, 9 and
10 alone: each header (version 2), the commit by the set held, the state rules of GRANT and
SET_VALIDATORS with their names (also for the transactions the block left out), approvals in the
state tree, the decision rule and the end-of-block removal of approvals (state_root, log_root and
next_validators_hash recomputed), the committed SET_VALIDATORS with their approval_key and
approval_value, the invalid ones, and every consent proof's walk of validator_changes (plus
tampered walks, which must fail). Uses the primitives of check_vectors.py; run that file.
"""
import struct

from check_vectors import (H, Reject, ZERO, decode_signed_tx,
                           encode_body, encode_header, mth, parse_header, path, signer_of,
                           smt_root, smt_verify, sstr, u8, u32, u64, unhex, verify, vote_msg)


# ---------------------------------------------------------------- validator set changes (section 10)
STATE_TAG = b"consent-ledger/state/v1"
APPROVAL_TAG = b"consent-ledger/approval/v1"
MAX_AGE_MS, MAX_FUTURE_MS = 7 * 24 * 3600 * 1000, 5 * 60 * 1000


def set_hash(keys):
    return H(u32(len(keys)) + b"".join(keys))


def quorum(n):
    return 2 * n // 3 + 1


def approval_key(validator):
    return H(APPROVAL_TAG + validator)


def approval_value(sh, tx_id, issued):
    return u8(3) + sh + tx_id + u64(issued)


def state_key(subject, controller, purpose):
    return H(STATE_TAG + subject + controller + sstr(purpose))


def commit_ok(chain, keys, height, block_hash, commit):
    """Section 6: at least floor(2n/3)+1 distinct members of `keys` precommitted block_hash."""
    sigs = commit["signatures"]
    if len(sigs) > len(keys):
        return False
    seen = set()
    for s in sigs:
        who = unhex(s["validator"])
        if who not in keys or who in seen:
            return False
        seen.add(who)
        if not verify(who, vote_msg(chain, 2, height, commit["round"], block_hash),
                      unhex(s["signature"])):
            return False
    return len(seen) >= quorum(len(keys))


class Ledger:
    """Section 2, 3 and 10 state for GRANT and SET_VALIDATORS, written from PROTOCOL.md."""

    def __init__(self):
        self.consents = {}   # state_key -> state_value
        self.approvals = {}  # validator -> (set_hash, tx_id, issued_at_ms)
        self.committed = set()

    def rule(self, j, tx_id, time_ms, held, decided):
        """The first state rule the tx breaks, by its name, or None."""
        if tx_id in self.committed:
            return "replay"
        issued = j["issued_at_ms"]
        if issued < max(0, time_ms - MAX_AGE_MS):
            return "too_old"
        if issued > time_ms + MAX_FUTURE_MS:
            return "from_the_future"
        if j["kind"] == "grant":
            for p in j["purposes"]:
                cur = self.consents.get(state_key(unhex(j["subject"]), unhex(j["controller"]), p))
                if cur is not None and issued <= struct.unpack(">Q", cur[33:41])[0]:
                    return "stale"
            return None
        if j["kind"] == "set_validators":
            who = unhex(j["validator"])
            if who not in held:
                return "not_validator"
            if set_hash([unhex(k) for k in j["validators"]]) == set_hash(held):
                return "no_change"
            if who in self.approvals and issued <= self.approvals[who][2]:
                return "stale_approval"
            if decided:
                return "change_decided"
            return None
        raise ValueError("kind not used in these vectors: " + j["kind"])

    def apply(self, j, tx_id):
        self.committed.add(tx_id)
        if j["kind"] == "grant":
            for p in j["purposes"]:
                self.consents[state_key(unhex(j["subject"]), unhex(j["controller"]), p)] = (
                    u8(1) + tx_id + u64(j["issued_at_ms"]) + u64(j["expires_at_ms"]) +
                    unhex(j["policy_hash"]))
        else:
            keys = [unhex(k) for k in j["validators"]]
            self.approvals[unhex(j["validator"])] = (set_hash(keys), tx_id, j["issued_at_ms"])

    def root(self):
        entries = [(k, H(v)) for k, v in self.consents.items()]
        entries += [(approval_key(w), H(approval_value(*a))) for w, a in self.approvals.items()]
        return smt_root(entries)


def walk_changes(chain, genesis_keys, changes, height):
    """Section 10, proofs across changes: the set that commits `height`, or an error string."""
    held, last = genesis_keys, 0
    for i, ch in enumerate(changes):
        where = f"validator_changes[{i}]"
        enc = unhex(ch["header"]["encoding"])
        try:
            f = parse_header(enc)
        except Reject as e:
            return where + ": header: " + str(e)
        if (ch["header"]["height"], ch["header"]["time_ms"], ch["header"]["block_hash"]) != (
                f["height"], f["time_ms"], H(enc).hex()):
            return where + ": header fields disagree with the encoding"
        if not last < f["height"] < height:
            return where + ": order"
        if f["chain_id"] != chain:
            return where + ": chain_id"
        if f["validators_hash"] != set_hash(held).hex():
            return where + ": validators_hash"
        if not commit_ok(chain, held, f["height"], H(enc), ch["commit"]):
            return where + ": commit"
        keys = [unhex(k) for k in ch["validators"]]
        if not keys or any(not a < b for a, b in zip(keys, keys[1:])):
            return where + ": validators not strictly ascending"
        if f["next_validators_hash"] == f["validators_hash"]:
            return where + ": next_validators_hash: not a change block"
        if set_hash(keys).hex() != f["next_validators_hash"]:
            return where + ": next_validators_hash"
        held, last = keys, f["height"]
    return held


def check_set_changes(c, s, chain):
    g = s["genesis"]
    c.eq("set_changes genesis chain_id", g["chain_id"], chain)
    genesis_keys = [unhex(x["public_key"]) for x in g["validators"]]
    held = genesis_keys
    ledger = Ledger()
    leaves, prev, prev_time = [], ZERO, g["genesis_time_ms"]
    change_blocks = []
    rules_seen = set()
    next_height = 1
    for b in s["blocks"]:
        hd, f = b["header"], b["header"]["fields"]
        h, t = f["height"], f["time_ms"]
        n = f"set_changes block {h}"
        enc = unhex(hd["encoding"])
        c.eq(n + " encoding", encode_header(f).hex(), hd["encoding"])
        c.eq(n + " block_hash", H(enc).hex(), hd["block_hash"])
        c.eq(n + " decodes", parse_header(enc), f)
        c.eq(n + " chain_id", f["chain_id"], chain)
        c.eq(n + " height follows", h, next_height)
        next_height = h + 1
        c.eq(n + " prev_block_hash", f["prev_block_hash"], prev.hex())
        c.ok(n + " time increases", t > prev_time)
        c.eq(n + " set that commits it", b["validators"], [k.hex() for k in held])
        c.eq(n + " validators_hash", f["validators_hash"], set_hash(held).hex())
        c.eq(n + " proposer", f["proposer"], held[(h + b["commit"]["round"]) % len(held)].hex())
        c.ok(n + " commit by the set held", commit_ok(chain, held, h, H(enc), b["commit"]))
        decided = None
        for tx in b["txs"]:
            j = tx["json"]
            body, sig = encode_body(j), unhex(j["signature"])
            tid = H(b"\x00" + body + sig)
            c.eq(n + " tx encoding", (body + sig).hex(), tx["encoding"])
            c.ok(n + " tx signature", verify(signer_of(j), b"consent-ledger/tx/v1" + sstr(chain) +
                                             body, sig))
            c.eq(n + " tx state rules", ledger.rule(j, tid, t, held, decided is not None), None)
            ledger.apply(j, tid)
            leaves.append(body + sig)
            if j["kind"] == "set_validators":
                keys = [unhex(k) for k in j["validators"]]
                sh = set_hash(keys)
                count = sum(1 for k in held if k in ledger.approvals and ledger.approvals[k][0] == sh)
                if count >= quorum(len(held)):
                    decided = keys
        for tx in b["rejected"]:
            j = tx["json"]
            body, sig = encode_body(j), unhex(j["signature"])
            c.eq(n + " refused tx encoding", (body + sig).hex(), tx["encoding"])
            got = ledger.rule(j, H(b"\x00" + body + sig), t, held, decided is not None)
            c.eq(n + " refused for", got, tx["rule"])
            rules_seen.add(got)
        if decided is not None:
            ledger.approvals.clear()  # every approval is removed at the end of a deciding block
        c.eq(n + " log_size", f["log_size"], len(leaves))
        c.eq(n + " log_root", f["log_root"], mth(leaves).hex())
        c.eq(n + " state_root", f["state_root"], ledger.root().hex())
        nxt = decided if decided is not None else held
        c.eq(n + " next_validators_hash", f["next_validators_hash"], set_hash(nxt).hex())
        c.eq(n + " decides", b["decides"], None if decided is None else [k.hex() for k in decided])
        if decided is not None:
            change_blocks.append(b)
        held, prev, prev_time = nxt, H(enc), t
    c.eq("set_changes decide two changes", len(change_blocks), 2)
    c.eq("set_changes refusals name every section 10 rule", sorted(rules_seen & {
        "not_validator", "stale_approval", "change_decided", "no_change"}),
        ["change_decided", "no_change", "not_validator", "stale_approval"])

    for t in s["set_validators_transactions"]:
        j = t["json"]
        body, sig = encode_body(j), unhex(j["signature"])
        tid = H(b"\x00" + body + sig)
        keys = [unhex(k) for k in j["validators"]]
        n = "set_validators " + tid.hex()[:16]
        c.eq(n + " encoding", (body + sig).hex(), t["encoding"])
        c.eq(n + " tx_id", tid.hex(), t["tx_id"])
        c.eq(n + " set_hash", set_hash(keys).hex(), t["set_hash"])
        c.eq(n + " approval_key", approval_key(unhex(j["validator"])).hex(), t["approval_key"])
        c.eq(n + " approval_value",
             approval_value(set_hash(keys), tid, j["issued_at_ms"]).hex(), t["approval_value"])
        try:
            decode_signed_tx(body + sig)
            c.ok(n + " decodes", True)
        except Reject as e:
            c.ok(n + " decodes (" + str(e) + ")", False)
    for t in s["invalid_set_validators"]:
        try:
            decode_signed_tx(unhex(t["encoding"]))
            c.ok("invalid set_validators " + t["name"] + " rejected", False)
        except Reject as e:
            c.eq("invalid set_validators " + t["name"] + " rule", str(e), t["rule"])

    head = s["blocks"][-1]["header"]["fields"]["height"]
    for p in s["proofs"]:
        n = "set_changes proof " + p["purpose"]
        c.eq(n + " chain_id", p["chain_id"], chain)
        changes = p["validator_changes"]
        c.eq(n + " carries every change block", [x["header"]["encoding"] for x in changes],
             [b["header"]["encoding"] for b in change_blocks])
        enc = unhex(p["header"]["encoding"])
        f = parse_header(enc)
        c.eq(n + " header height", f["height"], head)
        held = walk_changes(chain, genesis_keys, changes, f["height"])
        c.ok(n + " walk from genesis (" + str(held)[:60] + ")", isinstance(held, list))
        if not isinstance(held, list):
            continue
        c.eq(n + " header names the set held", f["validators_hash"], set_hash(held).hex())
        c.ok(n + " commit by the set held", commit_ok(chain, held, f["height"], H(enc),
                                                       p["commit"]))
        key = state_key(unhex(p["subject"]), unhex(p["controller"]), p["purpose"])
        value = None if p["state"]["value"] is None else unhex(p["state"]["value"])
        leaf = p["state"]["leaf"]
        leaf = None if leaf is None else (unhex(leaf["key"]), unhex(leaf["value_hash"]))
        c.ok(n + " state proof", smt_verify(unhex(f["state_root"]), key, value,
                                            [unhex(x) for x in p["state"]["siblings"]], leaf))
        c.eq(n + " state value", value, ledger.consents.get(key))
        if value is None:
            c.eq(n + " status", p["status"], "none")
            c.ok(n + " no tx", "tx" not in p)
        else:
            c.eq(n + " status", p["status"], "granted")
            tx_enc = unhex(p["tx"]["encoding"])
            i = p["tx"]["log_index"]
            c.eq(n + " tx is the one the state names", H(b"\x00" + tx_enc), value[1:33])
            c.eq(n + " tx at log_index", leaves[i], tx_enc)
            c.eq(n + " inclusion", [x.hex() for x in path(i, leaves[:f["log_size"]])],
                 p["tx"]["inclusion"])
        # Tampered lists fail the walk, each at a check (section 10).
        for name, bad in [("left out", changes[1:]), ("reordered", changes[::-1]),
                          ("duplicated", changes[:1] + changes),
                          ("wrong set", [changes[0], dict(changes[1],
                                                          validators=changes[0]["validators"])])]:
            got = walk_changes(chain, genesis_keys, bad, f["height"])
            if isinstance(got, list):
                c.ok(n + " tampered (" + name + ") still ends on another set",
                     set_hash(got).hex() != f["validators_hash"])
            else:
                c.ok(n + " tampered (" + name + ") fails: " + got, got.startswith(
                    "validator_changes["))
