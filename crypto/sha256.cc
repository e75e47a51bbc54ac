// SHA-256 / HMAC-SHA256 over OpenSSL 3 EVP. The EVP_MD is fetched once; a thread-local context
// is reused by the one-shot functions to avoid an allocation per hash (the SMT hashes a lot).
#include "crypto/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

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

struct CtxHolder {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~CtxHolder() { EVP_MD_CTX_free(ctx); }
};

EVP_MD_CTX* ThreadCtx() {
  thread_local CtxHolder holder;
  if (holder.ctx == nullptr) Die("EVP_MD_CTX_new");
  return holder.ctx;
}

}  // namespace

Hash32 Sha256(std::initializer_list<ByteView> parts) {
  EVP_MD_CTX* ctx = ThreadCtx();
  if (EVP_DigestInit_ex(ctx, Md(), nullptr) != 1) Die("EVP_DigestInit_ex");
  for (ByteView p : parts) {
    if (!p.empty() && EVP_DigestUpdate(ctx, p.data(), p.size()) != 1) Die("EVP_DigestUpdate");
  }
  Hash32 out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != out.size()) {
    Die("EVP_DigestFinal_ex");
  }
  return out;
}

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
