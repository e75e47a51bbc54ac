// The validator's double-sign guard on disk: the last (height, round, step, block_hash) it
// signed and its lock, written atomically and durably BEFORE the signature leaves the process,
// so that no restart can make it sign two different blocks at one height, round and step.
//
// File: <data_dir>/sign_state.json, e.g.
//   {"height": 12, "round": 0, "step": 3, "block_hash": "<64 hex>", "locked_round": 0,
//    "locked_hash": "<64 hex>"}       (locked_round -1 and a zero hash when not locked)
// Save writes a temporary file in the same directory, fsyncs it, renames it over the old one and
// fsyncs the directory. Load is strict: a file that exists but does not parse, has unknown or
// missing fields, or out-of-range values is a Corruption error: the node refuses to start rather
// than sign without its guard (the operator must investigate; deleting the file is only safe
// when this key has never signed at a height above the chain's current head).
// Thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "crypto/status.h"
#include "ledger/consensus.h"

namespace consent {

std::string SignStateToJson(const SignState& s);
Result<SignState> SignStateFromJson(std::string_view text);

// nullopt if the file does not exist.
Result<std::optional<SignState>> LoadSignState(const std::string& path);
Status SaveSignState(const std::string& path, const SignState& state);

// Replaces `path` with `bytes` atomically and durably: a temporary file in the same directory,
// fsynced, renamed over `path`, and the directory fsynced. After a crash the file holds either
// the old or the new bytes. Used for the sign state and the validator's locked proposal.
Status ReplaceFileDurably(const std::string& path, std::string_view bytes);

}  // namespace consent
