// consentctl audit: an auditor's check of the whole chain a node serves (node_commands.h).
// Single-threaded.
#include "tools/consentctl/node_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>

#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "ledger/block_pipeline.h"
#include "ledger/merkle_log.h"
#include "ledger/subject_key.h"
#include "ledger/tx.h"
#include "ledger/tx_json.h"
#include "tools/consentctl/brand_list.h"
#include "tools/consentctl/node_answers.h"

namespace consent::ctl {
namespace {

// What `audit --checkpoint FILE` keeps between runs: the last audited head.
struct Checkpoint {
  std::string chain_id;
  uint64_t height = 0;
  Hash32 header_hash{};
  uint64_t log_size = 0;
  Hash32 log_root{};
};

constexpr size_t kMaxCheckpointBytes = 64 << 10;

Result<Checkpoint> ParseCheckpoint(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Invalid("not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "chain_id" && k != "height" && k != "header_hash" && k != "log_size" &&
        k != "log_root") {
      return Status::Invalid("unknown field \"" + k + "\"");
    }
  }
  Checkpoint cp;
  ASSIGN_OR_RETURN(cp.chain_id, Str(j, "chain_id"));
  ASSIGN_OR_RETURN(cp.height, Uint(j, "height"));
  ASSIGN_OR_RETURN(cp.header_hash, Hash(j, "header_hash"));
  ASSIGN_OR_RETURN(cp.log_size, Uint(j, "log_size"));
  ASSIGN_OR_RETURN(cp.log_root, Hash(j, "log_root"));
  if (cp.height == 0) return Status::Invalid("height must be at least 1");
  return cp;
}

std::string CheckpointJson(const Header& h) {
  json j;
  j["chain_id"] = h.chain_id;
  j["height"] = h.height;
  j["header_hash"] = ToHex(h.Hash());
  j["log_size"] = h.log_size;
  j["log_root"] = ToHex(h.log_root);
  return j.dump(2) + "\n";
}

// The RFC 9162 consistency proof between two audited heads, fetched from the node and checked
// against the sizes and roots of the headers the audit verified (not those in the answer).
Status CheckConsistency(const NodeArgs& node, const Header& from, const Header& to) {
  if (from.log_size == 0 || from.height == to.height) return Status::Ok();  // nothing to prove
  ASSIGN_OR_RETURN(json j, GetJson(node, "/v1/log/consistency?from=" + std::to_string(from.height) +
                                             "&to=" + std::to_string(to.height)));
  if (!j.is_object() || !j.contains("proof")) {
    return Status::Invalid("the node's answer has no consistency proof");
  }
  ASSIGN_OR_RETURN(std::vector<Hash32> proof, HashList(j["proof"], 128, "consistency proof"));
  Status st =
      merkle::VerifyConsistency(from.log_size, to.log_size, from.log_root, to.log_root, proof);
  if (!st.ok()) {
    return Status::Rejected("the log at height " + std::to_string(to.height) +
                            " does not extend the log at height " + std::to_string(from.height) +
                            ": " + st.message());
  }
  return Status::Ok();
}

}  // namespace

