// The peer wire messages (ledger/p2p_messages.h): encoding with the shared codec and a strict
// decoder. Every length and count is capped before anything is allocated, every nested structure
// (a transaction, a header) goes through its own strict decoder, and every error names the
// message and the field ("vote: block_hash: truncated (...)"). Pure; thread-safe.
#include "ledger/p2p_messages.h"

#include <string>
#include <utility>

#include "ledger/codec.h"
#include "ledger/tx.h"

namespace consent::p2p {
namespace {

constexpr std::string_view kHandshakeTag = "consent-ledger/p2p-handshake/v2";
// A header is ~250 bytes (a 64-byte chain id at most); anything larger is not a header.
constexpr size_t kMaxHeaderBytes = 1024;
// Smallest encodings, for the count-vs-bytes-left check in Reader::Count.
constexpr size_t kMinBytesItem = 4;                    // bytes := u32 len || ...
constexpr size_t kMinCommitSig = 32 + 64;              // key || sig
constexpr size_t kMinBlockWithCommit = 4 + 4 + 4 + 4;  // header, txs, round, sigs

enum Type : uint8_t {
  kHello = 1,
  kHelloAck = 2,
  kStatus = 3,
  kTxs = 4,
  kProposal = 5,
  kVote = 6,
  kBlockReq = 7,
  kBlockResp = 8,
  kEvidence = 9,
  kGoodbye = 10,
  kProposalEvidence = 11,
};

std::string Indexed(std::string_view field, size_t i) {
  return std::string(field) + "[" + std::to_string(i) + "]";
}

// ---- encoders -------------------------------------------------------------------------------

void WriteTxList(Writer& w, const std::vector<SignedTx>& txs) {
  w.U32(static_cast<uint32_t>(txs.size()));
  for (const SignedTx& tx : txs) w.Bytes(tx.Encode());
}

void WriteVote(Writer& w, const SignedVote& v) {
  w.U8(static_cast<uint8_t>(v.type))
      .U64(v.height)
      .U32(v.round)
      .Fixed(v.block_hash)
      .Fixed(v.validator)
      .Fixed(v.signature);
}

void WriteProposalRef(Writer& w, const SignedProposalRef& p) {
  w.U64(p.height)
      .U32(p.round)
      .U32(p.pol_round)
      .Fixed(p.block_hash)
      .Fixed(p.proposer)
      .Fixed(p.signature);
}

struct EncodeVisitor {
  Writer& w;
  void operator()(const Hello& m) {
    w.U8(kHello)
        .Str(m.chain_id)
        .Fixed(m.genesis_hash)
        .U32(m.protocol_version)
        .Fixed(m.node_key)
        .Fixed(m.challenge)
        .U64(m.height);
  }
  void operator()(const HelloAck& m) { w.U8(kHelloAck).Fixed(m.signature); }
  void operator()(const StatusMsg& m) { w.U8(kStatus).U64(m.height).Fixed(m.head_hash); }
  void operator()(const TxsMsg& m) {
    w.U8(kTxs);
    WriteTxList(w, m.txs);
  }
  void operator()(const ProposalMsg& m) {
    const SignedProposal& p = m.proposal;
    w.U8(kProposal)
        .U64(p.height)
        .U32(p.round)
        .U32(p.pol_round)
        .Fixed(p.proposer)
        .Fixed(p.signature)
        .Bytes(p.block.header.Encode());
    WriteTxList(w, p.block.txs);
  }
  void operator()(const VoteMsg& m) {
    w.U8(kVote);
    WriteVote(w, m.vote);
  }
  void operator()(const BlockRequest& m) { w.U8(kBlockReq).U64(m.from_height).U32(m.count); }
  void operator()(const BlockResponse& m) {
    w.U8(kBlockResp).U32(static_cast<uint32_t>(m.blocks.size()));
    for (const BlockWithCommit& b : m.blocks) {
      w.Bytes(b.block.header.Encode());
      WriteTxList(w, b.block.txs);
      w.U32(b.commit.round).U32(static_cast<uint32_t>(b.commit.signatures.size()));
      for (const CommitSig& s : b.commit.signatures) w.Fixed(s.validator).Fixed(s.signature);
    }
  }
  void operator()(const EvidenceMsg& m) {
    if (m.evidence.kind == EvidenceKind::kDuplicateProposal) {
      w.U8(kProposalEvidence);
      WriteProposalRef(w, m.evidence.pa);
      WriteProposalRef(w, m.evidence.pb);
      return;
    }
    w.U8(kEvidence);
    WriteVote(w, m.evidence.a);
    WriteVote(w, m.evidence.b);
  }
  void operator()(const Goodbye& m) { w.U8(kGoodbye).Str(m.reason); }
};

// ---- decoders -------------------------------------------------------------------------------
// Each reads one payload from `r`; field names are prefixed with `f` (e.g. "proposal: ").

Status ReadTxList(Reader& r, size_t max_count, const std::string& f, std::vector<SignedTx>* out) {
  uint32_t n = 0;
  RETURN_IF_ERROR(r.Count(&n, max_count, kMinBytesItem, f));
  out->clear();
  out->reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string field = Indexed(f, i);
    Bytes enc;
    RETURN_IF_ERROR(r.Bytes(&enc, kMaxTxBytes, field));
    auto tx = DecodeSignedTx(enc);
    if (!tx.ok()) return tx.status().Prefixed(field);
    out->push_back(std::move(tx).value());
  }
  return Status::Ok();
}

Status ReadHeader(Reader& r, const std::string& f, Header* out) {
  Bytes enc;
  RETURN_IF_ERROR(r.Bytes(&enc, kMaxHeaderBytes, f));
  auto h = DecodeHeader(enc);
  if (!h.ok()) return h.status().Prefixed(f);
  *out = std::move(h).value();
  return Status::Ok();
}

Status ReadVote(Reader& r, const std::string& f, SignedVote* v) {
  uint8_t type = 0;
  RETURN_IF_ERROR(r.U8(&type, f + "vote_type"));
  if (type != static_cast<uint8_t>(VoteType::kPrevote) &&
      type != static_cast<uint8_t>(VoteType::kPrecommit)) {
    return Status::Invalid(f + "vote_type: " + std::to_string(type) +
                           " is not 1 (prevote) or 2 (precommit)");
  }
  v->type = static_cast<VoteType>(type);
  RETURN_IF_ERROR(r.U64(&v->height, f + "height"));
  RETURN_IF_ERROR(r.U32(&v->round, f + "round"));
  RETURN_IF_ERROR(r.Fixed(&v->block_hash, f + "block_hash"));
  RETURN_IF_ERROR(r.Fixed(&v->validator, f + "validator"));
  RETURN_IF_ERROR(r.Fixed(&v->signature, f + "signature"));
  return Status::Ok();
}

Result<Message> ReadHello(Reader& r) {
  Hello m;
  RETURN_IF_ERROR(r.Str(&m.chain_id, kMaxChainIdBytes, "hello: chain_id"));
  RETURN_IF_ERROR(CheckChainId(m.chain_id).Prefixed("hello"));
  RETURN_IF_ERROR(r.Fixed(&m.genesis_hash, "hello: genesis_hash"));
  RETURN_IF_ERROR(r.U32(&m.protocol_version, "hello: protocol_version"));
  RETURN_IF_ERROR(r.Fixed(&m.node_key, "hello: node_key"));
  RETURN_IF_ERROR(r.Fixed(&m.challenge, "hello: challenge"));
  RETURN_IF_ERROR(r.U64(&m.height, "hello: height"));
  RETURN_IF_ERROR(r.ExpectEnd("hello"));
  return Message(std::move(m));
}

Result<Message> ReadHelloAck(Reader& r) {
  HelloAck m;
  RETURN_IF_ERROR(r.Fixed(&m.signature, "hello_ack: signature"));
  RETURN_IF_ERROR(r.ExpectEnd("hello_ack"));
  return Message(m);
}

Result<Message> ReadStatus(Reader& r) {
  StatusMsg m;
  RETURN_IF_ERROR(r.U64(&m.height, "status: height"));
  RETURN_IF_ERROR(r.Fixed(&m.head_hash, "status: head_hash"));
  RETURN_IF_ERROR(r.ExpectEnd("status"));
  return Message(m);
}

Result<Message> ReadTxs(Reader& r) {
  TxsMsg m;
  RETURN_IF_ERROR(ReadTxList(r, kMaxGossipTxs, "txs: txs", &m.txs));
  RETURN_IF_ERROR(r.ExpectEnd("txs"));
  return Message(std::move(m));
}

Result<Message> ReadProposal(Reader& r) {
  ProposalMsg m;
  SignedProposal& p = m.proposal;
  RETURN_IF_ERROR(r.U64(&p.height, "proposal: height"));
  RETURN_IF_ERROR(r.U32(&p.round, "proposal: round"));
  RETURN_IF_ERROR(r.U32(&p.pol_round, "proposal: pol_round"));
  RETURN_IF_ERROR(r.Fixed(&p.proposer, "proposal: proposer"));
  RETURN_IF_ERROR(r.Fixed(&p.signature, "proposal: signature"));
  RETURN_IF_ERROR(ReadHeader(r, "proposal: header", &p.block.header));
  RETURN_IF_ERROR(ReadTxList(r, kMaxBlockTxs, "proposal: txs", &p.block.txs));
  RETURN_IF_ERROR(r.ExpectEnd("proposal"));
  p.block_hash = p.block.header.Hash();
  return Message(std::move(m));
}

Result<Message> ReadVoteMsg(Reader& r) {
  VoteMsg m;
  RETURN_IF_ERROR(ReadVote(r, "vote: ", &m.vote));
  RETURN_IF_ERROR(r.ExpectEnd("vote"));
  return Message(m);
}

Result<Message> ReadBlockRequest(Reader& r) {
  BlockRequest m;
  RETURN_IF_ERROR(r.U64(&m.from_height, "block_req: from_height"));
  RETURN_IF_ERROR(r.U32(&m.count, "block_req: count"));
  if (m.count == 0 || m.count > kMaxBlocksPerResponse) {
    return Status::Invalid("block_req: count: " + std::to_string(m.count) + " is not in 1.." +
                           std::to_string(kMaxBlocksPerResponse));
  }
  RETURN_IF_ERROR(r.ExpectEnd("block_req"));
  return Message(m);
}

Result<Message> ReadBlockResponse(Reader& r) {
  BlockResponse m;
  uint32_t n = 0;
  RETURN_IF_ERROR(r.Count(&n, kMaxBlocksPerResponse, kMinBlockWithCommit, "block_resp: blocks"));
  m.blocks.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string f = "block_resp: " + Indexed("blocks", i);
    BlockWithCommit b;
    RETURN_IF_ERROR(ReadHeader(r, f + ".header", &b.block.header));
    RETURN_IF_ERROR(ReadTxList(r, kMaxBlockTxs, f + ".txs", &b.block.txs));
    RETURN_IF_ERROR(r.U32(&b.commit.round, f + ".commit_round"));
    uint32_t sigs = 0;
    RETURN_IF_ERROR(r.Count(&sigs, kMaxValidators, kMinCommitSig, f + ".signatures"));
    b.commit.signatures.resize(sigs);
    for (uint32_t k = 0; k < sigs; ++k) {
      std::string sf = f + "." + Indexed("signatures", k);
      RETURN_IF_ERROR(r.Fixed(&b.commit.signatures[k].validator, sf + ".validator"));
      RETURN_IF_ERROR(r.Fixed(&b.commit.signatures[k].signature, sf + ".signature"));
    }
    m.blocks.push_back(std::move(b));
  }
  RETURN_IF_ERROR(r.ExpectEnd("block_resp"));
  return Message(std::move(m));
}

