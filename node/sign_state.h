// The validator's double-sign guard on disk: the last (height, round, step, block_hash) it
// signed and its lock, written atomically and durably BEFORE the signature leaves the process,
// so that no restart can make it sign two different blocks at one height, round and step.
//
// File: <home>/sign_state.json, beside node.key and outside data/, so that restoring data/ from a
// backup (or wiping it to resync) cannot roll the guard back; e.g.
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

// Moves a guard left at `legacy_path` (data/sign_state.json, where homes made before it moved
// kept it) to `path`. When both exist, the one that signed later (height, round, step) is kept
// at `path`; the legacy file is then removed. Returns a line for the log when anything moved,
// an empty string when there was nothing to move, and an error (changing nothing) when either
// file does not parse or cannot be written.
Result<std::string> MigrateSignState(const std::string& legacy_path, const std::string& path);

// Replaces `path` with `bytes` atomically and durably: a temporary file in the same directory,
// fsynced, renamed over `path`, and the directory fsynced. After a crash the file holds either
// the old or the new bytes. Used for the sign state and the validator's locked proposal.
Status ReplaceFileDurably(const std::string& path, std::string_view bytes);

}  // namespace consent
