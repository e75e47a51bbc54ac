// Test helpers for the store: a temporary directory, deterministic signed transactions, and
// "commit one block" through the real pipeline (BuildBlock -> precommits from every validator ->
// ChainStore::CommitBlock), so that tests exercise exactly what the node will run.
// Test-only; thread-compatible.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/block_pipeline.h"
#include "ledger/chain_builder.h"
#include "ledger/store/chain_store.h"
#include "ledger/subject_key.h"
#include "ledger/tx.h"

namespace consent::testing {

inline constexpr uint64_t kT0 = 1'767'225'600'000;  // 2026-01-01

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/consent-store-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline SigningKey KeyFromLabel(const std::string& label) {
  return SigningKey::FromSeed(Sha256(AsBytes("store test key: " + label)));
}

// A grant by subject #s to `controller` for `purposes`, issued at `issued`.
inline SignedTx Grant(const std::string& chain, int s, const SigningKey& controller,
                      std::vector<std::string> purposes, uint64_t issued, uint64_t expires = 0) {
  SigningKey subject = KeyFromLabel("subject " + std::to_string(s));
  GrantTx g;
  g.subject = subject.public_key();
  g.controller = controller.public_key();
  g.purposes = std::move(purposes);
  g.jurisdiction = "EU-GDPR";
  g.policy_hash = Sha256(AsBytes("notice"));
  g.issued_at_ms = issued;
  g.expires_at_ms = expires;
  g.nonce = static_cast<uint64_t>(s) * 1000 + issued % 1000;
  return SignTx(chain, g, subject).value();
}

inline SignedTx Revoke(const std::string& chain, int s, const SigningKey& controller,
                       std::vector<std::string> purposes, uint64_t issued) {
  SigningKey subject = KeyFromLabel("subject " + std::to_string(s));
  RevokeTx r;
  r.subject = subject.public_key();
  r.controller = controller.public_key();
  r.purposes = std::move(purposes);
  r.issued_at_ms = issued;
  r.nonce = issued;
  return SignTx(chain, r, subject).value();
}

inline SignedTx Register(const std::string& chain, const SigningKey& controller,
                         const std::string& name, uint64_t issued) {
  RegisterControllerTx r;
  r.controller = controller.public_key();
  r.name = name;
  r.contact_uri = "mailto:privacy@example.com";
  r.issued_at_ms = issued;
  r.nonce = 1;
  return SignTx(chain, r, controller).value();
}

// Opens (or creates) the store at `path` for `genesis` with a small block cache; a failure is a
// test failure and gives nullptr.
inline std::unique_ptr<ChainStore> OpenStore(const std::string& path, const Genesis& genesis,
                                             bool read_only = false) {
  ChainStoreOptions o;
  o.path = path;
  o.block_cache_bytes = 4 << 20;
  o.read_only = read_only;
  auto s = ChainStore::Open(o, genesis);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Builds the next block from `txs` (all must be valid) and commits it with precommits from
// every key in `validators` (genesis order). Returns the committed header.
inline Result<Header> CommitTxs(ChainStore& store, const std::vector<SigningKey>& validators,
                                uint64_t time_ms, const std::vector<SignedTx>& txs) {
  ASSIGN_OR_RETURN(BuiltBlock built, BuildBlock(store.kv(), store.genesis(), store.tip(), time_ms,
                                                0, txs, kMaxBlockTxs));
  if (!built.rejected.empty()) {
    return Status::Rejected("candidate rejected: " + built.rejected[0].message);
  }
  const Header& h = built.validated.block.header;
  Commit commit;
  for (const auto& k : validators) {
    commit.signatures.push_back(
        SignPrecommit(k, store.genesis().chain_id, h.height, 0, built.validated.block_hash));
  }
  Header out = h;
  RETURN_IF_ERROR(store.CommitBlock(std::move(built.validated), commit));
  return out;
}

}  // namespace consent::testing
