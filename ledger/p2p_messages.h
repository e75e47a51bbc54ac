// The peer-to-peer wire messages: what nodes send each other in WebSocket binary frames, one
// message per frame, built with the codec of PROTOCOL.md section 1 (big-endian, length-prefixed,
// counted lists). Versioned and size-capped; decoding is strict (unknown type or version, any cap
// exceeded, trailing bytes: an error naming the field) so a peer's bytes never reach consensus
// unchecked. Pure; thread-safe. The byte layouts are in docs/protocol.md ("Peer protocol").
//
// frame := u8 version (=1) || u8 type || payload
//   1 hello      : str chain_id || hash genesis_hash || u32 protocol_version || key node_key
//                  || hash challenge || u64 height       (sent first, by both sides)
//   2 hello_ack  : sig over HandshakeMessage(chain_id, genesis_hash, signer, peer challenge)
//   3 status     : u64 height || hash head_hash
//   4 txs        : list<bytes tx>                (<= kMaxGossipTxs, each <= kMaxTxBytes)
//   5 proposal   : u64 height || u32 round || u32 pol_round || key proposer || sig
//                  || bytes header || list<bytes tx>
//   6 vote       : u8 vote_type || u64 height || u32 round || hash block_hash || key validator ||
//   sig 7 block_req  : u64 from_height || u32 count   (count 1..kMaxBlocksPerResponse) 8 block_resp
//   : list<block_with_commit>, block_with_commit := bytes header || list<bytes tx>
//                  || u32 commit_round || list<(key, sig)>
//   9 evidence   : vote || vote    (each as in type 6, without the frame prefix)
//  10 goodbye    : str reason      (sent before closing; reason <= 256 bytes)
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/block_pipeline.h"
#include "ledger/consensus.h"

namespace consent::p2p {

inline constexpr uint8_t kWireVersion = 1;
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kMaxFrameBytes = 16u << 20;  // a block of kMaxBlockTxs txs of max size
inline constexpr size_t kMaxGossipTxs = 1000;
inline constexpr size_t kMaxBlocksPerResponse = 50;
inline constexpr size_t kMaxGoodbyeBytes = 256;

// handshake_msg = tag("consent-ledger/p2p-handshake/v1") || str chain_id || hash genesis_hash
//   || key signer || hash challenge   (the challenge the OTHER side sent in its hello)
Bytes HandshakeMessage(std::string_view chain_id, const Hash32& genesis_hash,
                       const PublicKey& signer, const Hash32& challenge);

struct Hello {
  std::string chain_id;
  Hash32 genesis_hash{};
  uint32_t protocol_version = kProtocolVersion;
  PublicKey node_key{};
  Hash32 challenge{};
  uint64_t height = 0;
  bool operator==(const Hello&) const = default;
};
struct HelloAck {
  Signature signature{};
  bool operator==(const HelloAck&) const = default;
};
struct StatusMsg {
  uint64_t height = 0;
  Hash32 head_hash{};
  bool operator==(const StatusMsg&) const = default;
};
struct TxsMsg {
  std::vector<SignedTx> txs;
};
struct ProposalMsg {
  SignedProposal proposal;  // block_hash recomputed from the header on decode
};
struct VoteMsg {
  SignedVote vote;
  bool operator==(const VoteMsg&) const = default;
};
struct BlockRequest {
  uint64_t from_height = 0;
  uint32_t count = 0;
  bool operator==(const BlockRequest&) const = default;
};
struct BlockWithCommit {
  Block block;
  Commit commit;
};
struct BlockResponse {
  std::vector<BlockWithCommit> blocks;
};
struct EvidenceMsg {
  Evidence evidence;
};
struct Goodbye {
  std::string reason;
  bool operator==(const Goodbye&) const = default;
};

using Message = std::variant<Hello, HelloAck, StatusMsg, TxsMsg, ProposalMsg, VoteMsg, BlockRequest,
                             BlockResponse, EvidenceMsg, Goodbye>;

// The message's name ("hello", "vote", ...), for logs and metrics.
const char* MessageName(const Message& m);

Bytes Encode(const Message& m);
// Strict decode of one frame (see the file comment). Errors are kInvalidArgument naming the
// field, e.g. "vote: block_hash: need 32 bytes, 5 left".
Result<Message> Decode(ByteView frame);

}  // namespace consent::p2p
