// consentctl's node commands: status, submit, prove, and the files they read and write
// (history.cc and audit.cc hold the two longer commands). Single-threaded.
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

// Checks a committed transaction as the node serves it (GET /v1/txs/{id}) with the light
// verifier: its encoding hashes to `tx_id`, and its inclusion proof leads to the log root of a
// head committed by the set in office at its height, reached from the genesis through the node's
// validator changes. Returns a one-line summary of what was checked.
Result<std::string> VerifyCommittedTx(const NodeArgs& node, const Hash32& tx_id,
                                      const PinnedGenesis& pin) {
  ASSIGN_OR_RETURN(consent::json::Json j, GetStrict(node, "/v1/txs/" + ToHex(tx_id)));
  ASSIGN_OR_RETURN(std::vector<ValidatorChange> changes, FetchChanges(node));
  const light::TrustRoot root = light::FromGenesis(pin.genesis);
  ASSIGN_OR_RETURN(light::CommittedTx c, light::VerifyCommittedTx(root, changes, j, tx_id));
  size_t followed = 0;
  for (const ValidatorChange& ch : changes) followed += ch.header.height < c.head.height ? 1 : 0;
  return "log index " + std::to_string(c.log_index) + " is in the log of height " +
         std::to_string(c.head.height) + ", certified by the validators of the genesis " +
         pin.path +
         (followed == 0 ? std::string()
                        : " (through " + std::to_string(followed) + " validator set change" +
                              (followed == 1 ? ")" : "s)"));
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
        id.ok() ? VerifyCommittedTx(node, *id, *pin) : Result<std::string>(id.status());
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
      std::printf("  verified: %s\n", v.c_str());
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
                 "file) to check the inclusion proof against the validators\n");
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
