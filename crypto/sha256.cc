// SHA-256 / HMAC-SHA256 over OpenSSL 3: the one-shot hash on the low-level SHA256_* functions
// (below), HMAC and the streaming hasher on EVP, whose EVP_MD is fetched once.
#include "crypto/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstdio>
#include <cstdlib>

namespace consent {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "fatal: OpenSSL %s failed\n", what);
  std::abort();
}

const EVP_MD* Md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) Die("EVP_MD_fetch(SHA256)");
    return m;
  }();
  return md;
}

}  // namespace

// The one-shot hash runs on OpenSSL's SHA256_Init/Update/Final, deprecated in OpenSSL 3 in
// favour of EVP but present in every 3.x release, and the same implementation (SHA extensions
// where the CPU has them) without EVP's per-call dispatch: 108 against 141 ns for the 65-byte
// node hashes of the state and log trees on the development machine, which is about a quarter
// less for the hashing that dominates block building (docs/storage.md). It only ever hashes
// public data, so its stack state is not cleansed. HMAC and the streaming hasher stay on EVP.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
Hash32 Sha256(std::initializer_list<ByteView> parts) {
  SHA256_CTX c;
  if (SHA256_Init(&c) != 1) Die("SHA256_Init");
  for (ByteView p : parts) {
    if (!p.empty() && SHA256_Update(&c, p.data(), p.size()) != 1) Die("SHA256_Update");
  }
  Hash32 out;
  if (SHA256_Final(out.data(), &c) != 1) Die("SHA256_Final");
  return out;
}
#pragma GCC diagnostic pop

Hash32 Sha256(ByteView data) { return Sha256({data}); }

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, Md(), nullptr) != 1) Die("EVP_DigestInit_ex");
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(ctx_); }

Sha256Hasher& Sha256Hasher::Update(ByteView data) {
  if (!data.empty() && EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) {
    Die("EVP_DigestUpdate");
  }
  return *this;
}

Hash32 Sha256Hasher::Finish() {
  Hash32 out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()) {
    Die("EVP_DigestFinal_ex");
  }
  if (EVP_DigestInit_ex(ctx_, Md(), nullptr) != 1) Die("EVP_DigestInit_ex");
  return out;
}

Hash32 HmacSha256(ByteView key, ByteView data) {
  Hash32 out;
  unsigned int len = 0;
  static const uint8_t kEmpty = 0;
  if (HMAC(Md(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
           data.empty() ? &kEmpty : data.data(), data.size(), out.data(), &len) == nullptr ||
      len != out.size()) {
    Die("HMAC");
  }
  return out;
}

}  // namespace consent
