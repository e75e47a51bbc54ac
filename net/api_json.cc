// Implementation of the API's JSON shapes (net/api_json.h).
#include "net/api_json.h"

#include "crypto/hex.h"
#include "ledger/block_json.h"
#include "ledger/tx_json.h"

namespace consent {

json::OrderedJson CertifiedHeaderJson(const CertifiedHeader& h) {
  json::OrderedJson fields = json::OrderedJson::object();
  fields["chain_id"] = h.header.chain_id;
  fields["prev_block_hash"] = ToHex(h.header.prev_block_hash);
  fields["log_size"] = h.header.log_size;
  fields["log_root"] = ToHex(h.header.log_root);
  fields["state_root"] = ToHex(h.header.state_root);
  fields["validators_hash"] = ToHex(h.header.validators_hash);
  fields["next_validators_hash"] = ToHex(h.header.next_validators_hash);
  fields["proposer"] = ToHex(h.header.proposer);
  json::OrderedJson j = json::OrderedJson::object();
  j["header"] = HeaderToJson(h.header);
  j["fields"] = std::move(fields);
  j["commit"] = CommitToJson(h.commit);
  return j;
}

json::OrderedJson HashListJson(const std::vector<Hash32>& hashes) {
  json::OrderedJson a = json::OrderedJson::array();
  for (const Hash32& h : hashes) a.push_back(ToHex(h));
  return a;
}

json::OrderedJson TxInfoJson(const TxInfo& info) {
  json::OrderedJson j = json::OrderedJson::object();
  j["tx_id"] = ToHex(info.tx_id);
  j["height"] = info.location.height;
  j["position"] = info.location.position;
  j["log_index"] = info.location.log_index;
  j["tx"] = TxToJson(info.tx);
  j["encoding"] = ToHex(info.tx.Encode());
  j["inclusion"] = HashListJson(info.inclusion);
  return j;
}

json::OrderedJson SignedVoteJson(const SignedVote& v) {
  json::OrderedJson j = json::OrderedJson::object();
  j["type"] = v.type == VoteType::kPrevote ? "prevote" : "precommit";
  j["height"] = v.height;
  j["round"] = v.round;
  j["block_hash"] = ToHex(v.block_hash);
  j["validator"] = ToHex(v.validator);
  j["signature"] = ToHex(v.signature);
  return j;
}

json::OrderedJson SignedProposalRefJson(const SignedProposalRef& p) {
  json::OrderedJson j = json::OrderedJson::object();
  j["height"] = p.height;
  j["round"] = p.round;
  if (p.pol_round == kNoRound) {
    j["pol_round"] = nullptr;
  } else {
    j["pol_round"] = p.pol_round;
  }
  j["block_hash"] = ToHex(p.block_hash);
  j["proposer"] = ToHex(p.proposer);
  j["signature"] = ToHex(p.signature);
  return j;
}

json::OrderedJson EvidenceJson(const Evidence& e) {
  json::OrderedJson j = json::OrderedJson::object();
  if (e.kind == EvidenceKind::kDuplicateProposal) {
    j["kind"] = "duplicate_proposal";
    j["validator"] = ToHex(e.pa.proposer);
    j["height"] = e.pa.height;
    j["round"] = e.pa.round;
    j["proposal_a"] = SignedProposalRefJson(e.pa);
    j["proposal_b"] = SignedProposalRefJson(e.pb);
    return j;
  }
  j["kind"] = "duplicate_vote";
  j["validator"] = ToHex(e.a.validator);
  j["height"] = e.a.height;
  j["round"] = e.a.round;
  j["vote_a"] = SignedVoteJson(e.a);
  j["vote_b"] = SignedVoteJson(e.b);
  return j;
}

json::OrderedJson NodeStatusJson(const NodeStatus& s) {
  json::OrderedJson j = json::OrderedJson::object();
  j["chain_id"] = s.chain_id;
  j["height"] = s.height;
  j["head_hash"] = ToHex(s.head_hash);
  j["log_size"] = s.log_size;
  j["time_ms"] = s.time_ms;
  j["mempool_size"] = s.mempool_size;
  j["mempool_capacity"] = s.mempool_capacity;
  j["peers"] = s.peers;
  j["ready"] = s.ready;
  j["catching_up"] = s.catching_up;
  j["node_key"] = ToHex(s.node_key);
  j["validator"] = s.validator;
  json::OrderedJson c = json::OrderedJson::object();
  c["height"] = s.consensus_height;
  c["round"] = s.consensus_round;
  c["step"] = s.consensus_step;
  j["consensus"] = std::move(c);
  j["evidence"] = s.evidence;
  json::OrderedJson vals = json::OrderedJson::array();
  for (const Validator& v : s.validators) {
    json::OrderedJson e = json::OrderedJson::object();
    e["name"] = v.name;
    e["public_key"] = ToHex(v.public_key);
    vals.push_back(std::move(e));
  }
  j["validators"] = std::move(vals);
  return j;
}

std::optional<PublicKey> ControllerOf(const TxBody& body) {
  if (const auto* g = std::get_if<GrantTx>(&body)) return g->controller;
  if (const auto* r = std::get_if<RevokeTx>(&body)) return r->controller;
  if (const auto* c = std::get_if<RegisterControllerTx>(&body)) return c->controller;
  return std::nullopt;  // SET_VALIDATORS names no controller
}

json::OrderedJson StreamEventJson(const SignedTx& tx, const Hash32& tx_id, uint64_t height,
                                  uint64_t log_index) {
  json::OrderedJson j = json::OrderedJson::object();
  j["log_index"] = log_index;
  j["tx_id"] = ToHex(tx_id);
  j["height"] = height;
  j["kind"] = TxKindName(KindOf(tx.body));
  if (std::optional<PublicKey> controller = ControllerOf(tx.body)) {
    j["controller"] = ToHex(*controller);
  }
  if (const auto* g = std::get_if<GrantTx>(&tx.body)) {
    j["subject"] = ToHex(g->subject);
    j["purposes"] = g->purposes;
    j["issued_at_ms"] = g->issued_at_ms;
    j["expires_at_ms"] = g->expires_at_ms;
  } else if (const auto* r = std::get_if<RevokeTx>(&tx.body)) {
    j["subject"] = ToHex(r->subject);
    j["purposes"] = r->purposes;
    j["issued_at_ms"] = r->issued_at_ms;
  } else if (const auto* v = std::get_if<SetValidatorsTx>(&tx.body)) {
    j["validator"] = ToHex(v->validator);
    j["validators"] = HashListJson(v->validators);
    j["set_hash"] = ToHex(SetHashOf(v->validators));
    j["issued_at_ms"] = v->issued_at_ms;
  } else {
    j["issued_at_ms"] = IssuedAtOf(tx.body);
  }
  j["tx"] = TxToJson(tx);
  return j;
}

}  // namespace consent
