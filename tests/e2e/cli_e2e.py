#!/usr/bin/env python3
"""End-to-end test: a real consentd process on a free loopback port, driven by consentctl the
way customers, brands and auditors use it.

grant -> prove -> verify (granted) -> revoke -> prove (revoked) -> a re-sent grant is refused
(replay) and an older one too (stale) -> expiry reported as expired -> history lists all of it;
every tampered field of a proof is INVALID; kill -9 and restart: every committed tx is still
there. Also: bad input to a few routes gets a 4xx with a JSON error and the node keeps serving.

Kill -9 under load, six times: while batches of grants stream in, the node is killed at a random
moment; after each restart no committed block is missing and a new transaction commits, and at
the end the whole store verifies from genesis. (A kill that lands between the validator's lock on
a block and that block's commit is rare here, since a small block's synced write takes a few
milliseconds; that case is tested deterministically by
NodeTest.ALoneValidatorRestartedBetweenLockAndCommitCommitsTheLockedBlock, and the order of the
two files it needs by NodeTest.EveryLockOnDiskHasItsBlockOnDisk.) The load's grants
are signed here with the independent encoder of tests/vectors/check_vectors.py.

consentctl's own edges: a malformed tx file and a batch with a refused tx (exit 1, readable),
a node that accepts and never answers (a timeout, exit 2), a node on IPv6 loopback, a bad --node
URL or an unreachable node (exit 2 for every command), an unreadable input (exit 2), --json for
id, keygen and inspect, and the limits of --expires and --expires-at-ms.

Which chain consentctl uses: inspect names the chain id it checked (the node's, --genesis or
--chain-id), a --chain-id that is not the node's is refused before sending, history refuses a
genesis of another chain or other validators even with no entries; a grant expired on arrival is
refused; --out names the errno; numbers with leading zeros are decimal; DNS that hangs is bounded
by --timeout-ms (an LD_PRELOAD shim, built here with the C compiler if there is one).

An auditor's audit: the whole chain from block 1 VALID against the genesis, a checkpoint written,
resumed from after another block and again after kill -9; INVALID (exit 1) for another chain's
genesis, a checkpoint whose head the node does not hold or that is ahead of it; exit 2 for a
checkpoint of another chain, with an unknown field or a bad hash; no refused run changes it.
A lying node (a local server replaying the real chain's headers, altered) is INVALID when a
header is missing, repeated as the next height, or carries another block's commit.

Then consent-store warns on a running node's store, verifies the stopped node's data (block
checksums first), finds a copy with a flipped byte in every table file INVALID, and refuses
another chain's genesis, a malformed, missing or unreadable genesis (an input error, exit 2), a
missing store and a missing argument, each with its exit code.

Usage: cli_e2e.py --consentd PATH --consentctl PATH --consent-store PATH
Prints "e2e: N passed, M failed"; exit 0 iff M == 0. Standard library, plus python3-cryptography
(through check_vectors.py) for the load's signatures.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors"))
from e2e_common import Checks, free_port, wait_until_ok  # noqa: E402
import cli_trust  # noqa: E402  (what consentctl trusts: issue 16 items 10, 11, 14)
from check_vectors import encode_body, sstr  # noqa: E402  (the independent encoder)
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

TX_TAG = b"consent-ledger/tx/v1"


def signed_grants(chain, controller_hex, count, issued_at_ms):
    """`count` grants, each from a fresh subject key, for controller_hex (JSON objects)."""
    out = []
    for i in range(count):
        key = Ed25519PrivateKey.generate()
        pub = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        j = {"kind": "grant", "subject": pub.hex(), "controller": controller_hex,
             "purposes": ["load.test"], "data_categories": [], "jurisdiction": "EU-GDPR",
             "policy_hash": "00" * 32, "issued_at_ms": issued_at_ms, "expires_at_ms": 0,
             "nonce": i}
        j["signature"] = key.sign(TX_TAG + sstr(chain) + encode_body(j)).hex()
        out.append(j)
    return out


class E2E(Checks):
    def __init__(self, consentd, consentctl, store_tool):
        super().__init__()
        self.consentd, self.ctl = os.path.abspath(consentd), os.path.abspath(consentctl)
        self.store_tool = os.path.abspath(store_tool)
        self.dir = tempfile.mkdtemp(prefix="consent-e2e-")
        self.home = os.path.join(self.dir, "home")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    # --- helpers -------------------------------------------------------------------------
    def run(self, *args, stdin=None, env=None):
        # No genesis pinned, no max age and no config file from the user running the test,
        # unless a check sets them (tests/e2e/cli_trust.py).
        base = {k: v for k, v in os.environ.items()
                if k not in ("CONSENT_GENESIS", "CONSENT_MAX_AGE", "CONSENTCTL_CONFIG")}
        env = {**base, "CONSENT_NODE": self.url, "XDG_CONFIG_HOME": os.path.join(self.dir, "xdg"),
               **(env or {})}
        p = subprocess.run([self.ctl, *args], cwd=self.dir, env=env, input=stdin,
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def ok(self, what, *args):
        rc, out, err = self.run(*args)
        self.check(what, rc == 0, f"rc={rc} out={out!r} err={err!r}")
        return out

    def http(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def start(self):
        log = open(os.path.join(self.dir, "consentd.log"), "ab")
        self.proc = subprocess.Popen([self.consentd, "start", "--home", self.home], stdout=log,
                                     stderr=subprocess.STDOUT)
        wait_until_ok(lambda: self.http("GET", "/readyz")[0], 30,
                      "consentd did not become ready; see " + log.name)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    # --- the story -----------------------------------------------------------------------
    def main(self):
        subprocess.run([self.consentd, "init", "--home", self.home, "--chain-id", "e2e-chain",
                        "--api", f"127.0.0.1:{self.port}", "--p2p", f"127.0.0.1:{free_port()}"],
                       check=True, capture_output=True, timeout=30)
        genesis = os.path.join(self.home, "genesis.json")
        self.start()

        brand = self.ok("keygen brand", "keygen", "brand", "--out", "brand.key").strip()
        self.ok("keygen customer", "keygen", "customer", "--out", "me.key")
        rc, _, err = self.run("keygen", "customer", "--out", "me.key")
        self.check("keygen refuses to overwrite", rc != 0 and "exists" in err, err)
        subject = self.ok("id", "id", "--key", "me.key", "--controller", brand).strip()
        self.check("subject key is hex", len(subject) == 64)
        self.ok("register", "register", "--key", "brand.key", "--name", "E2E Brand", "--wait")

        # A grant signed by the customer and handed to the brand, which submits it.
        now = int(time.time() * 1000)
        self.ok("grant signed offline", "grant", "--key", "me.key", "--controller", brand,
                "--purpose", "marketing.email", "--purpose", "analytics", "--jurisdiction",
                "EU-GDPR", "--expires", "90d", "--issued-at-ms", str(now - 10_000), "--out",
                "grant.json")
        self.ok("brand submits it", "submit", "grant.json", "--wait")

        def prove_verify(purpose, name, at=None):
            path = f"{name}.json"
            args = ["prove", "--subject", subject, "--controller", brand, "--purpose", purpose,
                    "--out", path]
            if at:
                args += ["--at-ms", str(at)]
            self.ok(f"prove {name}", *args)
            vargs = ["--json", "verify", path, "--genesis", genesis]
            if at:
                # Judged up to two minutes after its block: stale under the default --max-age
                # (60 s), which cli_trust.stale_proofs tests.
                vargs += ["--at-ms", str(at), "--max-age", "5m"]
            rc, out, err = self.run(*vargs)
            verdict = json.loads(out) if out.strip().startswith("{") else {}
            return rc, verdict, path

        rc, v, granted_proof = prove_verify("marketing.email", "granted")
        self.check("verify granted", rc == 0 and v.get("status") == "granted", str(v))

        self.ok("revoke", "revoke", "--key", "me.key", "--controller", brand, "--purpose",
                "marketing.email", "--wait")
        rc, v, _ = prove_verify("marketing.email", "revoked")
        self.check("verify revoked", rc == 0 and v.get("status") == "revoked", str(v))

        # The old grant sent again is a replay; a fresh grant issued before the revoke is stale.
        rc, out, _ = self.run("submit", "grant.json")
        self.check("re-sent grant refused", rc == 1 and "replay" in out, out)
        rc, out, _ = self.run("grant", "--key", "me.key", "--controller", brand, "--purpose",
                              "marketing.email", "--issued-at-ms", str(now - 5_000))
        self.check("older grant refused as stale", rc == 1 and "stale" in out, out)
        rc, v, _ = prove_verify("marketing.email", "still-revoked")
        self.check("still revoked", v.get("status") == "revoked", str(v))

        # Expiry: a grant valid for one minute is expired a minute later.
        self.ok("short grant", "grant", "--key", "me.key", "--controller", brand, "--purpose",
                "marketing.sms", "--expires", "1m", "--wait")
        rc, v, _ = prove_verify("marketing.sms", "fresh")
        self.check("short grant granted now", v.get("status") == "granted", str(v))
        rc, v, _ = prove_verify("marketing.sms", "expired", at=int(time.time() * 1000) + 120_000)
        self.check("expired later", rc == 0 and v.get("status") == "expired", str(v))
        # The same proof judged now: granted, and its own "expired" shown as the claim for the
        # later time it was asked for (not INVALID: nothing in it is false).
        rc, out, _ = self.run("--json", "verify", "expired.json", "--genesis", genesis)
        v = json.loads(out) if out.strip().startswith("{") else {}
        self.check("an expired-later proof judged now", rc == 0 and v.get("status") == "granted"
                   and v.get("proof_status") == "expired", out)
        # Judging before the proof's block is a usage error, not a verdict.
        rc, out, err = self.run("verify", "expired.json", "--genesis", genesis, "--at-ms", "1")
        self.check("--at-ms before the block refused", rc == 2 and "before the proof's block"
                   in err, out + err)

        # Expiry on an idle chain: a grant that expires in 2 s, then no block; once it has
        # passed, prove and verify (both for now) say expired, with the expiry shown.
        expiry = int(time.time() * 1000) + 2_000
        self.ok("grant expiring in 2 s", "grant", "--key", "me.key", "--controller", brand,
                "--purpose", "marketing.post", "--expires-at-ms", str(expiry), "--wait")
        while int(time.time() * 1000) <= expiry + 50:
            time.sleep(0.05)
        rc, v, _ = prove_verify("marketing.post", "idle-expired")
        self.check("expired on an idle chain", rc == 0 and v.get("status") == "expired"
                   and v.get("expires_at_ms") == expiry and v.get("block_time_ms", 0) < expiry, str(v))
        rc, out, _ = self.run("verify", "idle-expired.json", "--genesis", genesis)
        self.check("verify prints the expiry", rc == 0 and out.startswith("VALID: expired since ")
                   and "block time" in out, out)
        # --expect: exit 1 unless the consent is in that state (what a script sending mail needs).
        rc, out, _ = self.run("verify", "idle-expired.json", "--genesis", genesis, "--expect",
                              "granted")
        self.check("--expect granted on an expired consent exits 1", rc == 1
                   and "expected granted: not met" in out, out)
        rc, _, _ = self.run("verify", "idle-expired.json", "--genesis", genesis, "--expect",
                            "expired")
        self.check("--expect expired exits 0", rc == 0)
        rc, _, err = self.run("verify", "idle-expired.json", "--genesis", genesis, "--expect",
                              "maybe")
        self.check("--expect with a bad state is a usage error", rc == 2, err)
        # A purpose is a label: nothing else reaches the node's path.
        rc, _, err = self.run("prove", "--subject", subject, "--controller", brand, "--purpose",
                              "marketing.email?at_ms=1")
        self.check("prove refuses a purpose that is not a label", rc == 2 and "--purpose" in err,
                   err)

        # Never granted: a valid proof of absence.
        rc, v, _ = prove_verify("profiling", "none")
        self.check("none", rc == 0 and v.get("status") == "none", str(v))

        # History lists every grant and revoke, each verified against the genesis.
        rc, out, err = self.run("--json", "history", "--key", "me.key", "--genesis", genesis)
        h = json.loads(out) if rc == 0 else {}
        kinds = [e["tx"]["kind"] for e in h.get("entries", [])]
        self.check("history lists all", kinds == ["grant", "revoke", "grant", "grant"],
                   f"{kinds} {err}")
        self.check("history has no unverified entry", not h.get("problems"), str(h.get("problems")))

        self.history_text(genesis, brand)
        self.tamper(granted_proof, genesis)
        self.bad_input()
        self.ctl_edges(brand, subject, genesis)
        self.ctl_chains(brand, subject, genesis)
        cli_trust.pinned_genesis(self, genesis, brand)
        cli_trust.history_privacy(self, genesis, brand)
        cli_trust.stale_proofs(self, genesis, granted_proof)
        cli_trust.validator_commands(self, genesis, granted_proof,
                                     os.path.join(self.home, "node.key"))
        cli_trust.cut_off_follower(self, self.consentd)
        self.audit(genesis)
        self.silent_node(genesis)
        self.slow_dns()
        self.status_order()
        self.ipv6_node()
        self.store_tool_while_running(genesis)

        # kill -9, restart: every committed tx is still there.
        _, before = self.http("GET", "/v1/status")
        self.stop(signal.SIGKILL)
        self.start()
        _, after = self.http("GET", "/v1/status")
        b, a = json.loads(before), json.loads(after)
        self.check("height survives kill -9", a["height"] == b["height"], f"{b} {a}")
        self.check("log survives kill -9", a["log_size"] == b["log_size"])
        # Six: the four above, the audit's grant to a brand that never registered (listed in
        # me.key.brands by that grant), and cli_trust.validator_commands's grant after its
        # checkpoint.
        rc, out, _ = self.run("--json", "history", "--key", "me.key", "--genesis", genesis)
        self.check("history survives kill -9",
                   rc == 0 and len(json.loads(out)["entries"]) == 6, out[:200])
        # The audit resumes from its checkpoint: the restarted node still holds that head.
        rc, out, err = self.run("audit", "--genesis", genesis, "--checkpoint", "audit-cp.json")
        self.check("audit from the checkpoint after kill -9: VALID", rc == 0 and
                   out.startswith("VALID: chain e2e-chain, heights ") and
                   "from the checkpoint in audit-cp.json" in out, f"{rc} {out}{err}")
        self.kill_under_load(brand)
        self.stop()
        self.check("clean shutdown exit 0", self.proc.returncode == 0, str(self.proc.returncode))
        self.store_tool_checks(genesis)

    def audit(self, genesis):
        """consentctl audit: the whole chain from block 1 VALID against the genesis, JSON figures
        that match the node's status, a checkpoint written and resumed from, and INVALID (exit 1)
        for a foreign genesis, a checkpoint whose head the node does not hold or that is ahead of
        the node; a malformed checkpoint or one of another chain is an input error (exit 2).
        No refused run changes the checkpoint file."""
        _, st = self.http("GET", "/v1/status")
        st = json.loads(st)
        rc, out, err = self.run("--json", "audit", "--genesis", genesis)
        j = json.loads(out) if rc == 0 else {}
        self.check("audit: VALID from block 1 to the head", rc == 0 and j.get("valid") is True
                   and j["from_height"] == 1 and j["to_height"] >= st["height"] and
                   j["headers_checked"] == j["to_height"] and
                   j["log_size"] >= st["log_size"] > 0, f"{rc} {out}{err} {st}")
        cp = os.path.join(self.dir, "audit-cp.json")
        rc, out, err = self.run("audit", "--genesis", genesis, "--checkpoint", "audit-cp.json")
        self.check("audit --checkpoint: VALID, checkpoint written", rc == 0 and
                   out.startswith("VALID: chain e2e-chain, heights 1..") and os.path.exists(cp),
                   f"{rc} {out}{err}")
        saved = json.load(open(cp))
        _, hdr = self.http("GET", f"/v1/headers?from={saved['height']}&to={saved['height']}")
        head = json.loads(hdr)["headers"][0]
        genesis_keys = [v["public_key"] for v in json.load(open(genesis))["validators"]]
        self.check("the checkpoint records the audited head and the set in office",
                   saved["chain_id"] == "e2e-chain"
                   and saved["block_hash"] == head["header"]["block_hash"] and
                   saved["validators"] == genesis_keys and
                   sorted(saved) == ["block_hash", "chain_id", "height", "validators"],
                   f"{saved} {head}")
        # One more block, then resume from the checkpoint.
        self.ok("audit: another grant", "grant", "--key", "me.key", "--controller",
                json.loads(self.run("--json", "keygen", "brand", "--out", "audit-brand.key")[1])
                ["public_key"], "--purpose", "analytics", "--wait")
        rc, out, err = self.run("audit", "--genesis", genesis, "--checkpoint", "audit-cp.json")
        self.check("audit resumes from the checkpoint", rc == 0 and
                   f"heights {saved['height']}.." in out and "from the checkpoint" in out and
                   json.load(open(cp))["height"] > saved["height"], f"{rc} {out}{err}")
        good = open(cp).read()

        def refused(name, alter, want_rc, fragment):
            c = json.loads(good)
            alter(c)
            path = os.path.join(self.dir, f"audit-{name}.json")
            text = json.dumps(c)
            open(path, "w").write(text)
            rc, out, err = self.run("audit", "--genesis", genesis, "--checkpoint", path)
            self.check(f"audit, checkpoint {name}: exit {want_rc}", rc == want_rc and
                       fragment in out + err and open(path).read() == text, f"{rc} {out}{err}")

        refused("rewritten", lambda c: c.update(block_hash="00" * 32), 1,
                "INVALID: height")
        refused("ahead", lambda c: c.update(height=c["height"] + 10**6), 1,
                "below the checkpoint's")
        refused("of another chain", lambda c: c.update(chain_id="another-chain"), 2,
                "is a checkpoint of chain another-chain")
        refused("with an unknown field", lambda c: c.update(note="x"), 2, "note: unknown field")
        refused("with a bad hash", lambda c: c.update(block_hash="zz"), 2, "block_hash")
        refused("of an older consentctl", lambda c: c.update(header_hash=c.pop("block_hash")), 2,
                "written before validator set changes")
        other = json.load(open(genesis))
        other["chain_id"] = "another-chain"
        other_genesis = os.path.join(self.dir, "audit-other-genesis.json")
        json.dump(other, open(other_genesis, "w"))
        rc, out, err = self.run("audit", "--genesis", other_genesis)
        self.check("audit against another chain's genesis: not of this genesis, exit 2",
                   rc == 2 and out.startswith("NOT OF THIS GENESIS: this chain is not of ") and
                   "(chain id e2e-chain, expected another-chain)" in out, f"{rc} {out}{err}")
        self.check("the checkpoint is as the last valid audit left it", open(cp).read() == good)
        # A checkpoint that cannot be written (its folder is missing): the verdict is still
        # printed, then exit 2 naming the path; nothing is left behind.
        rc, out, err = self.run("audit", "--genesis", genesis, "--checkpoint",
                                "no-such-dir/cp.json")
        self.check("audit, checkpoint not writable: VALID printed, then exit 2 naming it",
                   rc == 2 and out.startswith("VALID: ") and "no-such-dir/cp.json" in err and
                   "the audit was VALID" in err and not os.path.exists(
                       os.path.join(self.dir, "no-such-dir")), f"{rc} {out}{err}")
        self.lying_node_audit(genesis)

    def lying_node_audit(self, genesis):
        """A node that serves the real chain's first headers, altered: audit says INVALID (exit
        1) naming the height, for a page with a header missing, a header repeated as the next
        height, and a header whose commit is another block's."""
        import http.server
        _, real = self.http("GET", "/v1/headers?from=1&to=2")
        h1, h2 = json.loads(real)["headers"]
        swapped = json.loads(json.dumps(h2))
        swapped["commit"] = h1["commit"]
        cases = [("a header missing", [h1], "malformed or incomplete"),
                 ("block 1 again as block 2", [h1, h1], "INVALID: height 1: height_not_next"),
                 ("block 2 with block 1's commit", [h1, swapped], "INVALID: height 2: bad_commit")]
        for name, headers, fragment in cases:
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    if self.path.startswith("/v1/status"):
                        body = {"chain_id": "e2e-chain", "height": 2}
                    elif self.path.startswith("/v1/headers"):
                        body = {"headers": headers}
                    else:
                        self.send_response(404)
                        self.end_headers()
                        return
                    data = json.dumps(body).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

                def log_message(self, *args):
                    pass
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            try:
                rc, out, err = self.run("--node", f"http://127.0.0.1:{srv.server_address[1]}",
                                        "audit", "--genesis", genesis)
            finally:
                srv.shutdown()
                srv.server_close()
            self.check(f"audit of a lying node, {name}: INVALID", rc == 1 and fragment in out,
                       f"{rc} {out}{err}")

    def history_text(self, genesis, brand):
        """The plain history: entry/brand counts in good English, past expiries marked."""
        rc, out, err = self.run("history", "--key", "me.key", "--genesis", genesis)
        self.check("history text: 4 entries across 1 brand", rc == 0
                   and "4 entries across 1 brand," in out, out + err)
        post = [line for line in out.splitlines() if "marketing.post" in line]
        self.check("history text: a past expiry is marked expired",
                   len(post) == 1 and "(expired)" in post[0], out)
        first = [line for line in out.splitlines() if "analytics,marketing.email" in line]
        self.check("history text: a future expiry (90d) is not marked",
                   len(first) == 1 and "expired" not in first[0], out)
        self.ok("keygen a second customer", "keygen", "customer", "--out", "me2.key")
        self.ok("the second customer's one grant", "grant", "--key", "me2.key", "--controller",
                brand, "--purpose", "analytics", "--wait")
        rc, out, err = self.run("history", "--key", "me2.key", "--genesis", genesis)
        self.check("history text: 1 entry across 1 brand", rc == 0
                   and "1 entry across 1 brand," in out, out + err)

    def ctl_edges(self, brand, subject, genesis):
        """consentctl's answers to bad files, bad URLs, batches and --json, each exit code."""
        # A malformed tx file: the node's answer has "tx_id": null; a readable refusal, exit 1.
        open(os.path.join(self.dir, "empty.json"), "w").write("{}")
        rc, out, err = self.run("submit", "empty.json")
        self.check("submit {}: rejected (invalid_tx), exit 1", rc == 1
                   and out.startswith("rejected (invalid_tx): ") and "kind" in out,
                   f"{rc} {out}{err}")
        open(os.path.join(self.dir, "empty-batch.json"), "w").write("[{}]")
        rc, out, err = self.run("submit", "empty-batch.json")
        self.check("submit [{}]: rejected, exit 1, counted", rc == 1
                   and out.startswith("rejected (invalid_tx): ")
                   and "1 of 1 transactions refused" in err, f"{rc} {out}{err}")
        open(os.path.join(self.dir, "kind-only.json"), "w").write('{"kind": "grant"}')
        rc, out, err = self.run("submit", "kind-only.json")
        self.check("submit {kind only}: rejected, exit 1", rc == 1 and "rejected (" in out,
                   f"{rc} {out}{err}")

        # A batch of one new grant and one replay: the new one goes in, the exit code is 1.
        # (The second customer's, so that the first one's history stays as checked below.)
        self.ok("grant for a batch", "grant", "--key", "me2.key", "--controller", brand,
                "--purpose", "batch.one", "--out", "b1.json")
        batch = [json.load(open(os.path.join(self.dir, f))) for f in ("b1.json", "grant.json")]
        json.dump(batch, open(os.path.join(self.dir, "mixed.json"), "w"))
        rc, out, err = self.run("submit", "mixed.json", "--wait")
        self.check("mixed batch: exit 1, one committed, one refused", rc == 1
                   and "committed" in out and "replay" in out
                   and "1 of 2 transactions refused" in err, f"{rc} {out}{err}")
        rc, out, err = self.run("--json", "submit", "mixed.json")
        self.check("mixed batch --json: exit 1, JSON on stdout", rc == 1
                   and isinstance(json.loads(out), list) and "2 of 2 transactions refused" in err,
                   f"{rc} {out}{err}")

        # A bad --node URL is a usage error (2) for every command that talks to a node.
        for bad in ("https://127.0.0.1:1", "127.0.0.1:1", "http://", "http://127.0.0.1:0",
                    "http://127.0.0.1:99999", "http://[::1"):
            for cmd in (["status"], ["history", "--key", "me.key"],
                        ["history", "--key", "me.key", "--genesis", genesis],
                        ["prove", "--subject", subject, "--controller", brand, "--purpose", "x"],
                        ["submit", "grant.json"],
                        ["grant", "--key", "me.key", "--controller", brand, "--purpose", "x"]):
                rc, out, err = self.run("--node", bad, *cmd)
                self.check(f"--node {bad} {cmd[0]}{' --genesis' if '--genesis' in cmd else ''}:"
                           " exit 2", rc == 2 and "error:" in err, f"{rc} {out}{err}")
        # An unreachable node: 2 as well, with or without --genesis.
        down = f"http://127.0.0.1:{free_port()}"
        for cmd in (["status"], ["history", "--key", "me.key"],
                    ["history", "--key", "me.key", "--genesis", genesis]):
            rc, out, err = self.run("--node", down, *cmd)
            self.check(f"unreachable node, {' '.join(cmd[::2])}: exit 2",
                       rc == 2 and "cannot connect" in err, f"{rc} {out}{err}")

        # An input that is a directory: "cannot read", exit 2 (not INVALID).
        os.makedirs(os.path.join(self.dir, "adir"), exist_ok=True)
        for cmd in (["verify", "adir", "--genesis", genesis], ["verify", "empty.json",
                    "--genesis", "adir"], ["inspect", "adir"], ["submit", "adir"]):
            rc, out, err = self.run(*cmd)
            self.check(f"{' '.join(cmd)}: cannot read, exit 2",
                       rc == 2 and "cannot read adir" in err and "INVALID" not in out,
                       f"{rc} {out}{err}")

        # --json is JSON for id, keygen and inspect.
        def as_json(text):
            try:
                return json.loads(text)
            except ValueError:
                return None
        rc, out, err = self.run("--json", "id", "--key", "me.key", "--controller", brand)
        j = as_json(out)
        self.check("--json id", rc == 0 and isinstance(j, dict) and j.get("subject") == subject
                   and j.get("controller") == brand, out + err)
        rc, out, err = self.run("--json", "keygen", "brand", "--out", "b-json.key")
        j = as_json(out)
        self.check("--json keygen brand", rc == 0 and isinstance(j, dict)
                   and j.get("kind") == "brand" and len(j.get("public_key", "")) == 64
                   and j.get("file") == "b-json.key", out + err)
        rc, out, err = self.run("--json", "keygen", "customer", "--out", "c-json.key")
        j = as_json(out)
        self.check("--json keygen customer", rc == 0 and isinstance(j, dict)
                   and j.get("kind") == "customer" and "public_key" not in j, out + err)
        rc, out, err = self.run("--json", "inspect", "empty.json")
        j = as_json(out)
        self.check("--json inspect of a malformed tx", rc == 1 and isinstance(j, dict)
                   and j.get("valid") is False and "kind" in j.get("error", ""), out + err)
        rc, out, err = self.run("--json", "inspect", "b1.json", "--chain-id", "e2e-chain")
        j = as_json(out)
        self.check("--json inspect of a good tx", rc == 0 and isinstance(j, dict)
                   and j.get("valid") is True, out + err)

        # --expires and --expires-at-ms limits, naming what was typed.
        offline = ["grant", "--key", "me.key", "--controller", brand, "--purpose", "x",
                   "--chain-id", "e2e-chain", "--out", "-"]
        rc, out, err = self.run(*offline, "--expires", "1000000d")
        self.check("--expires 1000000d accepted", rc == 0 and '"expires_at_ms"' in out, err)
        for bad in ("1000001d", "1000009d", "10000000d"):
            rc, out, err = self.run(*offline, "--expires", bad)
            self.check(f"--expires {bad} refused", rc == 2 and "at most 1000000" in err,
                       f"{rc} {err}")
        for bad in ("-1", "99999999999999999999", "18446744073709551616", "9007199254740992",
                    "1e3"):
            rc, out, err = self.run(*offline, "--expires-at-ms", bad)
            self.check(f"--expires-at-ms {bad} refused naming it", rc == 2
                       and f'"{bad}"' in err and "18446744073709551615" not in err, f"{rc} {err}")

        # status in text: one "validators" label for the set, the node's role apart, and the
        # consensus state in words, not JSON.
        rc, out, err = self.run("status")
        lines = out.splitlines()
        self.check("status text: role, one validators label, consensus in words", rc == 0
                   and any(line.split()[:2] == ["role", "validator"] for line in lines)
                   and sum(line.startswith("validators ") for line in lines) == 1
                   and not any(line.startswith("validator ") for line in lines)
                   and any(line.startswith("consensus ") and "{" not in line
                           and "step " in line for line in lines), out + err)

    def ctl_chains(self, brand, subject, genesis):
        """Which chain consentctl checks or signs for, and the smaller input rules: inspect says
        the chain id it used, a --chain-id that is not the node's is refused before sending,
        history refuses a foreign genesis even with no entries, a grant expired on arrival is
        refused, --out names the errno, numbers with leading zeros are decimal, and prove checks
        a purpose with the ledger's own label rule."""
        other = json.load(open(genesis))
        other["chain_id"] = "another-chain"
        other_genesis = os.path.join(self.dir, "chains-other-genesis.json")
        json.dump(other, open(other_genesis, "w"))
        # The same chain id, another validator.
        rc, out, _ = self.run("--json", "keygen", "validator", "--out", "chains-v.key")
        forged = json.load(open(genesis))
        forged["validators"] = [{"name": "validator-0",
                                 "public_key": json.loads(out)["public_key"]}]
        forged_genesis = os.path.join(self.dir, "chains-forged-genesis.json")
        json.dump(forged, open(forged_genesis, "w"))

        # inspect: the node's chain by default, or --genesis, or --chain-id; always named.
        rc, out, err = self.run("inspect", "b1.json")
        self.check("inspect without --chain-id: the node's chain, named", rc == 0
                   and out.startswith("VALID grant ") and "for chain e2e-chain (from the node "
                   in out, f"{rc} {out}{err}")
        rc, out, err = self.run("inspect", "b1.json", "--genesis", genesis)
        self.check("inspect --genesis: that chain, named", rc == 0
                   and "for chain e2e-chain (from the genesis " in out, f"{rc} {out}{err}")
        rc, out, err = self.run("inspect", "b1.json", "--genesis", other_genesis)
        self.check("inspect --genesis of another chain: INVALID naming the chain", rc == 1
                   and out.startswith("INVALID: ") and "another-chain" in out
                   and "signed for another chain?" in out, f"{rc} {out}{err}")
        rc, out, err = self.run("--json", "inspect", "b1.json")
        j = json.loads(out) if out.strip().startswith("{") else {}
        self.check("--json inspect gives chain_id", rc == 0 and j.get("valid") is True
                   and j.get("chain_id") == "e2e-chain", f"{rc} {out}{err}")
        rc, out, err = self.run("--node", f"http://127.0.0.1:{free_port()}", "inspect", "b1.json")
        self.check("inspect with no node and no --chain-id: exit 2, says how to go offline",
                   rc == 2 and "--chain-id or --genesis" in err, f"{rc} {out}{err}")
        rc, out, err = self.run("inspect", "b1.json", "--chain-id", "x", "--genesis", genesis)
        self.check("inspect --chain-id with --genesis: usage error", rc == 2, f"{rc} {out}{err}")

        # A --chain-id that is not the node's: refused before anything is sent.
        rc, out, err = self.run("grant", "--key", "me2.key", "--controller", brand, "--purpose",
                                "chain.wrong", "--chain-id", "wrong-chain")
        self.check("grant --chain-id not the node's: refused before sending, exit 2", rc == 2
                   and "--chain-id wrong-chain is not the chain of" in err
                   and "e2e-chain" in err and "rejected" not in out, f"{rc} {out}{err}")
        rc, out, err = self.run("grant", "--key", "me2.key", "--controller", brand, "--purpose",
                                "chain.right", "--chain-id", "e2e-chain", "--wait")
        self.check("grant --chain-id the node's: committed", rc == 0 and "committed" in out,
                   f"{rc} {out}{err}")
        rc, out, err = self.run("grant", "--key", "me2.key", "--controller", brand, "--purpose",
                                "chain.offline", "--chain-id", "wrong-chain", "--out", "-")
        self.check("grant --chain-id another chain --out: signed offline", rc == 0
                   and '"signature"' in out, f"{rc} {err}")

        # history with a genesis of another chain, or other validators: refused with no entries.
        self.ok("keygen a customer with no entries", "keygen", "customer", "--out", "fresh.key")
        rc, out, err = self.run("history", "--key", "fresh.key", "--genesis", genesis)
        self.check("history of a customer with no entries, right genesis: 0 entries", rc == 0
                   and "0 entries across" in out, f"{rc} {out}{err}")
        rc, out, err = self.run("history", "--key", "fresh.key", "--genesis", other_genesis)
        self.check("history, no entries, genesis of another chain: not of it, exit 2", rc == 2
                   and "this chain is not of " in err and "another-chain" in err
                   and "0 entries" not in out, f"{rc} {out}{err}")
        rc, out, err = self.run("history", "--key", "fresh.key", "--genesis", forged_genesis)
        self.check("history, no entries, genesis with other validators: not of it, exit 2",
                   rc == 2 and "this chain is not of " in err and "as expected, but height 1 is "
                   "committed by none of the validators" in err
                   and "0 entries" not in out, f"{rc} {out}{err}")
        rc, out, err = self.run("history", "--key", "fresh.key", "--genesis", forged_genesis,
                                "--controller", "ab" * 32)
        self.check("history, an unregistered brand, other validators: refused", rc == 2
                   and "0 entries" not in out, f"{rc} {out}{err}")

        # A grant expired on arrival (backdated issue time, past expiry): refused, not sent.
        now = int(time.time() * 1000)
        offline = ["grant", "--key", "me.key", "--controller", brand, "--purpose", "late",
                   "--chain-id", "e2e-chain", "--out", "-"]
        rc, out, err = self.run(*offline, "--issued-at-ms", str(now - 100_000), "--expires-at-ms",
                                str(now - 50_000))
        self.check("grant with a past --expires-at-ms: refused, exit 2", rc == 2
                   and "expired before it is sent" in err and out == "", f"{rc} {out}{err}")
        rc, out, err = self.run(*offline, "--issued-at-ms", str(now - 100_000), "--expires", "1m")
        self.check("grant with --expires ending before now: refused, exit 2", rc == 2
                   and "expired before it is sent" in err and "--issued-at-ms" in err,
                   f"{rc} {out}{err}")
        rc, out, err = self.run(*offline, "--issued-at-ms", str(now - 100_000), "--expires", "1h")
        self.check("backdated grant with a future expiry: signed", rc == 0, f"{rc} {err}")
        rc, out, err = self.run(*offline, "--issued-at-ms", str(now), "--expires-at-ms", str(now))
        self.check("expiry at the issue time: the syntax rule's message", rc == 2
                   and "use 0 for never" in err, f"{rc} {err}")

        # --out: never overwrites; a failure names its reason.
        rc, out, err = self.run(*offline[:-1], "nodir/g.json")
        self.check("grant --out into a missing directory: the errno, exit 2", rc == 2
                   and "cannot write nodir/g.json: No such file or directory" in err,
                   f"{rc} {err}")
        rc, out, err = self.run(*offline[:-1], "grant.json")
        self.check("grant --out an existing file: refused", rc == 2 and "already exists" in err,
                   f"{rc} {err}")
        rc, out, err = self.run("prove", "--subject", subject, "--controller", brand, "--purpose",
                                "analytics", "--out", "nodir/p.json")
        self.check("prove --out into a missing directory: the errno, exit 2", rc == 2
                   and "cannot write nodir/p.json: No such file or directory" in err,
                   f"{rc} {err}")
        self.check("no partial file left", not os.path.exists(os.path.join(self.dir, "nodir")))

        # Numbers are decimal, leading zeros or not (CLI11 alone would read "010" as octal 8).
        rc, out, err = self.run(*offline[:-2], "--out", "-", "--issued-at-ms", "010",
                                "--nonce", "0100", "--expires-at-ms", "0")
        j = json.loads(out) if rc == 0 else {}
        self.check("--issued-at-ms 010 and --nonce 0100 are decimal", j.get("issued_at_ms") == 10
                   and j.get("nonce") == 100 and j.get("expires_at_ms") == 0, f"{rc} {out}{err}")
        far = now + 86_400_000
        rc, out, err = self.run(*offline, "--expires-at-ms", f"00{far}")
        j = json.loads(out) if rc == 0 else {}
        self.check("--expires-at-ms with leading zeros is decimal", j.get("expires_at_ms") == far,
                   f"{rc} {out}{err}")
        for bad in ("0x10", "+5", " 5", "5 "):
            rc, out, err = self.run(*offline, "--nonce", bad)
            self.check(f"--nonce {bad!r} refused naming it", rc == 2 and f'"{bad}"' in err,
                       f"{rc} {err}")
        rc, out, err = self.run("--timeout-ms", "0x10", "status")
        self.check("--timeout-ms 0x10 refused", rc == 2 and '"0x10"' in err, f"{rc} {out}{err}")

        # prove checks a purpose with the ledger's label rule (and its message).
        for bad, says in (("a b", "--purpose: byte 1 (' ') is not in [a-z0-9._-]"),
                          ("", "--purpose: empty"), ("x" * 65, "--purpose: length 65 exceeds 64"),
                          ("Up", "--purpose: byte 0 ('U') is not in")):
            rc, out, err = self.run("prove", "--subject", subject, "--controller", brand,
                                    "--purpose", bad)
            self.check(f"prove --purpose {bad[:8]!r}: the ledger's label rule, exit 2", rc == 2
                       and says in err, f"{rc} {err}")

    def status_order(self):
        """status, plain and --json, keeps the node's order of fields (chain_id first), as the
        commands that build their own JSON do; it used to come out sorted (catching_up first)."""
        _, raw = self.http("GET", "/v1/status")
        node_keys = list(json.loads(raw).keys())
        rc, out, err = self.run("--json", "status")
        keys = list(json.loads(out).keys()) if rc == 0 else []
        # height and the like can move between the two reads; the order of the keys cannot.
        self.check("--json status keeps the node's key order", keys == node_keys,
                   f"{keys} vs {node_keys} {err}")
        rc, out, err = self.run("status")
        self.check("plain status starts with the node's first field", rc == 0
                   and out.split()[:1] == [node_keys[0]], out + err)

    def slow_dns(self):
        """A host name whose resolution hangs: bounded by --timeout-ms like the connection.
        getaddrinfo is made slow for one name by an LD_PRELOAD shim built here."""
        cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") \
            or shutil.which("clang")
        if not cc:
            print("note: skipping the slow-DNS check: no C compiler to build the shim")
            return
        src = os.path.join(self.dir, "slow_dns.c")
        lib = os.path.join(self.dir, "slow_dns.so")
        open(src, "w").write(r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>
int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** res) {
  if (node && strcmp(node, "slow-dns.test") == 0) sleep(20);
  int (*real)(const char*, const char*, const struct addrinfo*, struct addrinfo**) =
      (int (*)(const char*, const char*, const struct addrinfo*, struct addrinfo**))
          dlsym(RTLD_NEXT, "getaddrinfo");
  return real(node, service, hints, res);
}
""")
        p = subprocess.run([cc, "-shared", "-fPIC", "-o", lib, src, "-ldl"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            print(f"note: skipping the slow-DNS check: cannot build the shim: {p.stderr}")
            return
        env = {"LD_PRELOAD": lib,
               "ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
               .lstrip(":")}
        t0 = time.time()
        try:
            rc, out, err = self.run("--timeout-ms", "1000", "--node", "http://slow-dns.test:7800",
                                    "status", env=env)
        except subprocess.TimeoutExpired:
            rc, out, err = None, "", "hung for 60 s"
        took = time.time() - t0
        self.check("slow DNS: cannot resolve within 1 s, exit 2", rc == 2
                   and "cannot resolve slow-dns.test within 1 s" in err and took < 10,
                   f"{rc} {took:.1f}s {out}{err}")
        # The shim leaves other names alone: the node still answers through it.
        rc, out, err = self.run("--timeout-ms", "1000", "--node",
                                f"http://localhost:{self.port}", "status", env=env)
        self.check("through the shim, localhost still resolves", rc == 0, f"{rc} {out}{err}")

    def store_tool_while_running(self, genesis):
        """consent-store on a running node's store says that a process holds it."""
        data = os.path.join(self.home, "data")
        p = subprocess.run([self.store_tool, "info", "--data", data, "--genesis", genesis],
                           capture_output=True, text=True, timeout=120)
        self.check("consent-store info on a running node's store: warns, naming its pid",
                   p.returncode == 0 and f"warning: process {self.proc.pid} holds the store's lock"
                   in p.stderr and "height:" in p.stdout, f"{p.returncode} {p.stdout}{p.stderr}")

    def silent_node(self, genesis):
        """A node that accepts connections and never answers: a timeout, exit 2, not a hang."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        held = []

        def accept():
            while True:
                try:
                    held.append(srv.accept()[0])
                except OSError:
                    return
        threading.Thread(target=accept, daemon=True).start()
        url = f"http://127.0.0.1:{srv.getsockname()[1]}"
        try:
            for how, args, env in (
                    ("CONSENT_TIMEOUT_MS=1000", ["status"], {"CONSENT_TIMEOUT_MS": "1000"}),
                    ("--timeout-ms 1000", ["--timeout-ms", "1000", "status"], None),
                    ("submit", ["submit", "grant.json"], {"CONSENT_TIMEOUT_MS": "1000"}),
                    ("history --genesis", ["history", "--key", "me.key", "--genesis", genesis],
                     {"CONSENT_TIMEOUT_MS": "1000"}),
                    ("audit", ["audit", "--genesis", genesis], {"CONSENT_TIMEOUT_MS": "1000"}),
                    ("--timeout-ms 01000 (decimal)", ["--timeout-ms", "01000", "status"], None),
                    ("CONSENT_TIMEOUT_MS=01000 (decimal)", ["status"],
                     {"CONSENT_TIMEOUT_MS": "01000"})):
                t0 = time.time()
                try:
                    rc, out, err = self.run("--node", url, *args, env=env)
                except subprocess.TimeoutExpired:
                    rc, out, err = None, "", "hung for 60 s"
                took = time.time() - t0
                self.check(f"silent node, {how}: no answer within 1 s, exit 2", rc == 2
                           and f"no answer from {url} within 1 s" in err and took < 10,
                           f"{rc} {took:.1f}s {out}{err}")
        finally:
            srv.close()
            for c in held:
                c.close()
        rc, _, err = self.run("--timeout-ms", "0", "status")
        self.check("--timeout-ms 0 is a usage error", rc == 2, err)

    def ipv6_node(self):
        """consentctl --node http://[::1]:PORT against a consentd whose API listens on [::1]."""
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
                port = s.getsockname()[1]
        except OSError as e:
            print(f"note: skipping the IPv6 checks: cannot bind [::1] ({e})")
            return
        home6 = os.path.join(self.dir, "home6")
        subprocess.run([self.consentd, "init", "--home", home6, "--chain-id", "e2e-v6",
                        "--api", f"[::1]:{port}", "--p2p", f"127.0.0.1:{free_port()}"],
                       check=True, capture_output=True, timeout=30)
        log = open(os.path.join(self.dir, "consentd6.log"), "ab")
        proc = subprocess.Popen([self.consentd, "start", "--home", home6], stdout=log,
                                stderr=subprocess.STDOUT)
        url6 = f"http://[::1]:{port}"
        try:
            def probe():
                c = http.client.HTTPConnection("::1", port, timeout=5)
                c.request("GET", "/readyz")
                st = c.getresponse().status
                c.close()
                return st
            wait_until_ok(probe, 30, "the IPv6 consentd did not become ready; see " + log.name)
            for url in (url6, url6 + "/"):
                rc, out, err = self.run("--node", url, "--json", "status")
                j = json.loads(out) if rc == 0 and out.strip().startswith("{") else {}
                self.check(f"--node {url} status", j.get("chain_id") == "e2e-v6", out + err)
            rc, out, err = self.run("--node", url6, "keygen", "brand", "--out", "v6.key")
            rc, out, err = self.run("--node", url6, "register", "--key", "v6.key", "--name",
                                    "V6", "--wait")
            self.check("register --wait over IPv6", rc == 0 and "committed" in out, out + err)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        # Without a port: [::1] on port 80 (nothing there, so a connection error, not "resolve").
        rc, out, err = self.run("--node", "http://[::1]", "status")
        self.check("--node http://[::1] parses (port 80)", rc == 2
                   and "http://[::1]:80" in err and "resolve" not in err, err)
        rc, out, err = self.run("--node", "http://::1:7800", "status")
        self.check("--node with an unbracketed IPv6 address: exit 2, says brackets", rc == 2
                   and "brackets" in err, err)

    def kill_under_load(self, brand, rounds=6):
        seed = random.randrange(1 << 30)
        print(f"kill -9 under load: seed {seed}")
        rng = random.Random(seed)
        headers = {"Content-Type": "application/json"}
        for r in range(rounds):
            now = int(time.time() * 1000) - 1000
            grants = signed_grants("e2e-chain", brand, 400, now)
            stop = threading.Event()

            def load():
                for i in range(0, len(grants), 20):
                    if stop.is_set():
                        return
                    try:
                        self.http("POST", "/v1/txs", json.dumps(grants[i:i + 20]), headers)
                    except (OSError, http.client.HTTPException):
                        return

            t = threading.Thread(target=load)
            t.start()
            time.sleep(rng.uniform(0.2, 0.8))
            _, before = self.http("GET", "/v1/status")
            self.stop(signal.SIGKILL)
            stop.set()
            t.join(timeout=60)
            self.start()
            _, after = self.http("GET", "/v1/status")
            b, a = json.loads(before), json.loads(after)
            self.check(f"kill -9 under load {r}: no committed block lost",
                       a["height"] >= b["height"], f"{b['height']} -> {a['height']}")
            fresh = signed_grants("e2e-chain", brand, 1, int(time.time() * 1000) - 1000)[0]
            st, body = self.http("POST", "/v1/txs?wait=commit", json.dumps(fresh), headers)
            ans = json.loads(body) if body else {}
            self.check(f"kill -9 under load {r}: a new transaction commits after the restart",
                       st == 200 and ans.get("status") == "committed", f"{st} {body[:300]!r}")

    def store_tool_checks(self, genesis):
        """consent-store on the stopped node's data: sound store, then bad input of each kind."""
        data = os.path.join(self.home, "data")

        def tool(*args):
            p = subprocess.run([self.store_tool, *args], capture_output=True, text=True,
                               timeout=120)
            return p.returncode, p.stdout + p.stderr

        rc, out = tool("verify", "--data", data, "--genesis", genesis)
        self.check("consent-store verify: VALID", rc == 0 and "VALID" in out, out)
        self.check("consent-store verify: table files' block checksums checked (with the time)",
                   "block checksums hold (" in out, out)
        self.check("consent-store verify on a stopped node's store: no warning",
                   "warning" not in out, out)
        # A copy of the store with a byte flipped in the middle of every table file: INVALID at
        # the checksum pass, naming a table file; the store itself is not touched.
        damaged = os.path.join(self.dir, "damaged-data")
        shutil.copytree(data, damaged)
        tables = [f for f in os.listdir(damaged) if f.endswith(".sst")]
        for f in tables:
            path = os.path.join(damaged, f)
            with open(path, "r+b") as fh:
                fh.seek(os.path.getsize(path) // 2)
                b = fh.read(1)
                fh.seek(os.path.getsize(path) // 2)
                fh.write(bytes([b[0] ^ 0x5A]))
        rc, out = tool("verify", "--data", damaged, "--genesis", genesis)
        self.check("consent-store verify: flipped table bytes are INVALID, naming the file",
                   len(tables) > 0 and rc == 1 and "INVALID" in out and ".sst" in out, out)
        shutil.rmtree(damaged, ignore_errors=True)
        rc, out = tool("info", "--data", data, "--genesis", genesis)
        self.check("consent-store info", rc == 0 and "height:" in out, out)
        other = json.load(open(genesis))
        other["chain_id"] = "another-chain"
        other_path = os.path.join(self.dir, "other-genesis.json")
        json.dump(other, open(other_path, "w"))
        rc, out = tool("verify", "--data", data, "--genesis", other_path)
        self.check("consent-store: another chain refused", rc == 1 and "another chain" in out, out)
        bad_path = os.path.join(self.dir, "bad-genesis.json")
        open(bad_path, "w").write("{not json")
        # The genesis is the operator's input, not the store: an input error (2), not a verdict.
        rc, out = tool("verify", "--data", data, "--genesis", bad_path)
        self.check("consent-store: malformed genesis named, exit 2", rc == 2 and bad_path in out
                   and "INVALID" not in out, out)
        os.makedirs(os.path.join(self.dir, "gdir"), exist_ok=True)
        for cmd in ("verify", "info"):
            rc, out = tool(cmd, "--data", data, "--genesis", os.path.join(self.dir, "gdir"))
            self.check(f"consent-store {cmd}: a directory as genesis, exit 2 with the errno",
                       rc == 2 and "Is a directory" in out and "INVALID" not in out, out)
            rc, out = tool(cmd, "--data", data, "--genesis", os.path.join(self.dir, "nofile"))
            self.check(f"consent-store {cmd}: a missing genesis, exit 2 with the errno",
                       rc == 2 and "No such file or directory" in out and "INVALID" not in out,
                       out)
        rc, out = tool("verify", "--data", os.path.join(self.dir, "nowhere"), "--genesis", genesis)
        self.check("consent-store: missing store", rc == 1 and "no store" in out, out)
        rc, out = tool("verify", "--genesis", genesis)
        self.check("consent-store: usage error exit 2", rc == 2, out)

    def tamper(self, proof_path, genesis):
        original = json.load(open(os.path.join(self.dir, proof_path)))

        def mutated(fn, name):
            p = json.loads(json.dumps(original))
            fn(p)
            path = os.path.join(self.dir, f"tampered-{name}.json")
            json.dump(p, open(path, "w"))
            rc, out, _ = self.run("verify", path, "--genesis", genesis)
            self.check(f"tampered {name} is INVALID", rc == 1 and "INVALID" in out, out)

        def flip_hex(s):
            return ("1" if s[0] == "0" else "0") + s[1:]

        mutated(lambda p: p.__setitem__("status", "revoked"), "status")
        mutated(lambda p: p.__setitem__("purpose", "analytics"), "purpose")
        mutated(lambda p: p.__setitem__("subject", flip_hex(p["subject"])), "subject")
        mutated(lambda p: p.__setitem__("controller", flip_hex(p["controller"])), "controller")
        mutated(lambda p: p["header"].__setitem__("encoding", flip_hex(p["header"]["encoding"][:-2])
                                                  + p["header"]["encoding"][-2:]), "header")
        mutated(lambda p: p["header"].__setitem__("height", p["header"]["height"] + 1), "height")
        mutated(lambda p: p["commit"]["signatures"][0].__setitem__(
            "signature", flip_hex(p["commit"]["signatures"][0]["signature"])), "commit")
        mutated(lambda p: p["commit"].__setitem__("signatures", []), "no-signatures")
        mutated(lambda p: p["state"].__setitem__("value", flip_hex(p["state"]["value"])), "value")
        if original["state"]["siblings"]:
            mutated(lambda p: p["state"]["siblings"].__setitem__(
                0, flip_hex(p["state"]["siblings"][0])), "sibling")
        mutated(lambda p: p["tx"].__setitem__("encoding", flip_hex(p["tx"]["encoding"])), "tx")
        mutated(lambda p: p["tx"].__setitem__("log_index", p["tx"]["log_index"] + 1), "log-index")
        if original["tx"]["inclusion"]:
            mutated(lambda p: p["tx"]["inclusion"].__setitem__(
                0, flip_hex(p["tx"]["inclusion"][0])), "inclusion")
        mutated(lambda p: p.__setitem__("chain_id", "other-chain"), "chain-id")
        # --json: the failure is in "error", a string, as for inspect.
        rc, out, _ = self.run("--json", "verify", os.path.join(self.dir, "tampered-status.json"),
                              "--genesis", genesis)
        j = json.loads(out) if out.strip().startswith("{") else {}
        self.check("--json verify of an INVALID proof: valid false, error a string", rc == 1
                   and j.get("valid") is False and isinstance(j.get("error"), str)
                   and "reason" not in j, out)

    def bad_input(self):
        cases = [
            ("POST", "/v1/txs", b"{not json", 400),
            ("POST", "/v1/txs", b'{"kind": "grant"}', 400),
            ("POST", "/v1/txs", b'{"encoding": "zz"}', 400),
            ("POST", "/v1/txs", b"[" + b'{"encoding":"00"},' * 5000 + b"1]", 413),
            ("GET", "/v1/consents/zz/00/marketing", None, 400),
            ("GET", "/v1/txs/" + "0" * 64, None, 404),
            ("GET", "/v1/nowhere", None, 404),
            ("DELETE", "/v1/status", None, 405),
        ]
        for method, path, body, want in cases:
            status, data = self.http(method, path, body,
                                     {"Content-Type": "application/json"} if body else None)
            try:
                err = json.loads(data)["error"]
                has_error = isinstance(err.get("code"), str) and isinstance(err.get("message"), str)
            except (ValueError, KeyError, TypeError, AttributeError):
                has_error = False
            self.check(f"{method} {path[:40]} -> {want}", status == want and has_error,
                       f"got {status} {data[:120]!r}")
        status, _ = self.http("GET", "/healthz")
        self.check("still serving after bad input", status == 200)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--consentd", required=True)
    ap.add_argument("--consentctl", required=True)
    ap.add_argument("--consent-store", required=True)
    args = ap.parse_args()
    t = E2E(args.consentd, args.consentctl, args.consent_store)
    try:
        t.main()
    except Exception as e:  # a crash of the test itself is a failure, with the node's log
        t.failed += 1
        print(f"FAIL exception: {e!r}")
        log = os.path.join(t.dir, "consentd.log")
        if os.path.exists(log):
            print(open(log).read()[-3000:])
    finally:
        t.stop(signal.SIGKILL)
        shutil.rmtree(t.dir, ignore_errors=True)
    print(f"e2e: {t.passed} passed, {t.failed} failed")
    return 0 if t.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
