// gen_vectors' PROTOCOL.md section 10 vectors (tools/gen_vectors_sets.cc): SET_VALIDATORS
// transactions, approvals, and a chain that decides two validator set changes, with a consent
// proof across them. Deterministic; single-threaded.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "crypto/ed25519.h"

namespace consent::vectors {

// The "set_changes" object of protocol.json, on chain `chain_id` with genesis time `t0`; keys from
// seed_for("validator 0".."validator 4"), seed_for("brand") and the subject of
// seed_for("customer master secret") for that brand.
nlohmann::ordered_json SetChangeVectors(const std::string& chain_id, uint64_t t0,
                                        const std::function<Seed32(const std::string&)>& seed_for);

}  // namespace consent::vectors
