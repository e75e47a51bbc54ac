// consentctl's node commands.
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
#include <nlohmann/json.hpp>

#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "ledger/block_pipeline.h"
#include "ledger/merkle_log.h"
#include "ledger/subject_key.h"
#include "ledger/tx.h"
#include "ledger/tx_json.h"
#include "tools/consentctl/brand_list.h"

namespace consent::ctl {
namespace {

// Ordered: what the node sent is printed in its own order (status, submit), not sorted.
using json = nlohmann::ordered_json;

constexpr int kOk = 0;
constexpr int kNegative = 1;
constexpr int kUsage = 2;

int Fail(const Status& st, int code) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return code;
}

// A failed node call: an unreachable or silent node is exit 2 (like a bad URL), anything the node
// answered (an HTTP error, a malformed answer) exit 1.
int FailNode(const Status& st) {
  return Fail(st, st.code() == StatusCode::kUnavailable ? kUsage : kNegative);
}

Result<HttpUrl> Url(const NodeArgs& node) { return ParseHttpUrl(node.url); }

// o[key] for printing: a string as it is, a number as its digits, anything else (null, missing,
// an object) as "". Never throws, whatever the node sent.
std::string Text(const json& o, const char* key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  if (it == o.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return "";
}

// GET and parse a JSON answer; an HTTP error becomes a Status with the node's message.
Result<json> GetJson(const NodeArgs& node, const std::string& target) {
  ASSIGN_OR_RETURN(HttpUrl url, Url(node));
  ASSIGN_OR_RETURN(HttpResponse r, HttpCall(url, "GET", target, "", node.timeout_ms));
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (r.status != 200) {
    std::string msg = "the node answered " + std::to_string(r.status);
    if (j.is_object() && j.contains("error") && j["error"].is_object() &&
        j["error"].contains("message") && j["error"]["message"].is_string()) {
      msg += ": " + j["error"]["message"].get<std::string>();
    }
    return r.status == 404 ? Status::NotFound(msg) : Status::Rejected(msg);
  }
  if (j.is_discarded()) return Status::Invalid("the node's answer to " + target + " is not JSON");
  return j;
}

Result<std::string> Str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
    return Status::Invalid(std::string("the node's answer has no string \"") + key + "\"");
  }
  return j[key].get<std::string>();
}

Result<uint64_t> Uint(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_unsigned()) {
    return Status::Invalid(std::string("the node's answer has no number \"") + key + "\"");
  }
  return j[key].get<uint64_t>();
}

// A JSON array of at most `max` 32-byte hex hashes (a Merkle proof); `what` names it in errors.
Result<std::vector<Hash32>> HashList(const json& a, size_t max, const char* what) {
  if (!a.is_array() || a.size() > max) {
    return Status::Invalid(std::string("the node's ") + what + " is not an array of at most " +
                           std::to_string(max) + " hashes");
  }
  std::vector<Hash32> out;
  for (const auto& h : a) {
    if (!h.is_string()) return Status::Invalid(std::string(what) + ": an element is not a string");
    ASSIGN_OR_RETURN(Hash32 x, FromHexFixed<32>(h.get<std::string>()));
    out.push_back(x);
  }
  return out;
}

Result<Hash32> Hash(const json& j, const char* key) {
  ASSIGN_OR_RETURN(std::string s, Str(j, key));
  auto h = FromHexFixed<32>(s);
  if (!h.ok()) return h.status().Prefixed(key);
  return *h;
}

// A head as the history route gives it ({"header": {..., "encoding"}, "commit": {...}}), checked
// against the genesis: the header decodes and its commit is a quorum of genesis validators.
struct VerifiedHead {
  Header header;
};

// A certified header as the node serves it ({"header": {..., "encoding"}, "commit": {...}}),
// decoded but not yet checked: the header from its canonical encoding (the JSON fields beside it
// are not trusted), the commit from its JSON.
struct Certified {
  Header header;
  Commit commit;
};

