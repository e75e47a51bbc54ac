// Block headers, votes, commits and the genesis file (PROTOCOL.md sections 5 and 6).
// Pure and deterministic; thread-safe.
//
// Header grammar: u8 kind=16, u8 version=1, str chain_id, u64 height (>= 1), u64 time_ms,
//   hash prev_block_hash, u64 log_size, hash log_root, hash state_root, hash validators_hash,
//   key proposer.            block_hash = H(header encoding)
// vote_msg = tag("consent-ledger/vote/v1") || str chain_id || u8 type || u64 height || u32 round
//   || hash block_hash       (zero block_hash = nil vote)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"

namespace consent {

inline constexpr uint8_t kHeaderKind = 16;
inline constexpr uint8_t kHeaderVersion = 1;
inline constexpr size_t kMaxValidators = 256;

struct Header {
  std::string chain_id;
  uint64_t height = 0;
  uint64_t time_ms = 0;
  Hash32 prev_block_hash{};
  uint64_t log_size = 0;
  Hash32 log_root{};
  Hash32 state_root{};
  Hash32 validators_hash{};
  PublicKey proposer{};
  bool operator==(const Header&) const = default;

  Bytes Encode() const;
  Hash32 Hash() const;  // H(Encode())
};

// Strict decode: kind 16, version 1, valid chain id, height >= 1, no trailing bytes.
Result<Header> DecodeHeader(ByteView encoding);

enum class VoteType : uint8_t { kPrevote = 1, kPrecommit = 2 };

Bytes VoteMessage(std::string_view chain_id, VoteType type, uint64_t height, uint32_t round,
                  const Hash32& block_hash);

struct Validator {
  std::string name;
  PublicKey public_key{};
  bool operator==(const Validator&) const = default;
};

struct Genesis {
  std::string chain_id;
  uint64_t genesis_time_ms = 0;
  std::vector<Validator> validators;  // genesis order; 1..kMaxValidators, distinct keys

  // H(list<key>) over the validator keys in genesis order.
  Hash32 ValidatorsHash() const;
  // validators[(height + round) mod n]
  const PublicKey& Proposer(uint64_t height, uint32_t round) const;
  // floor(2n/3) + 1
  size_t QuorumSize() const;
  // The canonical JSON text (keys in the order of PROTOCOL.md).
  std::string ToJson() const;
};

// Parses genesis.json: exactly the fields chain_id, genesis_time_ms, validators[{name,
// public_key}]; rejects unknown or missing fields, bad hex, duplicate keys, zero validators,
// more than kMaxValidators, an invalid chain id, names over 128 bytes, and input over 1 MiB.
Result<Genesis> ParseGenesis(std::string_view json_text);

struct CommitSig {
  PublicKey validator{};
  Signature signature{};
  bool operator==(const CommitSig&) const = default;
};

struct Commit {
  uint32_t round = 0;
  std::vector<CommitSig> signatures;
  bool operator==(const Commit&) const = default;
};

// OK iff `commit` holds valid precommit signatures for (chain, height, round, block_hash) from at
// least QuorumSize() distinct validators of `genesis`. Signatures from non-validators, duplicate
// validators or more entries than validators are rejected, as is any invalid signature.
Status VerifyCommit(const Genesis& genesis, uint64_t height, const Hash32& block_hash,
                    const Commit& commit);

// Signs a precommit for the block (for single-validator nodes, tests and vectors).
CommitSig SignPrecommit(const SigningKey& key, std::string_view chain_id, uint64_t height,
                        uint32_t round, const Hash32& block_hash);

}  // namespace consent
