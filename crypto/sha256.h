// SHA-256 and HMAC-SHA256 through OpenSSL's EVP interface (which uses the CPU's SHA instructions
// where present). The one-shot functions are thread-safe; a Sha256Hasher object is not (use one
// per thread). OpenSSL failures here mean a broken library and abort the process.
#pragma once

#include <initializer_list>

#include "crypto/bytes.h"

struct evp_md_ctx_st;

namespace consent {

Hash32 Sha256(ByteView data);
// Hash of the concatenation of `parts`, without copying them together.
Hash32 Sha256(std::initializer_list<ByteView> parts);

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  Sha256Hasher& Update(ByteView data);
  // Returns the digest and resets the hasher for reuse.
  Hash32 Finish();

 private:
  evp_md_ctx_st* ctx_;
};

Hash32 HmacSha256(ByteView key, ByteView data);

}  // namespace consent
