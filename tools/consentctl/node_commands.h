// consentctl commands that talk to a node's HTTP API (docs/api.md): status, submit, prove,
// history, audit, verify, validators, and the submission path of grant/revoke/register. Every
// answer a user relies on is checked, not taken on trust, by the light verifier
// (ledger/light_verifier.h; these files only fetch and print): history entries, and every
// "committed" when a genesis is pinned (trust.h), are inclusion-checked against a head whose
// commit is verified against the validators in office at its height, reached from the genesis
// through the node's validator set changes, and heads older than --max-age are refused. Exit codes
// follow consentctl's: 0 success, 1 a negative verdict or a refused request, 2 usage or input
// errors (including an unreachable node). Single-threaded.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/tx.h"
#include "tools/consentctl/http_client.h"
#include "tools/consentctl/trust.h"

namespace consent::ctl {

struct NodeArgs {
  std::string url;  // --node / CONSENT_NODE
  bool json = false;
  uint32_t timeout_ms = 35'000;  // --timeout-ms / CONSENT_TIMEOUT_MS: connect, send, answer
};

// Reads a whole file of at most `limit` bytes. A path that cannot be opened or read (missing,
// unreadable, a directory) is an IoError "cannot read PATH: REASON".
Result<std::string> ReadFileCapped(const std::string& path, size_t limit);

// Writes `text` to a new file at `path`: never overwrites (AlreadyExists "PATH already exists"),
// and a failure names its reason ("cannot write PATH: Permission denied"), leaving no file.
Status WriteNewFile(const std::string& path, const std::string& text);

// Replaces `path` with `text` atomically: a temporary file beside it (unique name), written,
// given `mode`, fsynced, renamed over `path`, and the folder fsynced. On failure `path` is as it
// was and no temporary file is left.
Status ReplaceFile(const std::string& path, const std::string& text, mode_t mode);

// The node's chain id (GET /v1/status).
Result<std::string> FetchChainId(const NodeArgs& node);
// Reads and parses a genesis file (<= 1 MiB).
Result<Genesis> LoadGenesisFile(const std::string& path);

// Whether the node serves the pinned chain: its latest header carries a commit of the set in
// office at its height, reached from the pinned genesis (before block 1: its chain id and
// validators are the genesis's). kRejected names the chain id and genesis hash expected and the
// chain id the node reports; kUnavailable when the node cannot be reached.
Status CheckNodeServes(const NodeArgs& node, const PinnedGenesis& pin);

int CmdStatus(const NodeArgs& node);
// POSTs the file's JSON (one tx or an array) as it is. With `pin`, the node must serve the pinned
// chain (else exit 2, before sending), and every result the node calls committed is checked (its
// inclusion proof against a head certified by the pinned validators) before it is printed as
// committed; one that does not verify is printed NOT VERIFIED, exit 1. Without a pin, a note on
// stderr says that "committed" is the node's word.
int CmdSubmitFile(const NodeArgs& node, const std::string& path, bool wait,
                  const PinnedGenesis* pin);
// Submits one signed tx; prints the outcome, checked as CmdSubmitFile's.
int SubmitTx(const NodeArgs& node, const SignedTx& tx, bool wait, const PinnedGenesis* pin);
int CmdProve(const NodeArgs& node, const std::string& subject_hex,
             const std::string& controller_hex, const std::string& purpose,
             std::optional<uint64_t> at_ms, const std::string& out);
// Every grant and revoke of the customer whose master secret is in key_path, at the brands listed
// beside the key file (tools/consentctl/brand_list.h) plus `extra_controllers` (with
// `scan_directory`: every brand of the directory, after a warning on stderr of what that tells
// the node; brands with entries are then recorded), each verified. `genesis_path` empty: the
// pinned genesis, else the validator set the node reports (and the output says so). The node's
// latest header is checked against the validators first, so that a node of another chain is
// refused even with no entries; a head (that one, or a history page's) older than `max_age_ms`
// (0: no bound) is refused, exit 1.
int CmdHistory(const NodeArgs& node, const std::string& key_path, const std::string& genesis_path,
               const std::vector<std::string>& extra_controllers, bool scan_directory,
               uint64_t max_age_ms);

// An auditor's check of the whole chain a node serves, trusting nothing but the genesis file
// (ledger/light_verifier.h, ChainWalk): every certified header from block 1 (or from the
// checkpoint's height) to the head follows the one before it (CheckCertifiedHeader: chain id,
// height, time, prev_block_hash, validators, proposer, a log that only grows) and carries a quorum
// of the set in office, which switches at each change block; the node's list of changes
// (/v1/validators/changes) must be exactly the change blocks walked; one RFC 9162 consistency
// proof per 1,000 headers shows the log append-only. With a checkpoint file (light::Checkpoint:
// chain id, height, block hash, the set in office), the run starts from the block it recorded
// (which the node must still hold, byte for byte) and, when valid, records the new head there
// (atomic replace), or in `write_path` when given. The output names the start ("verified from
// genesis HASH" / "verified from checkpoint at height N"). VALID exit 0; INVALID with the height
// and reason, exit 1; a node of another network ("NOT OF THIS GENESIS: this chain is not of
// GENESIS (chain id X, expected Y)"), a bad genesis or checkpoint file or an unreachable node,
// exit 2; a checkpoint that cannot be written, exit 2 after the VALID verdict is printed.
// A head older than `max_age_ms` (0: no bound) is STALE, exit 1, and the checkpoint is left as
// it was.
int CmdAudit(const NodeArgs& node, const std::string& genesis_path,
             const std::string& checkpoint_path, const std::string& write_path,
             uint64_t max_age_ms);

// consentctl verify (verify.cc): a consent proof checked offline by the light verifier from the
// genesis or, with `checkpoint_path`, from an audit checkpoint; prints the start used. VALID
// exit 0 (or 1 when `expect` is not met); INVALID or STALE exit 1; a proof of another network
// ("NOT OF THIS GENESIS: this proof is not of GENESIS ...") or a proof below the checkpoint,
// exit 2.
struct VerifyArgs {
  std::string proof_path;  // "-" = stdin
  std::string genesis;
  std::string checkpoint;
  std::optional<uint64_t> at_ms;
  std::string expect;
  uint64_t max_age_ms = 0;
};
int CmdVerify(const NodeArgs& node, const VerifyArgs& args);

// consentctl validators (validators.cc): the set in office (GET /v1/validators) with the height
// it took office, each key with its genesis name where known, the quorum, and the pending
// approvals with their counts against the quorum. Exit 0, or 1/2 as other node commands.
int CmdValidators(const NodeArgs& node, const std::string& genesis_path);

// consentctl validators approve: computes the new set from the one in office (--add, --remove,
// --replace OLD=NEW; sorted ascending; refused with exit 2: removing a non-member, adding a
// member, an empty result, the set in office itself, more than kMaxSetValidators keys), signs
// SET_VALIDATORS with the node key file, and submits it (--wait: until committed) or writes it
// to `out`. Prints the new set, its set_hash and the approvals it has and still needs.
struct ApproveArgs {
  std::string key_path;
  std::vector<std::string> add, remove, replace;
  std::string out;
  std::string genesis;
  bool wait = false;
  uint64_t issued_at_ms = 0;  // 0 = now
  uint64_t nonce = 0;         // 0 = random
};
int CmdApprove(const NodeArgs& node, const ApproveArgs& args);

// "2026-12-06 12:56:21Z" (UTC, to the second) for a time in ms since the Unix epoch.
std::string IsoTime(uint64_t ms);

}  // namespace consent::ctl
