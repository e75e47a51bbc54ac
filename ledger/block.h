// Block headers, votes, commits and the genesis file (PROTOCOL.md sections 5 and 6).
// Pure and deterministic; thread-safe.
//
// Header grammar: u8 kind=16, u8 version=2, str chain_id, u64 height (>= 1), u64 time_ms,
//   hash prev_block_hash, u64 log_size, hash log_root, hash state_root, hash validators_hash,
//   hash next_validators_hash, key proposer.            block_hash = H(header encoding)
// (Version 1, the static-set header without next_validators_hash, is neither produced nor
// accepted.)
// vote_msg = tag("consent-ledger/vote/v1") || str chain_id || u8 type || u64 height || u32 round
//   || hash block_hash       (zero block_hash = nil vote)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"
#include "ledger/validator_set.h"

namespace consent {

inline constexpr uint8_t kHeaderKind = 16;
inline constexpr uint8_t kHeaderVersion = 2;

struct Header {
  std::string chain_id;
  uint64_t height = 0;
  uint64_t time_ms = 0;
  Hash32 prev_block_hash{};
  uint64_t log_size = 0;
  Hash32 log_root{};
  Hash32 state_root{};
  Hash32 validators_hash{};       // the set that commits this block
  Hash32 next_validators_hash{};  // the set that commits the next block (section 10)
  PublicKey proposer{};

  // Whether this block decides a validator set change (PROTOCOL.md section 10).
  bool IsChangeBlock() const { return next_validators_hash != validators_hash; }
  bool operator==(const Header&) const = default;

  Bytes Encode() const;
  Hash32 Hash() const;  // H(Encode())
};

// Strict decode: kind 16, version 2, valid chain id, height >= 1, no trailing bytes.
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

  // The genesis set: the keys in genesis order. It commits heights from 1 until the first change.
  ValidatorSet Set() const;
  // H(list<key>) over the validator keys in genesis order (= Set().Hash()).
  Hash32 ValidatorsHash() const;
  // The genesis set's proposer of (height, round) and quorum: right only for heights before the
  // first change (callers that follow changes use the ValidatorSet of the height).
  const PublicKey& Proposer(uint64_t height, uint32_t round) const {
    const uint64_t n = validators.size();
    return validators[(height % n + round % n) % n].public_key;
  }
  size_t QuorumSize() const { return 2 * validators.size() / 3 + 1; }
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
// least QuorumSize() distinct validators of `validators`, the set that commits `height`.
// Signatures from non-members, duplicate validators or more entries than validators are
// rejected, as is any invalid signature.
Status VerifyCommit(std::string_view chain_id, const ValidatorSet& validators, uint64_t height,
                    const Hash32& block_hash, const Commit& commit);

// Signs a precommit for the block (for single-validator nodes, tests and vectors).
CommitSig SignPrecommit(const SigningKey& key, std::string_view chain_id, uint64_t height,
                        uint32_t round, const Hash32& block_hash);

}  // namespace consent
