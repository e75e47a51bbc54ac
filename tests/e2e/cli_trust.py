"""What consentctl trusts (issue 16, items 10, 11 and 14), driven by cli_e2e.py against its real
consentd: a pinned genesis (config file, CONSENT_GENESIS, --genesis) makes consentctl refuse a
node of another chain and check a "committed" answer's inclusion proof and commit; the customer's
history asks the node only about the brands listed beside the key file; verify, history and audit
refuse a head older than --max-age. Lying nodes are local servers in front of the real one
(LyingNode), passing its answers through or altering them. Standard library only."""
import http.client
import http.server
import json
import os
import threading


class LyingNode:
    """A local HTTP server in front of the real node at `port`: every request is passed through,
    then `alter(method, path, status, body_bytes)` may return (status, body_bytes) to send
    instead (or None to pass the answer as it is). Counts the requests by path in `seen`."""

    def __init__(self, port, alter=None):
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def relay(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                outer.seen.append((method, self.path))
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                c.request(method, self.path, body=body,
                          headers={"Content-Type": "application/json"} if body else {})
                r = c.getresponse()
                status, data = r.status, r.read()
                c.close()
                if alter:
                    changed = alter(method, self.path, status, data)
                    if changed is not None:
                        status, data = changed
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self.relay("GET")

            def do_POST(self):
                self.relay("POST")

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _json_alter(fn):
    """An alter() that edits JSON answers with fn(method, path, obj) -> obj or None."""
    def alter(method, path, status, data):
        try:
            obj = json.loads(data)
        except ValueError:
            return None
        new = fn(method, path, obj)
        return None if new is None else (status, json.dumps(new).encode())
    return alter


def pinned_genesis(t, genesis, brand):
    """Item 10: consentctl and the chain it is pinned to."""
    other = json.load(open(genesis))
    other["chain_id"] = "another-chain"
    other_genesis = os.path.join(t.dir, "trust-other-genesis.json")
    json.dump(other, open(other_genesis, "w"))
    # A per-user config file naming the genesis (relative to the config file's folder).
    xdg = os.path.join(t.dir, "xdg-pinned")
    os.makedirs(os.path.join(xdg, "consentctl"), exist_ok=True)
    open(os.path.join(xdg, "consentctl", "config.toml"), "w").write(
        f'# pinned by the e2e test\ngenesis = "{os.path.relpath(genesis, os.path.join(xdg, "consentctl"))}"\n')
    pinned = {"XDG_CONFIG_HOME": xdg}
    grant = ["grant", "--key", "me2.key", "--controller", brand, "--wait", "--purpose"]

    rc, out, err = t.run(*grant, "trust.pinned", env=pinned)
    t.check("pinned by the config file: committed and verified", rc == 0
            and " committed at height " in out and "verified: log index " in out
            and "certified by the validators of the genesis" in out, f"{rc} {out}{err}")
    rc, out, err = t.run(*grant, "trust.unpinned")
    t.check("no genesis pinned: committed, and said to be the node's word", rc == 0
            and "committed" in out and "the node's word, unchecked" in err, f"{rc} {out}{err}")
    rc, out, err = t.run("--json", *grant, "trust.unpinned.json")
    j = json.loads(out) if rc == 0 else {}
    t.check("--json, no genesis pinned: verified false", j.get("status") == "committed"
            and j.get("verified") is False, f"{rc} {out}{err}")
    rc, out, err = t.run(*grant, "trust.other", env={"CONSENT_GENESIS": other_genesis})
    t.check("CONSENT_GENESIS of another chain: the real node refused before signing, exit 2",
            rc == 2 and "expected chain id another-chain" in err
            and "reports chain id e2e-chain" in err and out == "", f"{rc} {out}{err}")
    rc, out, err = t.run(*grant, "trust.flag", "--genesis", other_genesis, env=pinned)
    t.check("--genesis wins over the config file", rc == 2 and "another-chain" in err,
            f"{rc} {out}{err}")
    bad_xdg = os.path.join(t.dir, "xdg-bad")
    os.makedirs(os.path.join(bad_xdg, "consentctl"), exist_ok=True)
    open(os.path.join(bad_xdg, "consentctl", "config.toml"), "w").write('genesis = 5\n')
    rc, out, err = t.run(*grant, "trust.bad", env={"XDG_CONFIG_HOME": bad_xdg})
    t.check("a malformed config file: exit 2 naming it", rc == 2 and "config.toml" in err
            and "genesis must be a string" in err, f"{rc} {out}{err}")
    # verify and audit take the pinned genesis when --genesis is not given.
    rc, out, err = t.run("audit", env=pinned)
    t.check("audit with the pinned genesis: VALID", rc == 0 and out.startswith("VALID: chain"),
            f"{rc} {out}{err}")
    rc, out, err = t.run("audit")
    t.check("audit with no genesis at all: exit 2, says how to pin one", rc == 2
            and "CONSENT_GENESIS" in err, f"{rc} {out}{err}")

    # A lying node that reports another chain id (and claims "committed" for anything).
    def other_chain(method, path, obj):
        if path.startswith("/v1/status"):
            obj["chain_id"] = "another-chain"
            return obj
        if method == "POST":
            return {"tx_id": "ab" * 32, "status": "committed", "height": 5, "log_index": 3}
        return None
    with LyingNode(t.port, _json_alter(other_chain)) as liar:
        rc, out, err = t.run("--node", liar.url, *grant, "trust.liar", env=pinned)
        posted = [p for m, p in liar.seen if m == "POST"]
    t.check("a node reporting another chain id: refused, exit 2, naming both chains", rc == 2
            and "expected chain id e2e-chain" in err and "reports chain id another-chain" in err
            and "hash " in err and not posted, f"{rc} {out}{err} {posted}")

    # A lying node that passes the grant on, then serves an altered inclusion proof.
    def altered_inclusion(method, path, obj):
        if method == "GET" and path.startswith("/v1/txs/") and "inclusion" in obj:
            inc = obj["inclusion"]
            if inc:
                inc[0] = ("1" if inc[0][0] != "1" else "2") + inc[0][1:]
            else:
                obj["inclusion"] = ["00" * 32]
            return obj
        return None
    with LyingNode(t.port, _json_alter(altered_inclusion)) as liar:
        rc, out, err = t.run("--node", liar.url, *grant, "trust.altered", env=pinned)
    t.check("a node with an altered inclusion proof: NOT VERIFIED, exit 1", rc == 1
            and "NOT VERIFIED: the node says committed, but inclusion: the proof does not verify"
            in out and "could not be verified" in err and " committed at height" not in out,
            f"{rc} {out}{err}")
    # A lying node that answers "committed" without passing the transaction on.
    # The POST must not reach the real node: answer it here, from the signed body's id.
    t.ok("a grant signed offline for the swallowing node", "grant", "--key", "me2.key",
         "--controller", brand, "--purpose", "trust.swallowed", "--genesis", genesis, "--out",
         "trust-swallowed.json")
    tx_id = json.loads(t.run("--json", "inspect", "trust-swallowed.json", "--genesis",
                             genesis)[1])["tx_id"]

    class Swallowing(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.answer(200, {"tx_id": tx_id, "status": "committed", "height": 2,
                              "log_index": 1})

        def do_GET(self):
            c = http.client.HTTPConnection("127.0.0.1", t.port, timeout=60)
            c.request("GET", self.path)
            r = c.getresponse()
            self.answer(r.status, json.loads(r.read()))
            c.close()

        def answer(self, status, obj):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Swallowing)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        rc, out, err = t.run("--node", f"http://127.0.0.1:{srv.server_address[1]}", "submit",
                             "trust-swallowed.json", "--wait", env=pinned)
    finally:
        srv.shutdown()
        srv.server_close()
    t.check("a node claiming committed for a tx it never committed: NOT VERIFIED, exit 1",
            rc == 1 and f"{tx_id} NOT VERIFIED: the node says committed, but the node answered 404"
            in out, f"{rc} {out}{err}")


def history_privacy(t, genesis, brand):
    """Item 11: history asks the node only about the brands listed beside the key file; a full
    directory scan is an explicit option that warns what it reveals."""
    import shutil
    import stat
    unrelated = json.loads(t.run("--json", "keygen", "brand", "--out", "unrelated.key")[1])[
        "public_key"]
    t.ok("register a brand the customer never dealt with", "register", "--key", "unrelated.key",
         "--name", "Unrelated Brand", "--wait")
    listed_path = os.path.join(t.dir, "me.key.brands")
    listed = open(listed_path).read().split() if os.path.exists(listed_path) else []
    t.check("me.key.brands lists controller keys only, 0600, with the brand and not the other",
            brand in listed and unrelated not in listed and all(len(k) == 64 for k in listed)
            and stat.S_IMODE(os.stat(listed_path).st_mode) == 0o600, f"{listed}")
    # The customer's subject keys, derived with a copy of the key (its own list is beside it).
    shutil.copy(os.path.join(t.dir, "me.key"), os.path.join(t.dir, "probe.key"))

    def subject_at(controller):
        return t.run("id", "--key", "probe.key", "--controller", controller)[1].strip()
    want = {subject_at(k) for k in listed}
    hidden = subject_at(unrelated)

    def asked(seen):
        return {p.split("/")[3] for m, p in seen if p.startswith("/v1/subjects/")}
    with LyingNode(t.port) as proxy:
        rc, out, err = t.run("--node", proxy.url, "history", "--key", "me.key", "--genesis",
                             genesis)
        got = asked(proxy.seen)
    t.check("history asks only about the listed brands", rc == 0 and got == want
            and hidden not in got and "--scan-directory" not in err,
            f"{rc} asked {len(got)} subjects, want {len(want)}, hidden asked: {hidden in got} "
            f"{out}{err}")
    with LyingNode(t.port) as proxy:
        rc, out, err = t.run("--node", proxy.url, "history", "--key", "me.key", "--genesis",
                             genesis, "--scan-directory")
        got = asked(proxy.seen)
    t.check("history --scan-directory: asks about every brand, after a warning", rc == 0
            and hidden in got and want <= got and "warning: --scan-directory asks" in err
            and "link" in err, f"{rc} {len(got)} {err}")
    t.check("--scan-directory records only brands with entries",
            unrelated not in open(listed_path).read(), open(listed_path).read())
    shutil.copy(os.path.join(t.dir, "me.key"), os.path.join(t.dir, "badlist.key"))
    open(os.path.join(t.dir, "badlist.key.brands"), "w").write(f"{brand}\nnot-a-key\n")
    rc, out, err = t.run("history", "--key", "badlist.key", "--genesis", genesis)
    t.check("a malformed brand list: exit 2 naming the file and line", rc == 2
            and "badlist.key.brands:2" in err, f"{rc} {out}{err}")


def stale_proofs(t, genesis, proof_path):
    """Item 14, the CLI half: verify prints the proof's age and refuses one older than --max-age
    (default 60 s; --at-ms makes the age deterministic), --max-age 0 disables the check."""
    proof = json.load(open(os.path.join(t.dir, proof_path)))
    block_ms = proof["header"]["time_ms"]
    base = ["verify", proof_path, "--genesis", genesis]
    rc, out, err = t.run(*base, "--at-ms", str(block_ms + 120_000))
    t.check("verify of a proof 120 s old (default --max-age 60 s): STALE, exit 1", rc == 1
            and out.startswith("STALE: the proof's block (height ") and "2 min 0 s old" in out
            and "older than --max-age 60 s" in out, f"{rc} {out}{err}")
    rc, out, err = t.run("--json", *base, "--at-ms", str(block_ms + 120_000))
    j = json.loads(out) if out.strip().startswith("{") else {}
    t.check("--json verify of a stale proof: fresh false, age 120000 ms", rc == 1
            and j.get("valid") is True and j.get("fresh") is False
            and j.get("age_ms") == 120_000 and j.get("max_age_ms") == 60_000, f"{rc} {out}{err}")
    rc, out, err = t.run(*base, "--at-ms", str(block_ms + 120_000), "--expect", "granted")
    t.check("--expect on a stale proof exits 1", rc == 1, f"{rc} {out}{err}")
    rc, out, err = t.run(*base, "--at-ms", str(block_ms + 1_000))
    t.check("verify of a proof 1 s old: VALID, age printed", rc == 0
            and out.startswith("VALID: ") and "(1.0 s before the time judged; --max-age 60 s)"
            in out, f"{rc} {out}{err}")
    for flag in ("0", "5m"):
        rc, out, err = t.run(*base, "--at-ms", str(block_ms + 120_000), "--max-age", flag)
        t.check(f"verify --max-age {flag} accepts the 120 s old proof", rc == 0
                and out.startswith("VALID: "), f"{rc} {out}{err}")
    rc, out, err = t.run(*base, "--at-ms", str(block_ms + 120_000),
                         env={"CONSENT_MAX_AGE": "3m"})
    t.check("CONSENT_MAX_AGE 3m accepts it too", rc == 0, f"{rc} {out}{err}")
    for bad in ("60", "-1s", "1y", "99999999s"):
        rc, out, err = t.run(*base, "--max-age", bad)
        t.check(f"verify --max-age {bad}: usage error naming it", rc == 2
                and f'"{bad}"' in err, f"{rc} {out}{err}")


def cut_off_follower(t, consentd):
    """Item 14 against real processes: a validator and a follower; once the validator is gone,
    the follower's /readyz is 503 (cause no_peer) with a warning in its log and the head's age in
    its metrics, and history and audit at it refuse its old head (--max-age 1s, once the head is
    older than that: a bounded wait on the clock, not a threshold)."""
    import random
    import socket
    import subprocess
    import time
    from e2e_common import wait_until_ok
    rng = random.Random()
    for _ in range(100):
        base = rng.randrange(20000, 31990)
        try:
            socks = []
            for p in range(base, base + 4):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            for s in socks:
                s.close()
            break
        except OSError:
            for s in socks:
                s.close()
    out_dir = os.path.join(t.dir, "cutoff")
    r = subprocess.run([consentd, "testnet", "--validators", "1", "--followers", "1", "--out",
                        out_dir, "--base-port", str(base), "--chain-id", "cutoff-chain"],
                       capture_output=True, text=True, timeout=60)
    if not t.check("consentd testnet 1+1", r.returncode == 0, r.stderr):
        return
    procs = {}

    def start(i):
        log = open(os.path.join(out_dir, f"node{i}.log"), "ab")
        procs[i] = subprocess.Popen([consentd, "start", "--home", os.path.join(out_dir, f"node{i}")],
                                    stdout=log, stderr=subprocess.STDOUT)

    def get(i, path):
        c = http.client.HTTPConnection("127.0.0.1", base + 2 * i, timeout=30)
        c.request("GET", path)
        resp = c.getresponse()
        body = resp.read()
        c.close()
        return resp.status, body

    def wait_for(cond, seconds):
        deadline = time.time() + seconds * float(os.environ.get("CONSENT_E2E_SLOW", "1"))
        while time.time() < deadline:
            try:
                if cond():
                    return True
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        return False
    cut_genesis = os.path.join(out_dir, "node0", "genesis.json")
    follower = f"http://127.0.0.1:{base + 2}"
    try:
        start(0)
        start(1)
        wait_until_ok(lambda: get(0, "/readyz")[0], 30, "the validator did not become ready")
        t.ok("cut-off: a brand registers at the validator", "--node", f"http://127.0.0.1:{base}",
             "register", "--key", "brand.key", "--name", "Cutoff Brand", "--wait")
        brand = t.run("--json", "keygen", "brand", "--out", "cutoff-brand.key")[1]
        brand = json.loads(brand)["public_key"]
        t.ok("cut-off: the customer grants at the validator", "--node",
             f"http://127.0.0.1:{base}", "grant", "--key", "me.key", "--controller", brand,
             "--purpose", "cutoff.mail", "--genesis", os.path.join(out_dir, "node0",
                                                                    "genesis.json"), "--wait")
        t.check("cut-off: the follower syncs and is ready", wait_for(
            lambda: get(1, "/readyz")[0] == 200 and json.loads(get(1, "/readyz")[1])["height"]
            >= 1, 30), get(1, "/readyz"))
        procs[0].kill()
        procs[0].wait(timeout=30)
        t.check("cut-off: the follower with no peer answers /readyz 503, cause no_peer",
                wait_for(lambda: get(1, "/readyz")[0] == 503
                         and json.loads(get(1, "/readyz")[1]).get("cause") == "no_peer", 30),
                get(1, "/readyz"))
        st, body = get(1, "/readyz")
        j = json.loads(body)
        t.check("cut-off: the 503 is JSON with the reason", j.get("ready") is False
                and j["error"]["code"] == "not_ready" and "no peer" in j["error"]["message"]
                and j.get("peers") == 0 and j.get("height", 0) >= 1, body)
        st, metrics = get(1, "/metrics")
        t.check("cut-off: /metrics has consent_head_age_seconds and consent_ready 0",
                b"\nconsent_head_age_seconds " in metrics and b"\nconsent_ready 0\n" in metrics,
                metrics[-400:])
        log_path = os.path.join(out_dir, "node1.log")
        t.check("cut-off: the follower's log warns that it is not ready", wait_for(
            lambda: "not ready: a follower with no peer link" in open(log_path).read(), 30),
            open(log_path).read()[-600:])
        head_ms = json.loads(get(1, "/v1/status")[1])["time_ms"]
        while time.time() * 1000 < head_ms + 1_500:
            time.sleep(0.05)
        # The story: the cut-off follower still serves a valid proof of the grant (a
        # revocation elsewhere would be missing from it); once its head is older than the bound,
        # `verify --expect granted` refuses it.
        subject = t.run("id", "--key", "me.key", "--controller", brand)[1].strip()
        rc, out, err = t.run("--node", follower, "prove", "--subject", subject, "--controller",
                             brand, "--purpose", "cutoff.mail", "--out", "cutoff-proof.json")
        t.check("cut-off: the follower still serves a proof", rc == 0, f"{rc} {out}{err}")
        rc, out, err = t.run("verify", "cutoff-proof.json", "--genesis", cut_genesis,
                             "--expect", "granted", "--max-age", "1s")
        t.check("cut-off: verify --expect granted of the follower's old proof: STALE, exit 1",
                rc == 1 and out.startswith("STALE: ") and "granted" in out, f"{rc} {out}{err}")
        rc, out, err = t.run("--node", follower, "history", "--key", "me.key", "--genesis",
                             cut_genesis, "--max-age", "1s")
        t.check("cut-off: history at the follower, head older than --max-age 1s: exit 1",
                rc == 1 and "the node's head (height " in err and "older than --max-age 1.0 s"
                in err, f"{rc} {out}{err}")
        cp = os.path.join(t.dir, "cutoff-cp.json")
        rc, out, err = t.run("--node", follower, "audit", "--genesis", cut_genesis,
                             "--checkpoint", cp, "--max-age", "1s")
        t.check("cut-off: audit at the follower: STALE, exit 1, no checkpoint written", rc == 1
                and out.startswith("STALE: the node's head") and not os.path.exists(cp),
                f"{rc} {out}{err}")
        # The same head under a wider bound (a slow, sanitised run may take a minute to get
        # here): VALID, with its age printed.
        rc, out, err = t.run("--node", follower, "audit", "--genesis", cut_genesis,
                             "--max-age", "10m")
        t.check("cut-off: audit with --max-age 10m: VALID, the age printed", rc == 0
                and out.startswith("VALID: chain cutoff-chain")
                and " old (--max-age 10 min 0 s)" in out, f"{rc} {out}{err}")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)