Result<Message> ReadEvidence(Reader& r) {
  EvidenceMsg m;
  RETURN_IF_ERROR(ReadVote(r, "evidence: a.", &m.evidence.a));
  RETURN_IF_ERROR(ReadVote(r, "evidence: b.", &m.evidence.b));
  RETURN_IF_ERROR(r.ExpectEnd("evidence"));
  return Message(std::move(m));
}

Status ReadProposalRef(Reader& r, const std::string& f, SignedProposalRef* p) {
  RETURN_IF_ERROR(r.U64(&p->height, f + "height"));
  RETURN_IF_ERROR(r.U32(&p->round, f + "round"));
  RETURN_IF_ERROR(r.U32(&p->pol_round, f + "pol_round"));
  RETURN_IF_ERROR(r.Fixed(&p->block_hash, f + "block_hash"));
  RETURN_IF_ERROR(r.Fixed(&p->proposer, f + "proposer"));
  RETURN_IF_ERROR(r.Fixed(&p->signature, f + "signature"));
  return Status::Ok();
}

Result<Message> ReadProposalEvidence(Reader& r) {
  EvidenceMsg m;
  m.evidence.kind = EvidenceKind::kDuplicateProposal;
  RETURN_IF_ERROR(ReadProposalRef(r, "proposal_evidence: a.", &m.evidence.pa));
  RETURN_IF_ERROR(ReadProposalRef(r, "proposal_evidence: b.", &m.evidence.pb));
  RETURN_IF_ERROR(r.ExpectEnd("proposal_evidence"));
  return Message(std::move(m));
}

