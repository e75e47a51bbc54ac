// consentctl verify: a consent proof checked offline against a genesis file, or an audit
// checkpoint, by the light verifier (ledger/light_verifier.h); see node_commands.h.
// Single-threaded.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "crypto/hex.h"
#include "ledger/consent_proof.h"
#include "ledger/light_verifier.h"
#include "tools/consentctl/node_answers.h"
#include "tools/consentctl/node_commands.h"

namespace consent::ctl {

int CmdVerify(const NodeArgs& node, const VerifyArgs& args) {
  auto pinned = LoadPinnedGenesis(args.genesis);
  if (!pinned.ok()) return Fail(pinned.status(), kUsage);
  if (!pinned->has_value()) {
    return Fail(Status::Invalid(
                    "no genesis to verify against: pass --genesis, set CONSENT_GENESIS, or name "
                    "it as `genesis` in the consentctl config file"),
                kUsage);
  }
  const Genesis& genesis = (*pinned)->genesis;
  const std::string& genesis_name = (*pinned)->path;
  light::TrustRoot root = light::FromGenesis(genesis);
  if (!args.checkpoint.empty()) {
    auto text = ReadFileCapped(args.checkpoint, light::kMaxCheckpointBytes);
    if (!text.ok()) return Fail(text.status(), kUsage);
    auto cp = light::ParseCheckpoint(*text);
    if (!cp.ok()) return Fail(cp.status().Prefixed(args.checkpoint), kUsage);
    auto r = light::FromCheckpoint(genesis, *cp);
    if (!r.ok()) return Fail(r.status().Prefixed(args.checkpoint), kUsage);
    root = *r;
  }
  std::string text;
  if (args.proof_path == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  } else {
    auto t = ReadFileCapped(args.proof_path, kMaxProofJsonBytes);
    if (!t.ok()) return Fail(t.status(), kUsage);
    text = *t;
  }
  auto proof = ParseConsentProof(text);
  // Another network, or a proof below the checkpoint: the question is wrong, not the proof
  // (exit 2, before any verdict).
  if (proof.ok()) {
    Status net = light::CheckProofNetwork(genesis, root, *proof, genesis_name);
    if (!net.ok()) {
      if (node.json) {
        json j;
        j["valid"] = false;
        j["foreign"] = true;
        j["error"] = net.message();
        std::printf("%s\n", j.dump(2).c_str());
      } else {
        std::printf("NOT OF THIS GENESIS: %s\n", net.message().c_str());
      }
      return kUsage;
    }
    if (root.from_checkpoint() && proof->header.height < root.start.from_height) {
      return Fail(
          Status::Invalid("the proof is of height " + std::to_string(proof->header.height) +
                          ", below the checkpoint's height " +
                          std::to_string(root.start.from_height) + " in " + args.checkpoint +
                          ": a checkpoint verifies only later proofs; verify it from "
                          "genesis (without --checkpoint) or with an older checkpoint"),
          kUsage);
    }
  }
  // The time to judge at: --at-ms, or now (never before the block: the proof shows the state
  // from its block's time on).
  std::optional<uint64_t> at = args.at_ms;
  if (!at && proof.ok()) at = std::max(NowMs(), proof->header.time_ms);
  if (proof.ok() && at && *at < proof->header.time_ms) {
    return Fail(Status::Invalid(
                    "--at-ms " + std::to_string(*at) + " is before the proof's block time " +
                    std::to_string(proof->header.time_ms) + " (" + IsoTime(proof->header.time_ms) +
                    "): the proof shows the state from that time on"),
                kUsage);
  }
  Result<ProofVerdict> verdict = proof.ok() ? light::VerifyProof(*proof, genesis, root, at)
                                            : Result<ProofVerdict>(proof.status());
  // Fresh: the proof's block is at most --max-age before the time judged.
  const Status fresh = verdict.ok() ? CheckFresh("the proof's block", verdict->height,
                                                 verdict->time_ms, verdict->at_ms, args.max_age_ms)
                                    : Status::Ok();
  const uint64_t age_ms =
      verdict.ok() && verdict->at_ms > verdict->time_ms ? verdict->at_ms - verdict->time_ms : 0;
  const bool expected = verdict.ok() && fresh.ok() &&
                        (args.expect.empty() || args.expect == ProofStatusName(verdict->status));
  const std::string start = "verified from " + root.Describe();
  const size_t changes = proof.ok() ? proof->validator_changes.size() : 0;
  if (node.json) {
    json j;
    j["valid"] = verdict.ok();
    if (verdict.ok()) {
      j["status"] = ProofStatusName(verdict->status);
      j["at_ms"] = verdict->at_ms;
      j["expires_at_ms"] = verdict->expires_at_ms;
      j["proof_status"] = ProofStatusName(verdict->claimed);
      j["height"] = verdict->height;
      j["block_time_ms"] = verdict->time_ms;
      j["age_ms"] = age_ms;
      j["max_age_ms"] = args.max_age_ms;
      j["fresh"] = fresh.ok();
      if (!fresh.ok()) j["stale"] = fresh.message();
      j["subject"] = ToHex(proof->subject);
      j["controller"] = ToHex(proof->controller);
      j["purpose"] = proof->purpose;
      j["validator_changes"] = changes;
      j["start"] = start;
      if (!args.expect.empty()) j["expected"] = expected;
    } else {
      j["error"] = verdict.status().message();  // the same field as inspect's
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else if (verdict.ok() && !fresh.ok()) {
    std::printf("STALE: %s\n", fresh.message().c_str());
    std::printf("  (otherwise a valid proof: %s at height %llu; it says nothing of now)\n",
                ProofStatusName(verdict->status), static_cast<unsigned long long>(verdict->height));
  } else if (verdict.ok()) {
    const ProofVerdict& v = *verdict;
    std::string until;
    if (v.status == ProofStatus::kGranted) {
      until = v.expires_at_ms == 0 ? ", without expiry" : ", until " + IsoTime(v.expires_at_ms);
    } else if (v.status == ProofStatus::kExpired) {
      until = " since " + IsoTime(v.expires_at_ms);
    }
    std::printf("VALID: %s%s, at %s (subject %s, controller %s, purpose %s)\n",
                ProofStatusName(v.status), until.c_str(), IsoTime(v.at_ms).c_str(),
                ToHex(proof->subject).c_str(), ToHex(proof->controller).c_str(),
                proof->purpose.c_str());
    std::printf(
        "  the state at height %llu, block time %s (%s before the time judged; --max-age %s), "
        "certified by the validators in office at that height (%s; %zu validator set %s "
        "followed)\n",
        static_cast<unsigned long long>(v.height), IsoTime(v.time_ms).c_str(),
        AgeText(age_ms).c_str(), args.max_age_ms ? AgeText(args.max_age_ms).c_str() : "off",
        start.c_str(), changes, changes == 1 ? "change" : "changes");
    if (v.claimed != v.status) {
      std::printf("  the proof itself says %s: that was for the time it was asked for\n",
                  ProofStatusName(v.claimed));
    }
    if (!expected) std::printf("  expected %s: not met\n", args.expect.c_str());
  } else {
    std::printf("INVALID: %s\n", verdict.status().message().c_str());
  }
  return expected ? kOk : kNegative;
}

}  // namespace consent::ctl