Result<Certified> ParseCertified(const json& head) {
  if (!head.is_object() || !head.contains("header") || !head.contains("commit")) {
    return Status::Invalid("the node's certified header has no header or commit");
  }
  Certified out;
  ASSIGN_OR_RETURN(std::string enc_hex, Str(head["header"], "encoding"));
  ASSIGN_OR_RETURN(Bytes enc, FromHex(enc_hex));
  ASSIGN_OR_RETURN(out.header, DecodeHeader(enc));
  const json& c = head["commit"];
  if (!c.is_object() || !c.contains("round") || !c["round"].is_number_unsigned() ||
      !c.contains("signatures") || !c["signatures"].is_array() ||
      c["signatures"].size() > kMaxValidators) {
    return Status::Invalid("the node's commit is malformed");
  }
  if (c["round"].get<uint64_t>() > UINT32_MAX)
    return Status::Invalid("the node's commit round is out of range");
  out.commit.round = static_cast<uint32_t>(c["round"].get<uint64_t>());
  for (const auto& s : c["signatures"]) {
    CommitSig cs;
    ASSIGN_OR_RETURN(std::string v, Str(s, "validator"));
    ASSIGN_OR_RETURN(std::string sig, Str(s, "signature"));
    ASSIGN_OR_RETURN(cs.validator, FromHexFixed<32>(v));
    ASSIGN_OR_RETURN(cs.signature, FromHexFixed<64>(sig));
    out.commit.signatures.push_back(cs);
  }
  return out;
}

Result<VerifiedHead> VerifyHead(const json& head, const Genesis& genesis) {
  ASSIGN_OR_RETURN(Certified c, ParseCertified(head));
  const Header& header = c.header;
  if (header.chain_id != genesis.chain_id) {
    return Status::Rejected("the node's head is for chain " + header.chain_id + ", not " +
                            genesis.chain_id);
  }
  Status st = VerifyCommit(genesis, header.height, header.Hash(), c.commit);
  if (!st.ok()) return st.Prefixed("the node's head commit");
  return VerifiedHead{header};
}

// Whether the node serves the chain of `genesis`, whatever it is then asked: its latest header
// must carry a commit of the genesis validators. Before block 1 (no header, no commit) its chain
// id and validator set must be the genesis's. `status` is the node's /v1/status.
Status CheckNodeChain(const NodeArgs& node, const json& status, const Genesis& genesis,
                      std::optional<Header>* head = nullptr) {
  ASSIGN_OR_RETURN(uint64_t height, Uint(status, "height"));
  ASSIGN_OR_RETURN(std::string chain, Str(status, "chain_id"));
  if (chain != genesis.chain_id) {
    return Status::Rejected("the node is on chain " + chain + ", not " + genesis.chain_id);
  }
  if (height > 0) {
    ASSIGN_OR_RETURN(json h, GetJson(node, "/v1/headers?from=" + std::to_string(height) +
                                               "&to=" + std::to_string(height)));
    if (!h.is_object() || !h.contains("headers") || !h["headers"].is_array() ||
        h["headers"].size() != 1) {
      return Status::Invalid("the node's answer to /v1/headers is malformed");
    }
    ASSIGN_OR_RETURN(VerifiedHead v, VerifyHead(h["headers"][0], genesis));
    if (head != nullptr) *head = v.header;
    return Status::Ok();
  }
  std::vector<std::string> keys, want;
  if (status.contains("validators") && status["validators"].is_array()) {
    for (const auto& v : status["validators"]) keys.push_back(Text(v, "public_key"));
  }
  for (const auto& v : genesis.validators) want.push_back(ToHex(v.public_key));
  std::sort(keys.begin(), keys.end());
  std::sort(want.begin(), want.end());
  if (keys != want) {
    return Status::Rejected("the node's validators are not those of the genesis (chain " + chain +
                            ", no block yet)");
  }
  return Status::Ok();
}

// The message for a node that does not serve the pinned chain: what was expected, what came.
Status WrongChain(const NodeArgs& node, const json& status, const PinnedGenesis& pin,
                  const Status& why) {
  std::string got = Text(status, "chain_id");
  return Status::Rejected("the node " + node.url +
                          " is not on the pinned chain: expected chain id " + pin.genesis.chain_id +
                          " (genesis " + pin.path + ", hash " + ToHex(pin.hash) + ", pinned by " +
                          pin.from + "), the node reports chain id " +
                          (got.empty() ? std::string("(none)") : got) + ": " + why.message());
}

