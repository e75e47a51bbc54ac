// Shared fixtures for the node tests: a temporary directory removed afterwards, deterministic
// keys and signed transactions. Test-only; plain functions, thread-safe.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "ledger/tx.h"

namespace consent::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "node_test.XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A deterministic key whose seed is the SHA-256 of `label`.
inline SigningKey KeyFromLabel(const std::string& label) {
  return SigningKey::FromSeed(Sha256(AsBytes(label)));
}

inline SignedTx SignedGrant(const std::string& chain, const SigningKey& subject,
                            const PublicKey& controller, std::vector<std::string> purposes,
                            uint64_t issued_ms, uint64_t expires_ms = 0) {
  GrantTx g;
  g.subject = subject.public_key();
  g.controller = controller;
  g.purposes = std::move(purposes);
  g.data_categories = {"contact.email"};
  g.jurisdiction = "EU-GDPR";
  g.policy_hash.fill(0x5a);
  g.issued_at_ms = issued_ms;
  g.expires_at_ms = expires_ms;
  g.nonce = issued_ms;
  return SignTx(chain, g, subject).value();
}

inline SignedTx SignedRevoke(const std::string& chain, const SigningKey& subject,
                             const PublicKey& controller, std::vector<std::string> purposes,
                             uint64_t issued_ms) {
  RevokeTx r;
  r.subject = subject.public_key();
  r.controller = controller;
  r.purposes = std::move(purposes);
  r.issued_at_ms = issued_ms;
  r.nonce = issued_ms;
  return SignTx(chain, r, subject).value();
}

inline SignedTx SignedRegister(const std::string& chain, const SigningKey& controller,
                               const std::string& name, uint64_t issued_ms) {
  RegisterControllerTx r;
  r.controller = controller.public_key();
  r.name = name;
  r.contact_uri = "mailto:privacy@example.com";
  r.issued_at_ms = issued_ms;
  r.nonce = issued_ms;
  return SignTx(chain, r, controller).value();
}

}  // namespace consent::testing
