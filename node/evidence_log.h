// Equivocation evidence on disk: <data_dir>/evidence.jsonl, one JSON object per line (the
// GET /v1/evidence item: {"kind", "validator", "height", "round", "vote_a", "vote_b"}), appended
// and fsynced when the node first records an item, read back at start so that evidence outlives
// restarts. The file is only ever appended to. A line that does not parse, or whose votes do not
// verify against the genesis or do not conflict, is skipped with a warning and left in place
// (nothing is rewritten, so nothing is lost). Appending stops (with a warning) once the file
// reaches kMaxEvidenceFileBytes; the node then keeps new items in memory only.
// Thread-compatible.
#pragma once
#include <functional>

#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/consensus.h"

namespace consent {

inline constexpr size_t kMaxEvidenceFileBytes = 16u << 20;

std::string EvidenceToJsonLine(const Evidence& e);
// Parses one line and checks it: both votes verify against `genesis`, same validator, height,
// round and type, different block hashes.
// `validators_for(height)`: the validator set that commits `height` (the store's).
using SetForHeightFn = std::function<ValidatorSet(uint64_t height)>;
Result<Evidence> EvidenceFromJsonLine(std::string_view line, const Genesis& genesis,
                                      const SetForHeightFn& validators_for);

struct LoadedEvidence {
  std::vector<Evidence> items;        // in file order
  std::vector<std::string> warnings;  // one per skipped line, naming the line number
  uint64_t file_bytes = 0;
};
// A missing file is no evidence. A file that cannot be read is kIoError.
Result<LoadedEvidence> LoadEvidence(const std::string& path, const Genesis& genesis,
                                    const SetForHeightFn& validators_for);
// Appends one line and fsyncs. kResourceExhausted-like kUnavailable when the file is full.
Status AppendEvidence(const std::string& path, const Evidence& e);

}  // namespace consent
