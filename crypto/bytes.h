// Byte containers shared by every module: owned buffers, read-only views and fixed-size arrays
// for keys, hashes and signatures. Plain types; thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace consent {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

using Hash32 = std::array<uint8_t, 32>;     // SHA-256 output
using PublicKey = std::array<uint8_t, 32>;  // Ed25519 public key
using Seed32 = std::array<uint8_t, 32>;     // Ed25519 seed / 32-byte secret
using Signature = std::array<uint8_t, 64>;  // Ed25519 signature (R || S)

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

inline void Append(Bytes& out, ByteView in) { out.insert(out.end(), in.begin(), in.end()); }

}  // namespace consent