// Checks a committed transaction as the node serves it (GET /v1/txs/{id}): its encoding hashes
// to `tx_id`, and its inclusion proof leads to the log root of a head whose commit is a quorum of
// the genesis validators. Returns a one-line summary of what was checked.
Result<std::string> VerifyCommittedTx(const NodeArgs& node, const Hash32& tx_id,
                                      const Genesis& genesis) {
  ASSIGN_OR_RETURN(json j, GetJson(node, "/v1/txs/" + ToHex(tx_id)));
  ASSIGN_OR_RETURN(Hash32 id, Hash(j, "tx_id"));
  if (id != tx_id) return Status::Rejected("the node answered for another transaction");
  ASSIGN_OR_RETURN(uint64_t height, Uint(j, "height"));
  ASSIGN_OR_RETURN(uint64_t log_index, Uint(j, "log_index"));
  ASSIGN_OR_RETURN(std::string enc_hex, Str(j, "encoding"));
  ASSIGN_OR_RETURN(Bytes enc, FromHex(enc_hex));
  if (TxIdOf(enc) != tx_id) return Status::Rejected("its encoding does not hash to its tx_id");
  if (!j.contains("inclusion") || !j.contains("head")) {
    return Status::Rejected("the answer has no inclusion proof or head");
  }
  ASSIGN_OR_RETURN(std::vector<Hash32> proof, HashList(j["inclusion"], 64, "inclusion proof"));
  ASSIGN_OR_RETURN(VerifiedHead head, VerifyHead(j["head"], genesis));
  if (head.header.height < height) {
    return Status::Rejected("its head (height " + std::to_string(head.header.height) +
                            ") is below the block it names (" + std::to_string(height) + ")");
  }
  Status st =
      merkle::VerifyInclusion(log_index, head.header.log_size, tx_id, proof, head.header.log_root);
  if (!st.ok()) return st.Prefixed("its inclusion proof does not verify");
  return "log index " + std::to_string(log_index) + " is in the log of height " +
         std::to_string(head.header.height) + ", certified by the validators of the genesis";
}

struct HistoryRow {
  std::string brand;
  PublicKey controller{};
  SignedTx tx;
  Hash32 tx_id{};
  uint64_t height = 0;
  uint64_t log_index = 0;
};

// Checks one history entry: the encoding is the tx_id, the tx is signed by `subject` for this
// chain, and it is included at log_index under the verified head.
Result<HistoryRow> VerifyEntry(const json& e, const PublicKey& subject, const Genesis& genesis,
                               const VerifiedHead& head) {
  HistoryRow row;
  ASSIGN_OR_RETURN(row.tx_id, Hash(e, "tx_id"));
  ASSIGN_OR_RETURN(row.height, Uint(e, "height"));
  ASSIGN_OR_RETURN(row.log_index, Uint(e, "log_index"));
  ASSIGN_OR_RETURN(std::string enc_hex, Str(e, "encoding"));
  ASSIGN_OR_RETURN(Bytes enc, FromHex(enc_hex));
  if (TxIdOf(enc) != row.tx_id) return Status::Rejected("encoding does not hash to its tx_id");
  ASSIGN_OR_RETURN(row.tx, DecodeSignedTx(enc));
  if (SignerOf(row.tx.body) != subject) return Status::Rejected("not signed by this customer");
  RETURN_IF_ERROR(VerifyTxSignature(genesis.chain_id, row.tx));
  if (!e.contains("inclusion")) return Status::Invalid("entry has no inclusion proof");
  ASSIGN_OR_RETURN(std::vector<Hash32> proof, HashList(e["inclusion"], 64, "inclusion proof"));
  Status st = merkle::VerifyInclusion(row.log_index, head.header.log_size, row.tx_id, proof,
                                      head.header.log_root);
  if (!st.ok()) return st.Prefixed("inclusion");
  return row;
}

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

Result<std::string> ReadFileCapped(const std::string& path, size_t limit) {
  // fopen, not ifstream: a directory opens, and only the read says why it cannot be read.
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  std::string data;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    data.append(buf, n);
    if (data.size() > limit) {
      std::fclose(f);
      return Status::Invalid(path + " is larger than " + std::to_string(limit) + " bytes");
    }
  }
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) return Status::IoError("cannot read " + path + ": " + std::strerror(err));
  return data;
}