Result<Message> ReadGoodbye(Reader& r) {
  Goodbye m;
  RETURN_IF_ERROR(r.Str(&m.reason, kMaxGoodbyeBytes, "goodbye: reason"));
  RETURN_IF_ERROR(r.ExpectEnd("goodbye"));
  return Message(std::move(m));
}

}  // namespace

HandshakeTranscript TranscriptOf(const Hello& dialer, const Hello& acceptor) {
  HandshakeTranscript t;
  t.chain_id = acceptor.chain_id;
  t.genesis_hash = acceptor.genesis_hash;
  t.protocol_version = acceptor.protocol_version;
  t.dialer_key = dialer.node_key;
  t.dialer_challenge = dialer.challenge;
  t.acceptor_key = acceptor.node_key;
  t.acceptor_challenge = acceptor.challenge;
  return t;
}

Bytes HandshakeMessage(const HandshakeTranscript& t, LinkRole signer) {
  Writer w(kHandshakeTag.size() + 4 + t.chain_id.size() + 32 + 4 + 4 * 32 + 1);
  w.Tag(kHandshakeTag)
      .Str(t.chain_id)
      .Fixed(t.genesis_hash)
      .U32(t.protocol_version)
      .Fixed(t.dialer_key)
      .Fixed(t.dialer_challenge)
      .Fixed(t.acceptor_key)
      .Fixed(t.acceptor_challenge)
      .U8(static_cast<uint8_t>(signer));
  return std::move(w).Take();
}

