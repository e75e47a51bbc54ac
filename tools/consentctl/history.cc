// consentctl history: a customer's grants and revocations, each verified (node_commands.h).
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

struct HistoryRow {
  std::string brand;
  PublicKey controller{};
  SignedTx tx;
  Hash32 tx_id{};
  uint64_t height = 0;
  uint64_t log_index = 0;
};

std::string Purposes(const SignedTx& tx) {
  const std::vector<std::string>* p = nullptr;
  if (const auto* g = std::get_if<GrantTx>(&tx.body)) p = &g->purposes;
  if (const auto* r = std::get_if<RevokeTx>(&tx.body)) p = &r->purposes;
  if (p == nullptr) return "";
  if (p->empty()) return "(all)";
  std::string out;
  for (const auto& s : *p) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

int CmdHistory(const NodeArgs& node, const std::string& key_path, const std::string& genesis_path,
               const std::vector<std::string>& extra_controllers, bool scan_directory,
               uint64_t max_age_ms) {
  auto url = Url(node);
  if (!url.ok()) return Fail(url.status(), kUsage);
  auto key = ReadKeyFile(key_path);
  if (!key.ok()) return Fail(key.status(), kUsage);
  if (key->kind != KeyKind::kCustomer) {
    return Fail(Status::Invalid(key_path + " is not a customer key"), kUsage);
  }
  Genesis genesis;
  auto pin = LoadPinnedGenesis(genesis_path);
  if (!pin.ok()) return Fail(pin.status(), kUsage);
  const bool trusted_node = !pin->has_value();
  const std::string pinned_path = trusted_node ? "" : (*pin)->path;
  if (!trusted_node) genesis = (*pin)->genesis;
  auto s = GetJson(node, "/v1/status");
  if (!s.ok()) return FailNode(s.status());
  if (trusted_node) {
    // No genesis file: take the validator set from the node. The output says so.
    auto chain = Str(*s, "chain_id");
    if (!chain.ok()) return Fail(chain.status(), kNegative);
    genesis.chain_id = *chain;
    if (!(*s).contains("validators") || !(*s)["validators"].is_array()) {
      return Fail(Status::Invalid("the node's status lists no validators"), kNegative);
    }
    for (const auto& v : (*s)["validators"]) {
      auto pk = Hash(v, "public_key");
      if (!pk.ok()) return Fail(pk.status(), kNegative);
      genesis.validators.push_back({Text(v, "name"), *pk});
    }
  }

  // The node's chain is checked first, so that a history with no entries (or no brands) is not
  // reported as certified by validators that never signed anything of this node's.
  std::optional<Header> latest;
  bool foreign = false;
  if (Status st = CheckNodeChain(node, *s, genesis, &latest, &foreign,
                                 trusted_node ? "the node's validators" : pinned_path);
      !st.ok()) {
    // Another network than the pinned genesis's: the question is wrong (exit 2), not the node.
    return foreign ? Fail(st, kUsage) : FailNode(st);
  }
  // Fresh: the node's head, and every history page's, is at most max_age_ms old.
  const uint64_t now_ms = NowMs();
  if (latest) {
    Status st = CheckFresh("the node's head", latest->height, latest->time_ms, now_ms, max_age_ms);
    if (!st.ok()) return Fail(st, kNegative);
  }

  // Brands: those the customer dealt with (the list beside the key file) and any named on the
  // command line; with --scan-directory, every brand of the directory. The directory itself is
  // read in full either way, for the brands' names: every client reads the same pages, so that
  // tells the node nothing about this customer.
  auto listed = ReadBrandList(key_path);
  if (!listed.ok()) return Fail(listed.status(), kUsage);
  std::map<PublicKey, std::string> directory;
  std::string cursor;
  for (int page = 0; page < 10000; ++page) {
    auto d =
        GetJson(node, "/v1/controllers?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
    if (!d.ok()) return FailNode(d.status());
    if (!d->contains("controllers") || !(*d)["controllers"].is_array()) {
      return Fail(Status::Invalid("the node's directory is malformed"), kNegative);
    }
    for (const auto& c : (*d)["controllers"]) {
      auto pk = Hash(c, "controller");
      if (!pk.ok()) return Fail(pk.status(), kNegative);
      directory[*pk] = Text(c, "name");
    }
    if (!d->contains("next_cursor") || !(*d)["next_cursor"].is_string()) break;
    cursor = (*d)["next_cursor"].get<std::string>();
  }
  std::map<PublicKey, std::string> brands;
  auto name_of = [&](const PublicKey& k) {
    auto it = directory.find(k);
    return it == directory.end() ? std::string("(not registered)") : it->second;
  };
  for (const auto& k : *listed) brands.emplace(k, name_of(k));
  for (const auto& hex : extra_controllers) {
    auto pk = FromHexFixed<32>(hex);
    if (!pk.ok()) return Fail(pk.status().Prefixed("--controller"), kUsage);
    brands.emplace(*pk, name_of(*pk));
  }
  if (scan_directory) {
    size_t added = 0;
    for (const auto& [k, name] : directory) added += brands.emplace(k, name).second ? 1 : 0;
    std::fprintf(stderr,
                 "warning: --scan-directory asks %s about your subject key at each of %zu "
                 "brands you have not recorded, back to back: whoever runs that node can link "
                 "all these keys to one person. Brands where entries are found are added to %s.\n",
                 node.url.c_str(), added, BrandListPath(key_path).c_str());
  } else if (brands.empty()) {
    std::fprintf(stderr,
                 "note: no brands are recorded in %s (grant, revoke and id record them): name "
                 "one with --controller, or use --scan-directory (which tells the node that "
                 "your keys belong together)\n",
                 BrandListPath(key_path).c_str());
  }

  std::vector<HistoryRow> rows;
  std::vector<PublicKey> found;  // with --scan-directory: brands with entries, to record
  std::vector<std::string> problems;
  // The node's validator changes, fetched once: every page's head is checked with the set that
  // commits its height (ledger/light_verifier.h).
  auto changes = FetchChanges(node);
  if (!changes.ok()) return FailNode(changes.status());
  const light::TrustRoot root = light::FromGenesis(genesis);
  for (const auto& [controller, name] : brands) {
    SigningKey subject = DeriveSubjectKey(key->secret, controller);
    uint64_t from = 0;
    for (int page = 0; page < 100000; ++page) {
      auto h = GetStrict(node, "/v1/subjects/" + ToHex(subject.public_key()) +
                                   "/history?limit=1000&from=" + std::to_string(from));
      if (!h.ok()) return FailNode(h.status());
      if (!h->contains("entries") || !(*h)["entries"].is_array()) {
        return Fail(Status::Invalid("the node's history is malformed"), kNegative);
      }
      // Every head is checked, with or without entries (null only before block 1).
      const bool no_head = !h->contains("head") || (*h)["head"].is_null();
      if (no_head && (*h)["entries"].empty()) break;
      if (no_head) return Fail(Status::Invalid("the node's history page has no head"), kNegative);
      auto head = VerifyHead((*h)["head"], root, *changes);
      if (!head.ok()) return Fail(head.status(), kNegative);
      if (Status st =
              CheckFresh("the node's head", head->height, head->time_ms, now_ms, max_age_ms);
          !st.ok()) {
        return Fail(st, kNegative);
      }
      if (!latest || head->height > latest->height) latest = *head;
      if ((*h)["entries"].empty()) break;
      for (const auto& e : (*h)["entries"]) {
        auto entry = light::VerifyHistoryEntry(genesis.chain_id, e, subject.public_key(), *head);
        if (!entry.ok()) {
          problems.push_back("brand " + name + ": " + entry.status().message());
          continue;
        }
        HistoryRow row{name, controller, entry->tx, entry->tx_id, entry->height, entry->log_index};
        rows.push_back(std::move(row));
        if (scan_directory) found.push_back(controller);
      }
      if (!h->contains("next") || !(*h)["next"].is_number_unsigned()) break;
      from = (*h)["next"].get<uint64_t>();
    }
  }
  std::sort(rows.begin(), rows.end(),
            [](const HistoryRow& a, const HistoryRow& b) { return a.log_index < b.log_index; });
  for (const auto& k : found) {
    if (Status st = RememberBrand(key_path, k); !st.ok()) {
      std::fprintf(stderr, "warning: %s\n", st.message().c_str());
    }
  }

  if (node.json) {
    json out;
    out["verified_against"] = trusted_node ? "validators reported by the node" : pinned_path;
    out["entries"] = json::array();
    for (const auto& r : rows) {
      json e;
      e["brand"] = r.brand;
      e["controller"] = ToHex(r.controller);
      e["tx_id"] = ToHex(r.tx_id);
      e["height"] = r.height;
      e["log_index"] = r.log_index;
      e["tx"] = TxToJson(r.tx);
      out["entries"].push_back(e);
    }
    out["problems"] = problems;
    if (latest) {
      out["head_height"] = latest->height;
      out["head_age_ms"] = now_ms > latest->time_ms ? now_ms - latest->time_ms : 0;
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%-21s %-8s %-24s %-32s %-31s %s\n", "issued (UTC)", "action", "brand", "purposes",
                "expires (UTC)", "block");
    for (const auto& r : rows) {
      uint64_t expires = 0;
      if (const auto* g = std::get_if<GrantTx>(&r.tx.body)) expires = g->expires_at_ms;
      // A past expiry is marked: that grant no longer holds, whatever came after it.
      std::string exp =
          expires == 0 ? "-" : IsoTime(expires) + (expires <= now_ms ? " (expired)" : "");
      std::printf("%-21s %-8s %-24.24s %-32.32s %-31s %llu\n",
                  IsoTime(IssuedAtOf(r.tx.body)).c_str(), TxKindName(KindOf(r.tx.body)),
                  r.brand.c_str(), Purposes(r.tx).c_str(), exp.c_str(),
                  static_cast<unsigned long long>(r.height));
    }
    std::printf("%zu %s across %zu %s, each inclusion-checked against a head certified by %s\n",
                rows.size(), rows.size() == 1 ? "entry" : "entries", brands.size(),
                brands.size() == 1 ? "brand" : "brands",
                trusted_node ? "the validators the node reports (pass --genesis to check them)"
                             : ("the validators of " + pinned_path).c_str());
    if (latest) {
      std::printf("the node's head: height %llu, block time %s, %s old (--max-age %s)\n",
                  static_cast<unsigned long long>(latest->height), IsoTime(latest->time_ms).c_str(),
                  AgeText(now_ms > latest->time_ms ? now_ms - latest->time_ms : 0).c_str(),
                  max_age_ms ? AgeText(max_age_ms).c_str() : "off");
    }
    for (const auto& p : problems) std::printf("NOT VERIFIED: %s\n", p.c_str());
  }
  return problems.empty() ? kOk : kNegative;
}

}  // namespace consent::ctl