Status WriteNewFile(const std::string& path, const std::string& text) {
  // O_EXCL: never overwrites, and never follows a symlink (a dangling one included).
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(path + " already exists");
    return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  }
  size_t done = 0;
  int err = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(path.c_str());  // no half-written file left behind
    return Status::IoError("cannot write " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Status ReplaceFile(const std::string& path, const std::string& text, mode_t mode) {
  // A temporary file of a unique name in the same folder (rename is atomic within a file system).
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  auto fail = [&](const char* what) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return Status::IoError(std::string(what) + " " + path + ": " + std::strerror(e));
  };
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      ::close(fd);
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    return fail("cannot write");
  }
  if (::close(fd) != 0) return fail("cannot write");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot replace");
  // The rename itself is durable once the folder is synced.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<Genesis> LoadGenesisFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, 1 << 20));
  auto g = ParseGenesis(text);
  if (!g.ok()) return g.status().Prefixed(path);
  return g;
}

Status CheckNodeServes(const NodeArgs& node, const PinnedGenesis& pin) {
  ASSIGN_OR_RETURN(json s, GetJson(node, "/v1/status"));
  Status st = CheckNodeChain(node, s, pin.genesis);
  if (st.ok() || st.code() == StatusCode::kUnavailable) return st;
  return WrongChain(node, s, pin, st);
}

Result<std::string> FetchChainId(const NodeArgs& node) {
  ASSIGN_OR_RETURN(json s, GetJson(node, "/v1/status"));
  return Str(s, "chain_id");
}

int CmdStatus(const NodeArgs& node) {
  auto url = Url(node);
  if (!url.ok()) return Fail(url.status(), kUsage);
  auto s = GetJson(node, "/v1/status");
  if (!s.ok()) return FailNode(s.status());
  if (node.json) {
    std::printf("%s\n", s->dump(2).c_str());
    return kOk;
  }
  if (!s->is_object())
    return Fail(Status::Invalid("the node's status is not an object"), kNegative);
  auto scalar = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  for (auto it = s->begin(); it != s->end(); ++it) {
    const json& v = it.value();
    if (it.key() == "validators" && v.is_array()) {
      // The genesis validator set: the label once, then one validator per line.
      const char* label = "validators";
      if (v.empty()) std::printf("%-18s (none)\n", label);
      for (const auto& x : v) {
        std::printf("%-18s %s %s\n", label, Text(x, "public_key").c_str(), Text(x, "name").c_str());
        label = "";
      }
    } else if (it.key() == "validator" && v.is_boolean()) {
      // Whether this node is one of them (not to be read as one more "validator" line).
      std::printf("%-18s %s\n", "role", v.get<bool>() ? "validator" : "follower (not a validator)");
    } else if (v.is_object()) {
      // e.g. consensus: "height 14, round 0, step propose".
      std::string line;
      for (auto f = v.begin(); f != v.end(); ++f) {
        line += (line.empty() ? "" : ", ") + f.key() + " " + scalar(f.value());
      }
      std::printf("%-18s %s\n", it.key().c_str(), line.c_str());
    } else {
      std::printf("%-18s %s\n", it.key().c_str(), scalar(v).c_str());
    }
  }
  return kOk;
}

