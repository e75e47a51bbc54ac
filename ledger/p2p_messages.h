// The peer-to-peer wire messages: what nodes send each other in WebSocket binary frames, one
// message per frame, built with the codec of PROTOCOL.md section 1 (big-endian, length-prefixed,
// counted lists). Versioned and size-capped; decoding is strict (unknown type or version, any cap
// exceeded, trailing bytes: an error naming the field) so a peer's bytes never reach consensus
// unchecked. Pure; thread-safe. The byte layouts are in docs/protocol.md ("Peer protocol").
//
// frame := u8 version (=1) || u8 type || payload
//   1 hello      : str chain_id || hash genesis_hash || u32 protocol_version || key node_key
//                  || hash challenge || u64 height       (sent first, by both sides)
//   2 hello_ack  : sig over HandshakeMessage(transcript of both hellos, the signer's role)
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
//  11 proposal_evidence : proposal_ref || proposal_ref  (an EvidenceMsg of kind
//                  kDuplicateProposal), proposal_ref := u64 height || u32 round || u32 pol_round
//                  || hash block_hash || key proposer || sig   (what proposal_msg signs)
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
// 2: hello_ack signs the transcript of both hellos in role order (1 signed only the other side's
// challenge, so a third party could relay one node's answer to another). Nodes refuse any other.
inline constexpr uint32_t kProtocolVersion = 2;
inline constexpr size_t kMaxFrameBytes = 16u << 20;  // a block of kMaxBlockTxs txs of max size
inline constexpr size_t kMaxGossipTxs = 1000;
inline constexpr size_t kMaxBlocksPerResponse = 50;
inline constexpr size_t kMaxGoodbyeBytes = 256;

struct Hello {
  std::string chain_id;
  Hash32 genesis_hash{};
  uint32_t protocol_version = kProtocolVersion;
  PublicKey node_key{};
  Hash32 challenge{};
  uint64_t height = 0;
  bool operator==(const Hello&) const = default;
};
// Which end of a link a node is: the dialer opened the connection, the acceptor accepted it.
enum class LinkRole : uint8_t { kDialer = 1, kAcceptor = 2 };

// What the two ends of one link said in their hellos, in role order. Both ends build the same
// transcript; each signs it with its own role. A signature binds the link: a node that is the
// acceptor on two links (a relay or a byte-forwarder that dialled both nodes) signs itself as
// acceptor, which the other node, also an acceptor, never accepts as a dialer's proof.
struct HandshakeTranscript {
  std::string chain_id;
  Hash32 genesis_hash{};
  uint32_t protocol_version = kProtocolVersion;
  PublicKey dialer_key{};
  Hash32 dialer_challenge{};
  PublicKey acceptor_key{};
  Hash32 acceptor_challenge{};
};

// The transcript of a link from its two hellos. Chain id, genesis hash and protocol version are
// the acceptor's (REQUIRES: the caller checked that both hellos agree on them).
HandshakeTranscript TranscriptOf(const Hello& dialer, const Hello& acceptor);

// handshake_msg = tag("consent-ledger/p2p-handshake/v2") || str chain_id || hash genesis_hash
//   || u32 protocol_version || key dialer_key || hash dialer_challenge || key acceptor_key
//   || hash acceptor_challenge || u8 signer_role (1 = dialer, 2 = acceptor)
Bytes HandshakeMessage(const HandshakeTranscript& t, LinkRole signer);

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
  Evidence evidence;  // kind kDuplicateVote: type 9; kDuplicateProposal: type 11
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
