// Lowercase hex encoding and strict decoding. Decoding accepts upper or lower case digits, but
// rejects odd lengths, non-hex characters and (for fixed sizes) the wrong length, with a message
// that says which. Pure functions; thread-safe.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace consent {

std::string ToHex(ByteView bytes);
template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& a) {
  return ToHex(ByteView(a.data(), a.size()));
}

Result<Bytes> FromHex(std::string_view hex);

// Decodes exactly N bytes (2N hex digits).
template <size_t N>
Result<std::array<uint8_t, N>> FromHexFixed(std::string_view hex) {
  if (hex.size() != 2 * N) {
    return Status::Invalid("expected " + std::to_string(2 * N) + " hex digits (" +
                           std::to_string(N) + " bytes), got " + std::to_string(hex.size()));
  }
  ASSIGN_OR_RETURN(Bytes b, FromHex(hex));
  std::array<uint8_t, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = b[i];
  return out;
}

}  // namespace consent