namespace {
int Post(const NodeArgs& node, const std::string& body, bool wait, const PinnedGenesis* pin) {
  auto url = Url(node);
  if (!url.ok()) return Fail(url.status(), kUsage);
  auto r = HttpCall(*url, "POST", std::string("/v1/txs") + (wait ? "?wait=commit" : ""), body,
                    node.timeout_ms);
  if (!r.ok()) return Fail(r.status(), kUsage);
  json j = json::parse(r->body, nullptr, false);
  // One result per transaction: the answer itself, or its array (a batch; "results" after a
  // commit timeout).
  json* batch = nullptr;
  if (j.is_array()) {
    batch = &j;
  } else if (j.is_object() && j.contains("results") && j["results"].is_array()) {
    batch = &j["results"];
  }
  // "rejected (invalid_tx): kind: missing field" (tx_id is null when the tx did not decode).
  auto error_text = [](const json& e) {
    std::string rule = Text(e, "rule");
    if (rule.empty()) rule = Text(e, "code");
    return "(" + (rule.empty() ? std::string("?") : rule) + "): " + Text(e, "message");
  };
  // Every "committed" is checked against the pinned genesis before it is printed as such: the
  // node's inclusion proof and the commit of the head it leads to. Without a pin it is the
  // node's word, and the output says so.
  size_t unverified = 0, unchecked = 0;
  auto check_committed = [&](json& o) {
    if (Text(o, "status") != "committed") return;
    auto id = Hash(o, "tx_id");
    if (pin == nullptr) {
      ++unchecked;
      if (node.json) o["verified"] = false;
      return;
    }
    Result<std::string> v =
        id.ok() ? VerifyCommittedTx(node, *id, pin->genesis) : Result<std::string>(id.status());
    if (node.json) {
      o["verified"] = v.ok();
      if (!v.ok()) o["verify_error"] = v.status().message();
    }
    if (!v.ok()) ++unverified;
    if (node.json) return;  // the node's answer, with "verified" (and "verify_error") added
    if (v.ok()) {
      o["verified_summary"] = *v;
    } else {
      o["status"] = "NOT VERIFIED";
      o["why"] = "the node says committed, but " + v.status().message();
    }
  };
  if (batch != nullptr) {
    for (auto& o : *batch) check_committed(o);
  } else if (j.is_object() && j.contains("status")) {
    check_committed(j);
  }
  auto print = [&](const json& o) {
    if (Text(o, "status") == "NOT VERIFIED") {
      std::printf("%s NOT VERIFIED: %s\n", Text(o, "tx_id").c_str(), Text(o, "why").c_str());
      return;
    }
    std::string line = Text(o, "tx_id");
    std::string status = Text(o, "status");
    line += (line.empty() ? "" : " ") + (status.empty() ? std::string("?") : status);
    if (std::string h = Text(o, "height"); !h.empty()) line += " at height " + h;
    if (std::string li = Text(o, "log_index"); !li.empty()) line += ", log index " + li;
    if (o.is_object() && o.contains("error") && o["error"].is_object()) {
      line += " " + error_text(o["error"]);
    }
    std::printf("%s\n", line.c_str());
    if (std::string v = Text(o, "verified_summary"); !v.empty()) {
      std::printf("  verified: %s %s\n", v.c_str(), pin->path.c_str());
    }
  };
  if (node.json || j.is_discarded()) {
    std::printf("%s\n", j.is_discarded() ? r->body.c_str() : j.dump(2).c_str());
  } else {
    if (batch != nullptr) {
      for (const auto& o : *batch) print(o);
    } else if (j.is_object() && j.contains("status")) {
      print(j);
    }
    if (j.is_object() && j.contains("error") && j["error"].is_object() && !j.contains("status")) {
      // A refusal of the whole request (429, 413, ...), or a commit timeout after the results.
      std::printf("%s %s\n", batch != nullptr ? "error" : "refused",
                  error_text(j["error"]).c_str());
    }
  }
  if (unchecked > 0) {
    std::fprintf(stderr,
                 "note: \"committed\" is the node's word, unchecked: no genesis is pinned "
                 "(pass --genesis, set CONSENT_GENESIS, or name it in the consentctl config "
                 "file) to check the inclusion proof against the genesis validators\n");
  }
  if (unverified > 0) {
    std::fprintf(stderr,
                 "error: %zu transaction%s the node calls committed could not be verified "
                 "against the pinned genesis %s: do not rely on %s\n",
                 unverified, unverified == 1 ? "" : "s", pin->path.c_str(),
                 unverified == 1 ? "it" : "them");
  }
  if (r->status == 429) {
    std::fprintf(stderr, "rate limited; retry after %s s\n", r->retry_after.c_str());
  }
  // A batch answers 200 with a result per transaction: any refused one makes the exit code 1.
  size_t refused = 0;
  if (batch != nullptr) {
    for (const auto& o : *batch) refused += Text(o, "status") == "rejected" ? 1 : 0;
    if (refused > 0) {
      std::fprintf(stderr, "%zu of %zu transactions refused\n", refused, batch->size());
    }
  }
  return r->status >= 200 && r->status < 300 && refused == 0 && unverified == 0 ? kOk : kNegative;
}
}  // namespace

int CmdSubmitFile(const NodeArgs& node, const std::string& path, bool wait,
                  const PinnedGenesis* pin) {
  auto text = ReadFileCapped(path, 1 << 20);
  if (!text.ok()) return Fail(text.status(), kUsage);
  if (pin != nullptr) {
    if (Status st = CheckNodeServes(node, *pin); !st.ok()) return Fail(st, kUsage);
  }
  return Post(node, *text, wait, pin);
}

