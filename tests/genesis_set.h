// Test-only conveniences: the ledger's verification functions for a chain whose validator set
// never changed (the genesis set commits every height). Production code passes the set of the
// height (ChainStore::ValidatorsFor, FollowChanges); tests of static chains use these.
#pragma once
#include "ledger/block.h"
#include "ledger/block_pipeline.h"
#include "ledger/consensus.h"

namespace consent {

inline Status VerifyCommit(const Genesis& g, uint64_t height, const Hash32& block_hash,
                           const Commit& commit) {
  return VerifyCommit(g.chain_id, g.Set(), height, block_hash, commit);
}
inline Status VerifyVote(const Genesis& g, const SignedVote& v) {
  return VerifyVote(g.chain_id, g.Set(), v);
}
inline Status VerifyProposal(const Genesis& g, const SignedProposal& p) {
  return VerifyProposal(g.chain_id, g.Set(), p);
}
inline Status CheckEvidence(const Genesis& g, const Evidence& e) {
  return CheckEvidence(g.chain_id, g.Set(), e);
}
inline Status CheckCertifiedHeader(const Genesis& g, const ChainTip& tip, const Header& header,
                                   const Commit& commit, BlockCheck* check) {
  return CheckCertifiedHeader(g, g.Set(), tip, header, commit, check);
}

}  // namespace consent