int CmdAudit(const NodeArgs& node, const std::string& genesis_path,
             const std::string& checkpoint_path, uint64_t max_age_ms) {
  auto url = Url(node);
  if (!url.ok()) return Fail(url.status(), kUsage);
  auto pin = LoadPinnedGenesis(genesis_path);
  if (!pin.ok()) return Fail(pin.status(), kUsage);
  if (!pin->has_value()) {
    return Fail(Status::Invalid("no genesis to audit against: pass --genesis, set "
                                "CONSENT_GENESIS, or name it as `genesis` in the consentctl "
                                "config file"),
                kUsage);
  }
  const Genesis* genesis = &(*pin)->genesis;
  std::optional<Checkpoint> cp;
  if (!checkpoint_path.empty() && ::access(checkpoint_path.c_str(), F_OK) == 0) {
    auto text = ReadFileCapped(checkpoint_path, kMaxCheckpointBytes);
    if (!text.ok()) return Fail(text.status(), kUsage);
    auto parsed = ParseCheckpoint(*text);
    if (!parsed.ok()) return Fail(parsed.status().Prefixed(checkpoint_path), kUsage);
    if (parsed->chain_id != genesis->chain_id) {
      return Fail(Status::Invalid(checkpoint_path + " is a checkpoint of chain " +
                                  parsed->chain_id + ", not " + genesis->chain_id),
                  kUsage);
    }
    cp = *parsed;
  }
  auto status = GetJson(node, "/v1/status");
  if (!status.ok()) return FailNode(status.status());
  auto head_height = Uint(*status, "height");
  if (!head_height.ok()) return Fail(head_height.status(), kNegative);

  // Everything below ends in a verdict: INVALID (exit 1) names the height and what is wrong.
  auto invalid = [&](const std::string& why) {
    if (node.json) {
      json j;
      j["valid"] = false;
      j["reason"] = why;
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("INVALID: %s\n", why.c_str());
    }
    return kNegative;
  };
  if (*head_height == 0 && !cp) {
    Status st = CheckNodeChain(node, *status, *genesis);
    if (!st.ok()) return invalid(st.message());
  }
  if (cp && *head_height < cp->height) {
    return invalid("the node's head is at height " + std::to_string(*head_height) +
                   ", below the checkpoint's " + std::to_string(cp->height) +
                   ": it cannot show that its chain extends the one audited before");
  }

  // Walk the certified headers from block 1 (or the checkpoint's height) to the head, 1,000 per
  // request (the API's page): each header must follow the one before it and carry a quorum of
  // the genesis validators. At the end of each page, the log must extend the log of the page
  // before (one RFC 9162 consistency proof per page).
  ChainTip tip;
  std::optional<Header> anchor;  // the last head whose log was proved consistent
  uint64_t headers = 0, proofs = 0;
  const uint64_t first = cp ? cp->height : 1;
  for (uint64_t from = first; from <= *head_height; from += 1000) {
    const uint64_t to = std::min<uint64_t>(*head_height, from + 999);
    auto page =
        GetJson(node, "/v1/headers?from=" + std::to_string(from) + "&to=" + std::to_string(to));
    if (!page.ok()) return FailNode(page.status());
    if (!page->is_object() || !page->contains("headers") || !(*page)["headers"].is_array() ||
        (*page)["headers"].size() != to - from + 1) {
      return invalid("the node's answer for headers " + std::to_string(from) + ".." +
                     std::to_string(to) + " is malformed or incomplete");
    }
    for (const auto& item : (*page)["headers"]) {
      auto c = ParseCertified(item);
      if (!c.ok()) {
        return invalid("height " + std::to_string(tip.head ? tip.head->height + 1 : first) + ": " +
                       c.status().message());
      }
      const Header& h = c->header;
      if (cp && !tip.head) {
        // The checkpoint's own header: the node must still hold the very block audited before.
        if (h.height != cp->height || h.Hash() != cp->header_hash) {
          return invalid("height " + std::to_string(cp->height) + ": the node's header hashes to " +
                         ToHex(h.Hash()) + ", the checkpoint recorded " + ToHex(cp->header_hash) +
                         ": the chain was rewritten since that audit");
        }
        if (h.log_size != cp->log_size || h.log_root != cp->log_root) {
          return invalid("the checkpoint's log does not match its own header");
        }
        // TODO(issue 17): follow validator set changes (the genesis set until the audit does).
        Status st = VerifyCommit(genesis->chain_id, genesis->Set(), h.height, h.Hash(), c->commit);
        if (!st.ok()) return invalid("height " + std::to_string(h.height) + ": " + st.message());
      } else {
        Status st = CheckCertifiedHeader(*genesis, genesis->Set(), tip, h, c->commit, nullptr);
        if (!st.ok()) return invalid("height " + std::to_string(h.height) + ": " + st.message());
      }
      tip.head = h;
      tip.log_size = h.log_size;
      if (!anchor) anchor = h;
      ++headers;
    }
    if (Status st = CheckConsistency(node, *anchor, *tip.head); !st.ok()) {
      if (st.code() == StatusCode::kUnavailable) return FailNode(st);
      return invalid(st.message());
    }
    if (anchor->height != tip.head->height && anchor->log_size > 0) ++proofs;
    anchor = *tip.head;
  }

  // A valid chain whose head is old: this node is cut off, or hides newer blocks. Refused; the
  // checkpoint is left as it was (a refused run changes nothing).
  const uint64_t now_ms = NowMs();
  const uint64_t age_ms = tip.head && now_ms > tip.head->time_ms ? now_ms - tip.head->time_ms : 0;
  if (tip.head) {
    Status st =
        CheckFresh("the node's head", tip.head->height, tip.head->time_ms, now_ms, max_age_ms);
    if (!st.ok()) {
      if (node.json) {
        json j;
        j["valid"] = true;
        j["fresh"] = false;
        j["reason"] = st.message();
        j["to_height"] = tip.head->height;
        j["head_age_ms"] = age_ms;
        std::printf("%s\n", j.dump().c_str());
      } else {
        std::printf("STALE: %s (heights %llu..%llu are otherwise valid)\n", st.message().c_str(),
                    static_cast<unsigned long long>(first),
                    static_cast<unsigned long long>(tip.head->height));
      }
      return kNegative;
    }
  }

  // The verdict is printed whether or not the checkpoint can be recorded; a checkpoint that
  // cannot be written is then an input error (exit 2) that says the audit itself was VALID.
  bool saved = false;
  Status save_error = Status::Ok();
  if (!checkpoint_path.empty() && tip.head) {
    save_error = ReplaceFile(checkpoint_path, CheckpointJson(*tip.head), 0644);
    saved = save_error.ok();
  }
  const uint64_t top = tip.head ? tip.head->height : 0;
  if (node.json) {
    json j;
    j["valid"] = true;
    j["chain_id"] = genesis->chain_id;
    j["from_height"] = first;
    j["to_height"] = top;
    j["headers_checked"] = headers;
    j["consistency_proofs"] = proofs;
    j["log_size"] = tip.log_size;
    j["head_hash"] = tip.head ? ToHex(tip.head->Hash()) : std::string();
    j["checkpoint_saved"] = saved;
    j["fresh"] = true;
    if (tip.head) j["head_age_ms"] = age_ms;
    std::printf("%s\n", j.dump().c_str());
  } else if (!tip.head) {
    std::printf("VALID: chain %s has no block yet; the node's validators are the genesis's\n",
                genesis->chain_id.c_str());
  } else {
    std::printf(
        "VALID: chain %s, heights %llu..%llu: %llu headers, each following the one before and "
        "committed by a quorum of the genesis validators; the log grew to %llu entries, "
        "append-only (%llu consistency %s)%s\n",
        genesis->chain_id.c_str(), static_cast<unsigned long long>(first),
        static_cast<unsigned long long>(top), static_cast<unsigned long long>(headers),
        static_cast<unsigned long long>(tip.log_size), static_cast<unsigned long long>(proofs),
        proofs == 1 ? "proof" : "proofs",
        cp ? (", from the checkpoint in " + checkpoint_path).c_str() : "");
    std::printf("the head's block time is %s, %s old (--max-age %s)\n",
                IsoTime(tip.head->time_ms).c_str(), AgeText(age_ms).c_str(),
                max_age_ms ? AgeText(max_age_ms).c_str() : "off");
    if (saved) {
      std::printf("checkpoint %s now at height %llu (head %s)\n", checkpoint_path.c_str(),
                  static_cast<unsigned long long>(top), ToHex(tip.head->Hash()).c_str());
    }
  }
  if (!save_error.ok()) {
    return Fail(Status(save_error.code(), save_error.message() +
                                              " (the audit was VALID; the checkpoint was not "
                                              "recorded)"),
                kUsage);
  }
  return kOk;
}

}  // namespace consent::ctl