const char* MessageName(const Message& m) {
  static constexpr const char* kNames[] = {"hello",    "hello_ack", "status",    "txs",
                                           "proposal", "vote",      "block_req", "block_resp",
                                           "evidence", "goodbye"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>);
  if (const auto* e = std::get_if<EvidenceMsg>(&m);
      e != nullptr && e->evidence.kind == EvidenceKind::kDuplicateProposal) {
    return "proposal_evidence";
  }
  return kNames[m.index()];
}

Bytes Encode(const Message& m) {
  Writer w;
  w.U8(kWireVersion);
  std::visit(EncodeVisitor{w}, m);
  return std::move(w).Take();
}

Result<Message> Decode(ByteView frame) {
  if (frame.size() > kMaxFrameBytes) {
    return Status::Invalid("frame: " + std::to_string(frame.size()) +
                           " bytes exceed the limit of " + std::to_string(kMaxFrameBytes));
  }
  Reader r(frame);
  uint8_t version = 0, type = 0;
  RETURN_IF_ERROR(r.U8(&version, "frame: version"));
  if (version != kWireVersion) {
    return Status::Invalid("frame: version: unsupported version " + std::to_string(version) +
                           " (expected " + std::to_string(kWireVersion) + ")");
  }
  RETURN_IF_ERROR(r.U8(&type, "frame: type"));
  switch (type) {
    case kHello:
      return ReadHello(r);
    case kHelloAck:
      return ReadHelloAck(r);
    case kStatus:
      return ReadStatus(r);
    case kTxs:
      return ReadTxs(r);
    case kProposal:
      return ReadProposal(r);
    case kVote:
      return ReadVoteMsg(r);
    case kBlockReq:
      return ReadBlockRequest(r);
    case kBlockResp:
      return ReadBlockResponse(r);
    case kEvidence:
      return ReadEvidence(r);
    case kGoodbye:
      return ReadGoodbye(r);
    case kProposalEvidence:
      return ReadProposalEvidence(r);
    default:
      return Status::Invalid("frame: type: unknown message type " + std::to_string(type));
  }
}

}  // namespace consent::p2p
