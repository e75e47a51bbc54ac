// Byte containers shared by every module: owned buffers, read-only views and fixed-size arrays
// for keys, hashes and signatures. Plain types; thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
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

// Hashes a SHA-256 output for unordered containers by its first 8 bytes. Only for values that
// are hash outputs (tx ids, block hashes): nobody can choose many of them with equal prefixes.
// Not for public keys or other input an adversary picks freely.
struct Hash32Hasher {
  size_t operator()(const Hash32& h) const noexcept {
    size_t v;
    std::memcpy(&v, h.data(), sizeof v);
    return v;
  }
};

inline void Append(Bytes& out, ByteView in) { out.insert(out.end(), in.begin(), in.end()); }

}  // namespace consent
