// consentctl audit: an auditor's check of the whole chain a node serves (node_commands.h); the
// checks themselves are the light verifier's (ledger/light_verifier.h: ChainWalk).
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

// Reads the checkpoint file (ledger/light_verifier.h format). A file from before validator set
// changes (header_hash, log_size, log_root; no validators) is named as such.
Result<light::Checkpoint> ReadCheckpoint(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, light::kMaxCheckpointBytes));
  auto cp = light::ParseCheckpoint(text);
  if (!cp.ok()) {
    std::string why = cp.status().message();
    if (text.find("\"header_hash\"") != std::string::npos) {
      why +=
          " (a checkpoint written before validator set changes: audit once from genesis "
          "to write a new one)";
    }
    return Status::Invalid(path + ": " + why);
  }
  return cp;
}

// The RFC 9162 consistency proof between two audited heads, fetched from the node and checked
// against the sizes and roots of the headers the audit verified (not those in the answer).
Status CheckConsistency(const NodeArgs& node, const Header& from, const Header& to) {
  if (from.log_size == 0 || from.height == to.height) return Status::Ok();  // nothing to prove
  ASSIGN_OR_RETURN(consent::json::Json j,
                   GetStrict(node, "/v1/log/consistency?from=" + std::to_string(from.height) +
                                       "&to=" + std::to_string(to.height)));
  if (!j.is_object() || !j.contains("proof")) {
    return Status::Invalid("the node's answer has no consistency proof");
  }
  ASSIGN_OR_RETURN(const consent::json::Json::array_t* items,
                   consent::json::GetArray(j["proof"], "proof", light::kMaxProofHashes));
  std::vector<Hash32> proof;
  for (size_t i = 0; i < items->size(); ++i) {
    ASSIGN_OR_RETURN(
        Hash32 h, consent::json::GetHexFixed<32>((*items)[i], consent::json::Element("proof", i)));
    proof.push_back(h);
  }
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
             const std::string& checkpoint_path, const std::string& write_path,
             uint64_t max_age_ms) {
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
  const std::string& genesis_name = (*pin)->path;
  light::TrustRoot root = light::FromGenesis(*genesis);
  std::optional<light::Checkpoint> cp;
  if (!checkpoint_path.empty() && ::access(checkpoint_path.c_str(), F_OK) == 0) {
    auto parsed = ReadCheckpoint(checkpoint_path);
    if (!parsed.ok()) return Fail(parsed.status(), kUsage);
    auto r = light::FromCheckpoint(*genesis, *parsed);
    if (!r.ok()) {
      return Fail(Status::Invalid(checkpoint_path + " is a checkpoint of chain " +
                                  parsed->chain_id + ", not " + genesis->chain_id),
                  kUsage);
    }
    cp = *parsed;
    root = *r;
  }
  // Where the new checkpoint goes: --write-checkpoint, else the --checkpoint file itself.
  const std::string save_path = !write_path.empty() ? write_path : checkpoint_path;
  auto status = GetJson(node, "/v1/status");
  if (!status.ok()) return FailNode(status.status());
  auto head_height = Uint(*status, "height");
  if (!head_height.ok()) return Fail(head_height.status(), kNegative);
  auto chain = Str(*status, "chain_id");
  if (!chain.ok()) return Fail(chain.status(), kNegative);
  std::optional<Hash32> node_genesis_hash;
  if (status->contains("genesis_hash")) {
    auto gh = Hash(*status, "genesis_hash");
    if (!gh.ok()) return Fail(gh.status(), kNegative);
    node_genesis_hash = *gh;
  }
  // Another network altogether: a usage error (exit 2), not a forgery of this chain.
  auto foreign = [&](const Status& st) {
    if (node.json) {
      json j;
      j["valid"] = false;
      j["foreign"] = true;
      j["reason"] = st.message();
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("NOT OF THIS GENESIS: %s\n", st.message().c_str());
    }
    return kUsage;
  };
  if (Status st = light::CheckChainNetwork(*genesis, root, *chain, node_genesis_hash, nullptr,
                                           genesis_name);
      !st.ok()) {
    return foreign(st);
  }

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
  // The node's list of validator set changes: the walk must meet exactly these (those above the
  // head it reported are later than this audit and ignored).
  auto listed = FetchChanges(node);
  if (!listed.ok()) {
    if (listed.status().code() == StatusCode::kUnavailable) return FailNode(listed.status());
    return invalid(listed.status().message());
  }
  std::erase_if(*listed, [&](const ValidatorChange& c) { return c.header.height > *head_height; });
  const size_t listed_count = listed->size();

  // Walk the certified headers from block 1 (or the checkpoint's height) to the head, 1,000 per
  // request (the API's page): each header must follow the one before it and carry a quorum of
  // the set in office, which switches at each change block (light::ChainWalk). At the end of each
  // page, the log must extend the log of the page before (one RFC 9162 consistency proof per
  // page).
  light::ChainWalk walk(*genesis, root, std::move(*listed));
  std::optional<Header> anchor;  // the last head whose log was proved consistent
  uint64_t headers = 0, proofs = 0;
  const uint64_t first = root.start.from_height;
  for (uint64_t from = first; from <= *head_height; from += 1000) {
    const uint64_t to = std::min<uint64_t>(*head_height, from + 999);
    auto page =
        GetStrict(node, "/v1/headers?from=" + std::to_string(from) + "&to=" + std::to_string(to));
    if (!page.ok()) {
      if (page.status().code() == StatusCode::kInvalidArgument) {
        return invalid(page.status().message());
      }
      return FailNode(page.status());
    }
    if (!page->is_object() || !page->contains("headers") || !(*page)["headers"].is_array() ||
        (*page)["headers"].size() != to - from + 1) {
      return invalid("the node's answer for headers " + std::to_string(from) + ".." +
                     std::to_string(to) + " is malformed or incomplete");
    }
    const auto& items = (*page)["headers"];
    for (size_t i = 0; i < items.size(); ++i) {
      const uint64_t height = from + i;
      auto c = light::ParseCertifiedHeader(items[i], "headers[" + std::to_string(i) + "]");
      if (!c.ok()) return invalid("height " + std::to_string(height) + ": " + c.status().message());
      if (headers == 0) {
        if (Status st = light::CheckChainNetwork(*genesis, root, *chain, node_genesis_hash, &*c,
                                                 genesis_name);
            !st.ok()) {
          return foreign(st);
        }
      }
      if (Status st = walk.Step(*c); !st.ok()) return invalid(st.message());
      if (!anchor) anchor = c->header;
      ++headers;
    }
    const Header& top = *walk.tip().head;
    if (Status st = CheckConsistency(node, *anchor, top); !st.ok()) {
      if (st.code() == StatusCode::kUnavailable) return FailNode(st);
      return invalid(st.message());
    }
    if (anchor->height != top.height && anchor->log_size > 0) ++proofs;
    anchor = top;
  }
  if (Status st = walk.Finish(); !st.ok()) return invalid(st.message());
  const ChainTip& tip = walk.tip();

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
  if (!save_path.empty() && tip.head) {
    save_error = ReplaceFile(save_path, light::CheckpointToJson(walk.ToCheckpoint()), 0644);
    saved = save_error.ok();
  }
  const uint64_t top = tip.head ? tip.head->height : 0;
  const std::string start = "verified from " + root.Describe();
  if (node.json) {
    json j;
    j["valid"] = true;
    j["chain_id"] = genesis->chain_id;
    j["from_height"] = first;
    j["to_height"] = top;
    j["headers_checked"] = headers;
    j["consistency_proofs"] = proofs;
    j["validator_changes"] = walk.changes_met();
    j["log_size"] = tip.log_size;
    j["head_hash"] = tip.head ? ToHex(tip.head->Hash()) : std::string();
    j["start"] = start;
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
        "committed by a quorum of the validators in office (%llu validator set %s followed); the "
        "log grew to %llu entries, append-only (%llu consistency %s)%s\n",
        genesis->chain_id.c_str(), static_cast<unsigned long long>(first),
        static_cast<unsigned long long>(top), static_cast<unsigned long long>(headers),
        static_cast<unsigned long long>(walk.changes_met()),
        walk.changes_met() == 1 ? "change" : "changes",
        static_cast<unsigned long long>(tip.log_size), static_cast<unsigned long long>(proofs),
        proofs == 1 ? "proof" : "proofs",
        cp ? (", from the checkpoint in " + checkpoint_path).c_str() : "");
    std::printf("%s\n", start.c_str());
    std::printf("the head's block time is %s, %s old (--max-age %s)\n",
                IsoTime(tip.head->time_ms).c_str(), AgeText(age_ms).c_str(),
                max_age_ms ? AgeText(max_age_ms).c_str() : "off");
    if (saved) {
      std::printf("checkpoint %s now at height %llu (head %s)\n", save_path.c_str(),
                  static_cast<unsigned long long>(top), ToHex(tip.head->Hash()).c_str());
    }
  }
  (void)listed_count;
  if (!save_error.ok()) {
    return Fail(Status(save_error.code(), save_error.message() +
                                              " (the audit was VALID; the checkpoint was not "
                                              "recorded)"),
                kUsage);
  }
  return kOk;
}

}  // namespace consent::ctl
