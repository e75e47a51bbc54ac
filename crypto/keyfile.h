// Key files on disk. A key file is a small JSON document:
//   {"type": "consent-ledger-key", "version": 1, "kind": "<kind>", "secret": "<64 hex>",
//    "public_key": "<64 hex>"}
// `kind` is "customer" (a master secret from which per-brand subject keys are derived;
// PROTOCOL.md section 7; no public_key), or "brand" / "validator" (an Ed25519 seed, with its
// public key, which must match the seed).
//
// Files are created with mode 0600 and never overwritten. Reading a file that group or others can
// access is refused with a message saying how to fix it (as ssh does). Files larger than
// kMaxKeyFileBytes, malformed JSON, unknown fields and wrong lengths are clear errors.
// Thread-safe (no shared state); the usual file-system races apply.
#pragma once

#include <string>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace consent {

inline constexpr size_t kMaxKeyFileBytes = 4096;

enum class KeyKind { kCustomer, kBrand, kValidator };
const char* KeyKindName(KeyKind kind);
Result<KeyKind> ParseKeyKind(const std::string& name);

struct KeyFile {
  KeyKind kind = KeyKind::kCustomer;
  Seed32 secret{};
  PublicKey public_key{};  // zero for customers

  // A new key from the OS's CSPRNG (public key filled for Ed25519 kinds).
  static KeyFile Generate(KeyKind kind);
  static KeyFile FromSecret(KeyKind kind, const Seed32& secret);
};

std::string SerializeKeyFile(const KeyFile& key);
Result<KeyFile> ParseKeyFile(const std::string& text);

// Creates `path` with mode 0600. Fails with kAlreadyExists if it exists.
Status WriteKeyFile(const std::string& path, const KeyFile& key);
// Reads and checks permissions (no group/other access) and contents.
Result<KeyFile> ReadKeyFile(const std::string& path);

}  // namespace consent
