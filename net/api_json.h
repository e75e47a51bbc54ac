// The JSON shapes of the API's answers (docs/api.md) built from the ledger's query results:
// certified headers, committed transactions with their proofs, blocks, directory and consent
// pages, node status, and the events of the WebSocket stream. Headers and commits use exactly the
// section 9 shapes of ledger/block_json.h, so a client parses them with the same code it uses
// for consent proofs. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <vector>

#include "ledger/json_strict.h"
#include "ledger/queries.h"
#include "net/api_backend.h"

namespace consent {

// {"header": {height, time_ms, encoding, block_hash}, "fields": {chain_id, prev_block_hash,
//  log_size, log_root, state_root, validators_hash, next_validators_hash, proposer}, "commit":
//  {round, signatures}}
json::OrderedJson CertifiedHeaderJson(const CertifiedHeader& h);

json::OrderedJson HashListJson(const std::vector<Hash32>& hashes);

// {"tx_id", "height", "position", "log_index", "tx": <field form>, "encoding", "inclusion"}
// (the head the inclusion proof is against is given once, beside).
json::OrderedJson TxInfoJson(const TxInfo& info);

json::OrderedJson NodeStatusJson(const NodeStatus& s);
// {"type", "height", "round", "block_hash", "validator", "signature"} (hex; nil = zero hash)
json::OrderedJson SignedVoteJson(const SignedVote& v);
// {"kind": "duplicate_vote", "validator", "height", "round", "vote_a", "vote_b"}
json::OrderedJson SignedProposalRefJson(const SignedProposalRef& p);
// {"kind": "duplicate_vote", "validator", "height", "round", "vote_a", "vote_b"} or
// {"kind": "duplicate_proposal", "validator", "height", "round", "proposal_a", "proposal_b"}
// (a proposal: height, round, pol_round (null: none), block_hash, proposer, signature).
json::OrderedJson EvidenceJson(const Evidence& e);

// One committed change as the stream pushes it: {"log_index", "tx_id", "height", "kind",
// "controller" (not for set_validators), "subject" (grant, revoke), "purposes" (grant, revoke),
// "validator", "validators", "set_hash" (set_validators), "issued_at_ms", "expires_at_ms"
// (grant), "tx": <field form>}.
json::OrderedJson StreamEventJson(const SignedTx& tx, const Hash32& tx_id, uint64_t height,
                                  uint64_t log_index);

// The controller a transaction names (the stream filters on it); none for SET_VALIDATORS, which
// a controller filter therefore never matches.
std::optional<PublicKey> ControllerOf(const TxBody& body);

}  // namespace consent
