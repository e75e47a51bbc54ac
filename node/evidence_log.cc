// evidence.jsonl: append-only JSON lines, strict parsing and verification on load.
#include "node/evidence_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ledger/json_strict.h"
#include "net/api_json.h"

namespace consent {
namespace {

constexpr size_t kMaxLineBytes = 4096;

Result<SignedVote> VoteFromJson(const json::Json& v, const std::string& path) {
  RETURN_IF_ERROR(json::ExpectObject(
      v, path, {"type", "height", "round", "block_hash", "validator", "signature"}));
  SignedVote out;
  ASSIGN_OR_RETURN(std::string type, json::GetString(json::At(v, "type"), path + ".type"));
  if (type == "prevote") {
    out.type = VoteType::kPrevote;
  } else if (type == "precommit") {
    out.type = VoteType::kPrecommit;
  } else {
    return Status::Invalid(path + ".type: must be \"prevote\" or \"precommit\"");
  }
  ASSIGN_OR_RETURN(out.height, json::GetUint(json::At(v, "height"), path + ".height"));
  ASSIGN_OR_RETURN(uint64_t round,
                   json::GetUint(json::At(v, "round"), path + ".round", kNoRound - 1));
  out.round = static_cast<uint32_t>(round);
  ASSIGN_OR_RETURN(out.block_hash,
                   json::GetHexFixed<32>(json::At(v, "block_hash"), path + ".block_hash"));
  ASSIGN_OR_RETURN(out.validator,
                   json::GetHexFixed<32>(json::At(v, "validator"), path + ".validator"));
  ASSIGN_OR_RETURN(out.signature,
                   json::GetHexFixed<64>(json::At(v, "signature"), path + ".signature"));
  return out;
}

}  // namespace

std::string EvidenceToJsonLine(const Evidence& e) { return EvidenceJson(e).dump() + "\n"; }

Result<SignedProposalRef> ProposalFromJson(const json::Json& v, const std::string& path) {
  RETURN_IF_ERROR(json::ExpectObject(
      v, path, {"height", "round", "pol_round", "block_hash", "proposer", "signature"}));
  SignedProposalRef out;
  ASSIGN_OR_RETURN(out.height, json::GetUint(json::At(v, "height"), path + ".height"));
  ASSIGN_OR_RETURN(uint64_t round,
                   json::GetUint(json::At(v, "round"), path + ".round", kNoRound - 1));
  out.round = static_cast<uint32_t>(round);
  const json::Json& pol = json::At(v, "pol_round");
  if (!pol.is_null()) {
    ASSIGN_OR_RETURN(uint64_t pol_round, json::GetUint(pol, path + ".pol_round", kNoRound - 1));
    out.pol_round = static_cast<uint32_t>(pol_round);
  }
  ASSIGN_OR_RETURN(out.block_hash,
                   json::GetHexFixed<32>(json::At(v, "block_hash"), path + ".block_hash"));
  ASSIGN_OR_RETURN(out.proposer,
                   json::GetHexFixed<32>(json::At(v, "proposer"), path + ".proposer"));
  ASSIGN_OR_RETURN(out.signature,
                   json::GetHexFixed<64>(json::At(v, "signature"), path + ".signature"));
  return out;
}

Result<Evidence> EvidenceFromJsonLine(std::string_view line, const Genesis& genesis,
                                      const SetForHeightFn& validators_for) {
  ASSIGN_OR_RETURN(json::Json j, json::ParseStrict(line, kMaxLineBytes, "evidence"));
  if (!j.is_object() || !j.contains("kind")) return Status::Invalid("evidence: no kind");
  ASSIGN_OR_RETURN(std::string kind, json::GetString(json::At(j, "kind"), "kind"));
  Evidence e;
  if (kind == "duplicate_vote") {
    RETURN_IF_ERROR(json::ExpectObject(
        j, "evidence", {"kind", "validator", "height", "round", "vote_a", "vote_b"}));
    ASSIGN_OR_RETURN(e.a, VoteFromJson(json::At(j, "vote_a"), "vote_a"));
    ASSIGN_OR_RETURN(e.b, VoteFromJson(json::At(j, "vote_b"), "vote_b"));
  } else if (kind == "duplicate_proposal") {
    RETURN_IF_ERROR(json::ExpectObject(
        j, "evidence", {"kind", "validator", "height", "round", "proposal_a", "proposal_b"}));
    e.kind = EvidenceKind::kDuplicateProposal;
    ASSIGN_OR_RETURN(e.pa, ProposalFromJson(json::At(j, "proposal_a"), "proposal_a"));
    ASSIGN_OR_RETURN(e.pb, ProposalFromJson(json::At(j, "proposal_b"), "proposal_b"));
  } else {
    return Status::Invalid("kind: unknown \"" + kind + "\"");
  }
  RETURN_IF_ERROR(CheckEvidence(genesis.chain_id, validators_for(e.height()), e));
  return e;
}

Result<LoadedEvidence> LoadEvidence(const std::string& path, const Genesis& genesis,
                                    const SetForHeightFn& validators_for) {
  LoadedEvidence out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) return out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    out.file_bytes += line.size() + 1;
    if (line.empty()) continue;
    auto e = EvidenceFromJsonLine(line, genesis, validators_for);
    if (!e.ok()) {
      out.warnings.push_back(path + ":" + std::to_string(number) +
                             ": skipped: " + e.status().message());
      continue;
    }
    out.items.push_back(std::move(e).value());
  }
  if (in.bad()) return Status::IoError("cannot read " + path);
  return out;
}

Status AppendEvidence(const std::string& path, const Evidence& e) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 &&
      static_cast<uint64_t>(st.st_size) >= kMaxEvidenceFileBytes) {
    return Status::Unavailable(path + " holds " + std::to_string(st.st_size) +
                               " bytes (the cap): new evidence is kept in memory only");
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  const std::string text = EvidenceToJsonLine(e);
  size_t off = 0;
  Status result;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      result = Status::IoError("cannot write " + path + ": " + std::strerror(errno));
      break;
    }
    off += static_cast<size_t>(n);
  }
  if (result.ok() && ::fsync(fd) != 0) {
    result = Status::IoError("fsync " + path + ": " + std::strerror(errno));
  }
  ::close(fd);
  return result;
}

}  // namespace consent