def _set_hash(keys_hex):
    """H(list<key>) (PROTOCOL.md sections 1 and 5)."""
    import hashlib
    import struct
    return hashlib.sha256(struct.pack(">I", len(keys_hex)) +
                          b"".join(bytes.fromhex(k) for k in keys_hex)).hexdigest()


def validator_commands(t, genesis, proof_path, node_key):
    """Issue 17, what one node can show: `validators` (the set in office, names, quorum, pending
    approvals), `validators approve --out` (a valid SET_VALIDATORS signed by the node key, and the
    refused set arithmetic), `verify --checkpoint` (the start named; a proof below it refused),
    and a proof or chain of another network: exit 2 "not of GENESIS", not INVALID."""
    g = json.load(open(genesis))
    me = g["validators"][0]["public_key"]
    newcomer = json.loads(t.run("--json", "keygen", "validator", "--out", "vc-new.key")[1])
    newcomer = newcomer["public_key"]
    _, st = t.http("GET", "/v1/status")
    st = json.loads(st)
    pending = {"validator": me, "set_hash": _set_hash(sorted([me, newcomer])), "tx_id": "cd" * 32,
               "issued_at_ms": 1700000000000, "in_office": True, "approvals": 1}
    native = t.http("GET", "/v1/validators")[0] == 200

    # Until the node serves GET /v1/validators itself, a local front answers it by the contract
    # (docs/api.md): the genesis set in office since height 1, one pending approval.
    def by_contract(method, path, status, data):
        if method == "GET" and path.startswith("/v1/validators/changes") and status == 404:
            return 200, json.dumps({"changes": []}).encode()
        if method == "GET" and path == "/v1/validators":
            if native:
                obj = json.loads(data)
                obj["pending"] = [pending]
            else:
                obj = {"height": st["height"], "since_height": 1, "validators": [me],
                       "validators_hash": _set_hash([me]), "quorum": 1, "pending": [pending]}
            return 200, json.dumps(obj).encode()
        return None

    with LyingNode(t.port, by_contract) as front:
        rc, out, err = t.run("--node", front.url, "validators", "--genesis", genesis)
        t.check("validators: the set in office with its genesis name and quorum, verified", rc == 0
                and out.startswith("1 validators in office since height 1") and "quorum 1" in out
                and f"{me} {g['validators'][0]['name']}" in out
                and f"pending set {pending['set_hash']}: 1 of 1 approvals" in out
                and "checked: verified from the genesis" in out, f"{rc} {out}{err}")
        rc, out, err = t.run("--json", "--node", front.url, "validators")
        j = json.loads(out) if rc == 0 else {}
        t.check("--json validators: keys, quorum, pending with counts", rc == 0
                and [v["public_key"] for v in j.get("validators", [])] == [me]
                and j.get("quorum") == 1 and j["pending"][0]["approvals"] == 1
                and j["pending"][0]["needed"] == 1, f"{rc} {out}{err}")

        node_key = os.path.abspath(node_key)
        base = ["--node", front.url, "validators", "approve", "--key", node_key]
        rc, out, err = t.run(*base, "--add", newcomer, "--out", "vc-approve.json")
        tx = json.load(open(os.path.join(t.dir, "vc-approve.json"))) if rc == 0 else {}
        t.check("approve --add --out: a SET_VALIDATORS of the sorted new set, signed", rc == 0
                and tx.get("kind") == "set_validators" and tx.get("validator") == me
                and tx.get("validators") == sorted([me, newcomer])
                and "SIGNED approval" in err and pending["set_hash"] in err, f"{rc} {out}{err}")
        rc, out, err = t.run("inspect", "vc-approve.json", "--genesis", genesis)
        t.check("the approval inspects VALID, signed by the node key for the chain", rc == 0
                and out.startswith(f"VALID set_validators ") and f"signed by {me}" in out,
                f"{rc} {out}{err}")
        for name, extra, fragment in [
                ("removing a non-member", ["--remove", newcomer], "not a member"),
                ("adding a member", ["--add", me], "already a member"),
                ("an empty result", ["--remove", me], "would be empty"),
                ("the set in office", ["--replace", f"{me}={newcomer}", "--replace",
                                       f"{newcomer}={me}"], "is the set in office"),
                ("no change named", [], "name a change"),
                ("a bad key", ["--add", "zz"], "--add")]:
            rc, out, err = t.run(*base, *extra, "--out", "vc-refused.json")
            t.check(f"approve refuses {name}: exit 2", rc == 2 and fragment in err
                    and not os.path.exists(os.path.join(t.dir, "vc-refused.json")),
                    f"{rc} {out}{err}")
        rc, out, err = t.run(*base[:-2], "--key", "me.key", "--add", newcomer, "--out", "-")
        t.check("approve with a customer key: exit 2", rc == 2 and "validator's node key" in err,
                f"{rc} {out}{err}")
        many = [json.loads(t.run("--json", "keygen", "validator", "--out", f"vc-m{i}.key")[1])
                ["public_key"] for i in range(64)]
        rc, out, err = t.run(*base, *sum((["--add", k] for k in many), []), "--out", "-")
        t.check("approve refuses more than 64 keys: exit 2", rc == 2 and "more than 64" in err,
                f"{rc} {out}{err}")

    # verify --checkpoint: the audit writes one at its head; a later proof verifies from it.
    proof = json.load(open(os.path.join(t.dir, proof_path)))
    rc, out, err = t.run("audit", "--genesis", genesis, "--write-checkpoint", "vc-cp.json",
                         "--max-age", "0")
    t.check("audit --write-checkpoint: VALID, verified from genesis", rc == 0
            and out.startswith("VALID: ") and "verified from genesis " in out
            and os.path.exists(os.path.join(t.dir, "vc-cp.json")), f"{rc} {out}{err}")
    cp = json.load(open(os.path.join(t.dir, "vc-cp.json")))
    t.check("the checkpoint names the set in office", cp.get("validators") == [me], str(cp))
    rc, out, err = t.run("verify", proof_path, "--genesis", genesis, "--checkpoint", "vc-cp.json",
                         "--max-age", "0")
    t.check("verify --checkpoint of a proof below it: exit 2, said why", rc == 2
            and f"below the checkpoint's height {cp['height']}" in err, f"{rc} {out}{err}")
    later = json.loads(t.run("--json", "keygen", "brand", "--out", "vc-brand.key")[1])["public_key"]
    t.ok("a grant after the checkpoint", "grant", "--key", "me.key", "--controller", later,
         "--purpose", "vc.after", "--wait")
    subject = t.ok("id", "id", "--key", "me.key", "--controller", later).strip()
    t.ok("prove it", "prove", "--subject", subject, "--controller", later, "--purpose",
         "vc.after", "--out", "vc-after.json")
    rc, out, err = t.run("verify", "vc-after.json", "--genesis", genesis, "--checkpoint",
                         "vc-cp.json")
    t.check("verify --checkpoint of a later proof: VALID, from the checkpoint", rc == 0
            and out.startswith("VALID: granted") and
            f"verified from checkpoint at height {cp['height']}" in out, f"{rc} {out}{err}")
    rc, out, err = t.run("verify", "vc-after.json", "--genesis", genesis)
    t.check("verify without it: VALID, from the genesis", rc == 0
            and "verified from genesis " in out, f"{rc} {out}{err}")
    # Another network: another chain id, or the same chain id with other validators.
    other = dict(g, chain_id="other-net")
    twin = dict(g, validators=[{"name": "twin", "public_key": newcomer}])
    for name, gen, fragment in [("another chain id", other, "(chain id e2e-chain, expected "
                                 "other-net)"),
                                ("the same chain id, other validators", twin,
                                 "(chain id e2e-chain as expected, but its header")]:
        path = os.path.join(t.dir, f"vc-genesis-{len(name)}.json")
        json.dump(gen, open(path, "w"))
        rc, out, err = t.run("verify", "vc-after.json", "--genesis", path)
        t.check(f"verify with the genesis of {name}: exit 2, not of it", rc == 2
                and out.startswith(f"NOT OF THIS GENESIS: this proof is not of {path} ")
                and fragment in out and "INVALID" not in out, f"{rc} {out}{err}")
        rc, out, err = t.run("audit", "--genesis", path)
        t.check(f"audit with the genesis of {name}: exit 2, this chain is not of it", rc == 2
                and out.startswith(f"NOT OF THIS GENESIS: this chain is not of {path} "),
                f"{rc} {out}{err}")