int SubmitTx(const NodeArgs& node, const SignedTx& tx, bool wait, const PinnedGenesis* pin) {
  return Post(node, TxToJson(tx).dump(), wait, pin);
}

int CmdProve(const NodeArgs& node, const std::string& subject_hex,
             const std::string& controller_hex, const std::string& purpose,
             std::optional<uint64_t> at_ms, const std::string& out) {
  auto s = FromHexFixed<32>(subject_hex);
  if (!s.ok()) return Fail(s.status().Prefixed("--subject"), kUsage);
  auto c = FromHexFixed<32>(controller_hex);
  if (!c.ok()) return Fail(c.status().Prefixed("--controller"), kUsage);
  // A purpose is a label (docs/protocol.md section 2), checked here by the ledger's own rule, so
  // that nothing else (a '?', a '/') can reach the request's path and ask about another purpose.
  if (Status label = CheckPurposeLabel("--purpose", purpose); !label.ok()) {
    return Fail(label, kUsage);
  }
  auto url = Url(node);
  if (!url.ok()) return Fail(url.status(), kUsage);
  std::string target = "/v1/consents/" + ToHex(*s) + "/" + ToHex(*c) + "/" + purpose;
  if (at_ms) target += "?at_ms=" + std::to_string(*at_ms);
  auto r = HttpCall(*url, "GET", target, "", node.timeout_ms);
  if (!r.ok()) return Fail(r.status(), kUsage);
  if (r->status != 200) {
    std::fprintf(stderr, "error: the node answered %d: %s\n", r->status, r->body.c_str());
    return kNegative;
  }
  if (out.empty() || out == "-") {
    std::printf("%s\n", r->body.c_str());
    return kOk;
  }
  if (Status st = WriteNewFile(out, r->body + "\n"); !st.ok()) return Fail(st, kUsage);
  std::fprintf(
      stderr, "wrote the proof to %s; check it with: consentctl verify %s --genesis GENESIS%s\n",
      out.c_str(), out.c_str(), at_ms ? (" --at-ms " + std::to_string(*at_ms)).c_str() : "");
  return kOk;
}

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
  if (Status st = CheckNodeChain(node, *s, genesis, &latest); !st.ok()) return FailNode(st);
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
  std::map<uint64_t, VerifiedHead> heads;
  for (const auto& [controller, name] : brands) {
    SigningKey subject = DeriveSubjectKey(key->secret, controller);
    uint64_t from = 0;
    for (int page = 0; page < 100000; ++page) {
      auto h = GetJson(node, "/v1/subjects/" + ToHex(subject.public_key()) +
                                 "/history?limit=1000&from=" + std::to_string(from));
      if (!h.ok()) return FailNode(h.status());
      if (!h->contains("entries") || !(*h)["entries"].is_array()) {
        return Fail(Status::Invalid("the node's history is malformed"), kNegative);
      }
      // Every head is checked, with or without entries (null only before block 1).
      const bool no_head = !h->contains("head") || (*h)["head"].is_null();
      if (no_head && (*h)["entries"].empty()) break;
      auto head = VerifyHead((*h)["head"], genesis);
      if (!head.ok()) return Fail(head.status(), kNegative);
      if (Status st = CheckFresh("the node's head", head->header.height, head->header.time_ms,
                                 now_ms, max_age_ms);
          !st.ok()) {
        return Fail(st, kNegative);
      }
      if (!latest || head->header.height > latest->height) latest = head->header;
      if ((*h)["entries"].empty()) break;
      for (const auto& e : (*h)["entries"]) {
        auto row = VerifyEntry(e, subject.public_key(), genesis, *head);
        if (!row.ok()) {
          problems.push_back("brand " + name + ": " + row.status().message());
          continue;
        }
        row->brand = name;
        row->controller = controller;
        rows.push_back(std::move(row).value());
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
        Status st = VerifyCommit(*genesis, h.height, h.Hash(), c->commit);
        if (!st.ok()) return invalid("height " + std::to_string(h.height) + ": " + st.message());
      } else {
        Status st = CheckCertifiedHeader(*genesis, tip, h, c->commit, nullptr);
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

std::string IsoTime(uint64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(ms) + " ms";
  char buf[64];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm) == 0) {
    return std::to_string(ms) + " ms";
  }
  return buf;
}

}  // namespace consent::ctl
