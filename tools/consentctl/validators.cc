// consentctl validators and validators approve (node_commands.h): the set in office, the changes
// pending approval, and a validator's signed approval of a new set (PROTOCOL.md section 10).
// The set arithmetic (ComputeNewSet) is checked here before anything is signed. Single-threaded.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "ledger/light_verifier.h"
#include "ledger/tx.h"
#include "ledger/tx_json.h"
#include "tools/consentctl/node_answers.h"
#include "tools/consentctl/node_commands.h"

namespace consent::ctl {
namespace {

namespace sj = consent::json;

struct Pending {
  PublicKey validator{};
  Hash32 set_hash{};
  Hash32 tx_id{};
  uint64_t issued_at_ms = 0;
  bool in_office = false;
  uint64_t approvals = 0;
};

// GET /v1/validators, strictly read.
struct InOffice {
  uint64_t height = 0;        // the node's head
  uint64_t since_height = 0;  // the first height this set commits
  ValidatorSet set;
  Hash32 hash{};
  uint64_t quorum = 0;
  std::vector<Pending> pending;
};

Result<InOffice> ParseInOffice(const sj::Json& doc) {
  RETURN_IF_ERROR(sj::ExpectObject(
      doc, "", {"height", "since_height", "validators", "validators_hash", "quorum", "pending"}));
  InOffice v;
  ASSIGN_OR_RETURN(v.height, sj::GetUint(sj::At(doc, "height"), "height"));
  ASSIGN_OR_RETURN(v.since_height, sj::GetUint(sj::At(doc, "since_height"), "since_height"));
  ASSIGN_OR_RETURN(const sj::Json::array_t* keys,
                   sj::GetArray(sj::At(doc, "validators"), "validators", kMaxValidators));
  for (size_t i = 0; i < keys->size(); ++i) {
    ASSIGN_OR_RETURN(PublicKey k, sj::GetHexFixed<32>((*keys)[i], sj::Element("validators", i)));
    v.set.keys.push_back(k);
  }
  if (v.set.keys.empty()) return Status::Invalid("validators: the set in office is empty");
  ASSIGN_OR_RETURN(v.hash, sj::GetHexFixed<32>(sj::At(doc, "validators_hash"), "validators_hash"));
  if (v.hash != v.set.Hash()) {
    return Status::Rejected("validators_hash: is not the hash of the keys listed");
  }
  ASSIGN_OR_RETURN(v.quorum, sj::GetUint(sj::At(doc, "quorum"), "quorum"));
  if (v.quorum != v.set.QuorumSize()) {
    return Status::Rejected("quorum: " + std::to_string(v.quorum) +
                            " is not floor(2n/3)+1 = " + std::to_string(v.set.QuorumSize()));
  }
  ASSIGN_OR_RETURN(const sj::Json::array_t* pend,
                   sj::GetArray(sj::At(doc, "pending"), "pending", 4 * kMaxValidators));
  for (size_t i = 0; i < pend->size(); ++i) {
    const std::string at = sj::Element("pending", i);
    const sj::Json& p = (*pend)[i];
    RETURN_IF_ERROR(sj::ExpectObject(
        p, at, {"validator", "set_hash", "tx_id", "issued_at_ms", "in_office", "approvals"}));
    Pending e;
    ASSIGN_OR_RETURN(e.validator,
                     sj::GetHexFixed<32>(sj::At(p, "validator"), sj::Member(at, "validator")));
    ASSIGN_OR_RETURN(e.set_hash,
                     sj::GetHexFixed<32>(sj::At(p, "set_hash"), sj::Member(at, "set_hash")));
    ASSIGN_OR_RETURN(e.tx_id, sj::GetHexFixed<32>(sj::At(p, "tx_id"), sj::Member(at, "tx_id")));
    ASSIGN_OR_RETURN(e.issued_at_ms,
                     sj::GetUint(sj::At(p, "issued_at_ms"), sj::Member(at, "issued_at_ms")));
    if (!sj::At(p, "in_office").is_boolean()) {
      return Status::Invalid(sj::Member(at, "in_office") + ": expected true or false");
    }
    e.in_office = sj::At(p, "in_office").get<bool>();
    ASSIGN_OR_RETURN(e.approvals, sj::GetUint(sj::At(p, "approvals"), sj::Member(at, "approvals")));
    v.pending.push_back(e);
  }
  return v;
}

Result<InOffice> FetchInOffice(const NodeArgs& node) {
  ASSIGN_OR_RETURN(sj::Json doc, GetStrict(node, "/v1/validators"));
  auto v = ParseInOffice(doc);
  if (!v.ok()) return Status::Invalid("the node's /v1/validators: " + v.status().message());
  return v;
}

// With a pinned genesis: the set the node reports is the one its verified head hands over to
// (the head's next_validators_hash), reached from the genesis through its changes. Returns a
// description of what was checked.
Result<std::string> CheckInOffice(const NodeArgs& node, const PinnedGenesis& pin,
                                  const InOffice& v) {
  ASSIGN_OR_RETURN(json status, GetJson(node, "/v1/status"));
  std::optional<Header> head;
  RETURN_IF_ERROR(CheckNodeChain(node, status, pin.genesis, &head));
  if (!head) {
    if (v.set != pin.genesis.Set()) {
      return Status::Rejected("before block 1 the set in office must be the genesis set");
    }
    return std::string("the genesis set (no block yet)");
  }
  ASSIGN_OR_RETURN(std::vector<ValidatorChange> changes, FetchChanges(node));
  // Changes decided after the head this check verified (the chain moves on between requests).
  std::erase_if(changes, [&](const ValidatorChange& c) { return c.header.height > head->height; });
  ASSIGN_OR_RETURN(ValidatorSet next,
                   light::SetForHeight(light::FromGenesis(pin.genesis), changes, head->height + 1));
  if (head->next_validators_hash != v.hash || next.Hash() != v.hash) {
    return Status::Rejected("the set the node reports is not the one its head (height " +
                            std::to_string(head->height) + ") hands over to");
  }
  return "verified from the genesis " + pin.path + " through " + std::to_string(changes.size()) +
         " change(s) to the head at height " + std::to_string(head->height);
}

std::map<PublicKey, std::string> GenesisNames(const std::string& genesis_path) {
  std::map<PublicKey, std::string> names;
  auto pin = LoadPinnedGenesis(genesis_path);
  if (pin.ok() && pin->has_value()) {
    for (const Validator& v : (*pin)->genesis.validators) names[v.public_key] = v.name;
  }
  return names;
}

uint64_t ApprovalsFor(const InOffice& v, const Hash32& set_hash) {
  uint64_t n = 0;
  for (const Pending& p : v.pending) n += (p.set_hash == set_hash && p.in_office) ? 1 : 0;
  return n;
}

// The new set: the set in office with `remove`, `replace` (OLD=NEW) and `add` applied in that
// order, sorted ascending. Refused: removing or replacing a non-member, adding a member, an empty
// result, the same keys as the set in office, more than kMaxSetValidators keys.
Result<std::vector<PublicKey>> ComputeNewSet(const ValidatorSet& in_office,
                                             const std::vector<std::string>& add,
                                             const std::vector<std::string>& remove,
                                             const std::vector<std::string>& replace) {
  if (add.empty() && remove.empty() && replace.empty()) {
    return Status::Invalid("name a change: --add KEY, --remove KEY or --replace OLD=NEW");
  }
  std::set<PublicKey> keys(in_office.keys.begin(), in_office.keys.end());
  auto parse = [](const std::string& hex, const char* what) -> Result<PublicKey> {
    auto k = FromHexFixed<32>(hex);
    if (!k.ok()) return k.status().Prefixed(what);
    return *k;
  };
  for (const std::string& r : remove) {
    ASSIGN_OR_RETURN(PublicKey k, parse(r, "--remove"));
    if (keys.erase(k) == 0) {
      return Status::Invalid("--remove " + r + ": not a member of the set in office");
    }
  }
  for (const std::string& r : replace) {
    const size_t eq = r.find('=');
    if (eq == std::string::npos) return Status::Invalid("--replace " + r + ": expected OLD=NEW");
    ASSIGN_OR_RETURN(PublicKey old_key, parse(r.substr(0, eq), "--replace OLD"));
    ASSIGN_OR_RETURN(PublicKey new_key, parse(r.substr(eq + 1), "--replace NEW"));
    if (keys.erase(old_key) == 0) {
      return Status::Invalid("--replace " + r.substr(0, eq) +
                             ": not a member of the set in office");
    }
    if (!keys.insert(new_key).second) {
      return Status::Invalid("--replace NEW " + r.substr(eq + 1) + ": already a member");
    }
  }
  for (const std::string& a : add) {
    ASSIGN_OR_RETURN(PublicKey k, parse(a, "--add"));
    if (!keys.insert(k).second) return Status::Invalid("--add " + a + ": already a member");
  }
  if (keys.empty()) return Status::Invalid("the new set would be empty");
  if (keys.size() > kMaxSetValidators) {
    return Status::Invalid("the new set would have " + std::to_string(keys.size()) +
                           " keys, more than " + std::to_string(kMaxSetValidators));
  }
  if (keys == std::set<PublicKey>(in_office.keys.begin(), in_office.keys.end())) {
    return Status::Invalid("the new set is the set in office: nothing to approve");
  }
  return std::vector<PublicKey>(keys.begin(), keys.end());
}

}  // namespace

int CmdValidators(const NodeArgs& node, const std::string& genesis_path) {
  auto url = Url(node);
  if (!url.ok()) return Fail(url.status(), kUsage);
  auto pin = LoadPinnedGenesis(genesis_path);
  if (!pin.ok()) return Fail(pin.status(), kUsage);
  auto v = FetchInOffice(node);
  if (!v.ok()) return FailNode(v.status());
  std::string checked = "the node's word (pin a genesis with --genesis to check it)";
  if (pin->has_value()) {
    auto c = CheckInOffice(node, **pin, *v);
    if (!c.ok()) {
      if (c.status().code() == StatusCode::kUnavailable) return FailNode(c.status());
      std::printf("INVALID: %s\n", c.status().message().c_str());
      return kNegative;
    }
    checked = *c;
  }
  const auto names = GenesisNames(genesis_path);
  auto name_of = [&](const PublicKey& k) {
    auto it = names.find(k);
    return it == names.end() ? std::string("(not in genesis)") : it->second;
  };
  // Pending approvals grouped by the set they name.
  std::map<Hash32, std::vector<const Pending*>> by_set;
  for (const Pending& p : v->pending) by_set[p.set_hash].push_back(&p);
  if (node.json) {
    json j;
    j["height"] = v->height;
    j["since_height"] = v->since_height;
    j["validators_hash"] = ToHex(v->hash);
    j["quorum"] = v->quorum;
    j["checked"] = checked;
    j["validators"] = json::array();
    for (const PublicKey& k : v->set.keys) {
      j["validators"].push_back({{"public_key", ToHex(k)}, {"name", name_of(k)}});
    }
    j["pending"] = json::array();
    for (const auto& [hash, list] : by_set) {
      json e;
      e["set_hash"] = ToHex(hash);
      e["approvals"] = ApprovalsFor(*v, hash);
      e["needed"] = v->quorum;
      e["approvers"] = json::array();
      for (const Pending* p : list) {
        e["approvers"].push_back({{"validator", ToHex(p->validator)},
                                  {"in_office", p->in_office},
                                  {"tx_id", ToHex(p->tx_id)},
                                  {"issued_at_ms", p->issued_at_ms}});
      }
      j["pending"].push_back(e);
    }
    std::printf("%s\n", j.dump(2).c_str());
    return kOk;
  }
  std::printf("%zu validators in office since height %llu (head %llu), quorum %llu, set %s\n",
              v->set.size(), static_cast<unsigned long long>(v->since_height),
              static_cast<unsigned long long>(v->height),
              static_cast<unsigned long long>(v->quorum), ToHex(v->hash).c_str());
  for (const PublicKey& k : v->set.keys) {
    std::printf("  %s %s\n", ToHex(k).c_str(), name_of(k).c_str());
  }
  if (by_set.empty()) std::printf("no change pending approval\n");
  for (const auto& [hash, list] : by_set) {
    const uint64_t n = ApprovalsFor(*v, hash);
    std::printf("pending set %s: %llu of %llu approvals needed\n", ToHex(hash).c_str(),
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(v->quorum));
    for (const Pending* p : list) {
      std::printf("  approved by %s %s%s at %s\n", ToHex(p->validator).c_str(),
                  name_of(p->validator).c_str(),
                  p->in_office ? "" : " (not in office: not counted)",
                  IsoTime(p->issued_at_ms).c_str());
    }
  }
  std::printf("checked: %s\n", checked.c_str());
  return kOk;
}

int CmdApprove(const NodeArgs& node, const ApproveArgs& args) {
  auto url = Url(node);
  if (!url.ok()) return Fail(url.status(), kUsage);
  auto key = ReadKeyFile(args.key_path);
  if (!key.ok()) return Fail(key.status(), kUsage);
  if (key->kind != KeyKind::kValidator) {
    return Fail(Status::Invalid(args.key_path + " is a " + KeyKindName(key->kind) +
                                " key; an approval is signed with a validator's node key"),
                kUsage);
  }
  auto pin = LoadPinnedGenesis(args.genesis);
  if (!pin.ok()) return Fail(pin.status(), kUsage);
  const PinnedGenesis* pinned = pin->has_value() ? &**pin : nullptr;
  auto v = FetchInOffice(node);
  if (!v.ok()) return FailNode(v.status());
  if (pinned != nullptr) {
    auto c = CheckInOffice(node, *pinned, *v);
    if (!c.ok()) return Fail(c.status(), kUsage);
  }
  if (!v->set.Contains(key->public_key)) {
    return Fail(Status::Invalid("the key in " + args.key_path + " (" + ToHex(key->public_key) +
                                ") is not in the set in office: only its members approve"),
                kUsage);
  }
  auto keys = ComputeNewSet(v->set, args.add, args.remove, args.replace);
  if (!keys.ok()) return Fail(keys.status(), kUsage);
  const Hash32 set_hash = SetHashOf(*keys);
  std::string chain_id;
  if (pinned != nullptr) {
    chain_id = pinned->genesis.chain_id;
  } else {
    auto c = FetchChainId(node);
    if (!c.ok()) return FailNode(c.status());
    chain_id = *c;
  }
  SetValidatorsTx body{key->public_key, *keys, args.issued_at_ms, args.nonce};
  auto tx = SignTx(chain_id, body, SigningKey::FromSeed(key->secret));
  if (!tx.ok()) return Fail(tx.status(), kUsage);
  // Approvals already given for this set by members in office, other than this one.
  uint64_t others = 0;
  for (const Pending& p : v->pending) {
    others += (p.set_hash == set_hash && p.in_office && p.validator != key->public_key) ? 1 : 0;
  }
  auto print_set = [&] {
    std::printf("new set %s (%zu keys, quorum of the set in office: %llu)\n",
                ToHex(set_hash).c_str(), keys->size(), static_cast<unsigned long long>(v->quorum));
    for (const PublicKey& k : *keys) {
      std::printf("  %s%s\n", ToHex(k).c_str(), v->set.Contains(k) ? "" : " (joins)");
    }
    for (const PublicKey& k : v->set.keys) {
      if (!std::binary_search(keys->begin(), keys->end(), k)) {
        std::printf("  %s (leaves)\n", ToHex(k).c_str());
      }
    }
  };
  if (!args.out.empty()) {
    const std::string text = TxToJson(*tx).dump(2) + "\n";
    if (args.out == "-") {
      std::fputs(text.c_str(), stdout);
    } else if (Status st = WriteNewFile(args.out, text); !st.ok()) {
      return Fail(st, kUsage);
    }
    const uint64_t with = others + 1;
    std::fprintf(stderr,
                 "SIGNED approval %s of set %s: with it %llu of %llu approvals, %llu more "
                 "needed\n",
                 ToHex(tx->Id()).c_str(), ToHex(set_hash).c_str(),
                 static_cast<unsigned long long>(with), static_cast<unsigned long long>(v->quorum),
                 static_cast<unsigned long long>(with >= v->quorum ? 0 : v->quorum - with));
    return kOk;
  }
  const int rc = SubmitTx(node, *tx, args.wait, pinned);
  if (rc != kOk) return rc;
  if (node.json) {
    // The node's answer was printed; then one line of what the approval did.
    json j;
    j["set_hash"] = ToHex(set_hash);
    j["validators"] = json::array();
    for (const PublicKey& k : *keys) j["validators"].push_back(ToHex(k));
    if (args.wait) {
      auto after = FetchInOffice(node);
      if (!after.ok()) return FailNode(after.status());
      j["decided"] = after->hash == set_hash;
      j["since_height"] = after->since_height;
      if (after->hash != set_hash) {  // still pending: its count against the quorum in office
        j["approvals"] = ApprovalsFor(*after, set_hash);
        j["quorum"] = after->quorum;
      }
    }
    std::printf("%s\n", j.dump().c_str());
    return kOk;
  }
  print_set();
  if (!args.wait) {
    std::printf("submitted; with it %llu of %llu approvals (pass --wait to see it counted)\n",
                static_cast<unsigned long long>(others + 1),
                static_cast<unsigned long long>(v->quorum));
    return kOk;
  }
  auto after = FetchInOffice(node);
  if (!after.ok()) return FailNode(after.status());
  if (after->hash == set_hash) {
    std::printf("DECIDED: set %s is in office from height %llu\n", ToHex(set_hash).c_str(),
                static_cast<unsigned long long>(after->since_height));
    return kOk;
  }
  const uint64_t n = ApprovalsFor(*after, set_hash);
  std::printf("APPROVED: set %s has %llu of %llu approvals, %llu more needed\n",
              ToHex(set_hash).c_str(), static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(after->quorum),
              static_cast<unsigned long long>(n >= after->quorum ? 0 : after->quorum - n));
  return kOk;
}

}  // namespace consent::ctl
