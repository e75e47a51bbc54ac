// Query implementations over KvRead using the schema of ledger/schema.h.
#include "ledger/queries.h"

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/codec.h"
#include "ledger/log_tree.h"
#include "ledger/state.h"
#include "ledger/state_tree.h"

namespace consent {
namespace {

Result<Bytes> MustGet(const KvRead& kv, Column c, ByteView key, const std::string& what) {
  ASSIGN_OR_RETURN(std::optional<Bytes> v, kv.Get(c, key));
  if (!v) return Status::Corruption("store has no " + what);
  return std::move(*v);
}

Result<TxInfo> TxAt(const KvRead& kv, const Hash32& tx_id, const CertifiedHeader& head) {
  ASSIGN_OR_RETURN(std::optional<Bytes> rec_bytes, kv.Get(Column::kTxIndex, tx_id));
  if (!rec_bytes) return Status::NotFound("no committed transaction " + ToHex(tx_id));
  TxInfo info;
  ASSIGN_OR_RETURN(schema::TxRecord rec, schema::DecodeTxRecord(*rec_bytes));
  info.location = rec.location;
  const Bytes& enc = rec.encoding;
  if (TxIdOf(enc) != tx_id) {
    return Status::Corruption("tx index for " + ToHex(tx_id) + " holds another transaction");
  }
  auto tx = DecodeSignedTx(enc);
  if (!tx.ok())
    return Status::Corruption("stored transaction is corrupt: " + tx.status().message());
  info.tx = std::move(tx).value();
  info.tx_id = tx_id;
  LogTree log(kv, head.header.log_size);
  if (info.location.log_index >= head.header.log_size) {
    return Status::Corruption("tx index log position is past the head's log size");
  }
  ASSIGN_OR_RETURN(info.inclusion,
                   log.InclusionProof(info.location.log_index, head.header.log_size));
  info.head = head;
  return info;
}

// Cursor = hex of the key suffix after a fixed prefix; the scan resumes strictly after it.
Result<Bytes> CursorStart(const Bytes& prefix, std::string_view cursor) {
  Bytes start = prefix;
  if (cursor.empty()) return start;
  auto c = FromHex(cursor);
  if (!c.ok()) return c.status().Prefixed("cursor");
  if (c->empty() || c->size() > 256) return Status::Invalid("cursor: not a cursor this API gave");
  Append(start, *c);
  start.push_back(0x00);  // strictly after the cursor's key
  return start;
}

Status CheckLimit(size_t limit) {
  if (limit == 0 || limit > kMaxPageSize) {
    return Status::Invalid("limit must be 1.." + std::to_string(kMaxPageSize));
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<uint64_t>> HeadHeight(const KvRead& kv) {
  ASSIGN_OR_RETURN(std::optional<Bytes> v, kv.Get(Column::kMeta, AsBytes(schema::kMetaHead)));
  if (!v) return std::optional<uint64_t>();
  ASSIGN_OR_RETURN(uint64_t h, schema::DecodeU64(*v, "head"));
  return std::optional<uint64_t>(h);
}

Result<CertifiedHeader> GetCertifiedHeader(const KvRead& kv, uint64_t height) {
  Bytes key = schema::U64Key(height);
  ASSIGN_OR_RETURN(std::optional<Bytes> hb, kv.Get(Column::kHeaders, key));
  if (!hb) return Status::NotFound("no block at height " + std::to_string(height));
  CertifiedHeader c;
  auto h = DecodeHeader(*hb);
  if (!h.ok()) {
    return Status::Corruption("stored header " + std::to_string(height) +
                              " is corrupt: " + h.status().message());
  }
  c.header = std::move(h).value();
  if (c.header.height != height) {
    return Status::Corruption("stored header at height " + std::to_string(height) + " says " +
                              std::to_string(c.header.height));
  }
  c.block_hash = c.header.Hash();
  ASSIGN_OR_RETURN(
      Bytes cb, MustGet(kv, Column::kCommits, key, "commit for height " + std::to_string(height)));
  ASSIGN_OR_RETURN(c.commit, schema::DecodeCommit(cb));
  return c;
}

Result<CertifiedHeader> GetHead(const KvRead& kv) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> h, HeadHeight(kv));
  if (!h) return Status::NotFound("the ledger has no block yet");
  return GetCertifiedHeader(kv, *h);
}

Result<ConsentProof> ProveConsent(const KvRead& kv, const Genesis& genesis,
                                  const PublicKey& subject, const PublicKey& controller,
                                  std::string_view purpose, std::optional<uint64_t> at_ms,
                                  uint64_t now_ms) {
  ASSIGN_OR_RETURN(CertifiedHeader head, GetHead(kv));
  if (at_ms && *at_ms < head.header.time_ms) {
    return Status::Invalid("at_ms " + std::to_string(*at_ms) + " is before the head's time_ms " +
                           std::to_string(head.header.time_ms) +
                           ": a proof shows the state at the head, which may not have held "
                           "earlier; ask for a time at or after it");
  }
  const uint64_t at = at_ms.value_or(std::max(now_ms, head.header.time_ms));
  Hash32 key = StateKey(subject, controller, purpose);
  ConsentProof p;
  p.version = 1;
  p.chain_id = genesis.chain_id;
  p.subject = subject;
  p.controller = controller;
  p.purpose = std::string(purpose);
  p.header = head.header;
  p.commit = head.commit;
  ASSIGN_OR_RETURN(p.validator_changes, GetValidatorChanges(kv, head.header.height));
  StateTree tree(kv);
  ASSIGN_OR_RETURN(p.state, tree.Prove(key));
  Bytes record_key = schema::ConsentKey(controller, subject, purpose);
  ASSIGN_OR_RETURN(std::optional<Bytes> record, kv.Get(Column::kConsents, record_key));
  // The consents record carries nothing of its key, so check it against the state tree's leaf
  // (already read for the proof): a record copied under another key, or one that is missing or
  // extra, would otherwise give a proof that fails to verify.
  const bool in_tree = p.state.leaf && p.state.leaf->key == key;
  if (!record) {
    if (in_tree) {
      return Status::Corruption("store has no consents record " + ToHex(record_key) +
                                " for a state key the state tree holds");
    }
    p.status = ProofStatus::kNone;
    return p;
  }
  ASSIGN_OR_RETURN(StateValue value, schema::DecodeConsentValue(record_key, *record));
  if (!in_tree || p.state.leaf->value_hash != Sha256(*record)) {
    return Status::Corruption("stored consents record " + ToHex(record_key) +
                              " disagrees with the state tree");
  }
  p.value = value;
  if (value.status == ConsentStatus::kRevoked) {
    p.status = ProofStatus::kRevoked;
  } else {
    p.status = IsExpired(value, at) ? ProofStatus::kExpired : ProofStatus::kGranted;
  }
  ASSIGN_OR_RETURN(TxInfo info, TxAt(kv, value.tx_id, head));
  p.tx = ConsentProof::TxPart{info.tx.Encode(), info.location.log_index, info.inclusion};
  return p;
}

Result<TxInfo> GetTx(const KvRead& kv, const Hash32& tx_id) {
  ASSIGN_OR_RETURN(CertifiedHeader head, GetHead(kv));
  return TxAt(kv, tx_id, head);
}

Result<HistoryPage> SubjectHistory(const KvRead& kv, const PublicKey& subject, uint64_t from,
                                   size_t limit) {
  RETURN_IF_ERROR(CheckLimit(limit));
  HistoryPage page;
  auto head = GetHead(kv);
  if (!head.ok()) {
    if (head.status().code() == StatusCode::kNotFound) return page;  // empty ledger
    return head.status();
  }
  Bytes prefix = Writer().Fixed(subject).bytes();
  std::vector<Hash32> ids;
  Status inner;
  RETURN_IF_ERROR(kv.Scan(Column::kSubjectIndex, prefix, schema::SubjectIndexKey(subject, from),
                          [&](ByteView k, ByteView v) {
                            if (ids.size() == limit) {
                              Reader r(k.subspan(32));
                              uint64_t idx = 0;
                              inner = r.U64(&idx, "subject index key");
                              page.next = idx;
                              return false;
                            }
                            if (v.size() != 32) {
                              inner = Status::Corruption("subject index entry is not a tx id");
                              return false;
                            }
                            Hash32 id;
                            std::copy(v.begin(), v.end(), id.begin());
                            ids.push_back(id);
                            return true;
                          }));
  RETURN_IF_ERROR(inner);
  for (const auto& id : ids) {
    ASSIGN_OR_RETURN(TxInfo info, TxAt(kv, id, *head));
    page.entries.push_back(std::move(info));
  }
  return page;
}

Result<ControllerPage> ControllerConsents(const KvRead& kv, const PublicKey& controller,
                                          std::string_view cursor, size_t limit) {
  RETURN_IF_ERROR(CheckLimit(limit));
  // The cursor is the hex of the last key's suffix after the controller (subject || purpose), as
  // it has always been: consents keys are controller || subject || purpose.
  Bytes prefix = schema::ConsentPrefix(controller);
  ASSIGN_OR_RETURN(Bytes start, CursorStart(prefix, cursor));
  ControllerPage page;
  Bytes last_suffix;
  bool more = false;
  Status inner;
  RETURN_IF_ERROR(kv.Scan(Column::kConsents, prefix, start, [&](ByteView k, ByteView v) {
    if (page.entries.size() == limit) {
      more = true;
      return false;
    }
    auto parts = schema::DecodeConsentKey(k);
    if (!parts.ok()) {
      inner = parts.status();
      return false;
    }
    auto value = schema::DecodeConsentValue(k, v);
    if (!value.ok()) {
      inner = value.status();
      return false;
    }
    Hash32 sk = StateKey(parts->subject, controller, parts->purpose);
    page.entries.push_back({parts->subject, std::move(parts->purpose), sk, *value});
    last_suffix.assign(k.begin() + prefix.size(), k.end());
    return true;
  }));
  RETURN_IF_ERROR(inner);
  if (more && !page.entries.empty()) page.next_cursor = ToHex(last_suffix);
  return page;
}

Result<DirectoryPage> Directory(const KvRead& kv, std::string_view cursor, size_t limit) {
  RETURN_IF_ERROR(CheckLimit(limit));
  ASSIGN_OR_RETURN(Bytes start, CursorStart(Bytes{}, cursor));
  DirectoryPage page;
  bool more = false;
  Status inner;
  RETURN_IF_ERROR(kv.Scan(Column::kDirectory, Bytes{}, start, [&](ByteView k, ByteView v) {
    if (page.entries.size() == limit) {
      more = true;
      return false;
    }
    if (k.size() != 32) {
      inner = Status::Corruption("directory key is not a controller key");
      return false;
    }
    auto e = schema::DecodeControllerEntry(v);
    if (!e.ok()) {
      inner = e.status();
      return false;
    }
    DirectoryEntry d;
    std::copy(k.begin(), k.end(), d.controller.begin());
    d.entry = std::move(e).value();
    page.entries.push_back(std::move(d));
    return true;
  }));
  RETURN_IF_ERROR(inner);
  if (more) page.next_cursor = ToHex(page.entries.back().controller);
  return page;
}

Result<std::vector<CertifiedHeader>> Headers(const KvRead& kv, uint64_t from, uint64_t to) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> head, HeadHeight(kv));
  uint64_t top = head.value_or(0);
  if (from < 1 || to < from) {
    return Status::Invalid("header range must satisfy 1 <= from <= to");
  }
  if (to > top) {
    return Status::NotFound("height " + std::to_string(to) + " is past the head (" +
                            std::to_string(top) + ")");
  }
  if (to - from + 1 > kMaxHeaderRange) {
    return Status::Invalid("at most " + std::to_string(kMaxHeaderRange) + " headers per request");
  }
  std::vector<CertifiedHeader> out;
  for (uint64_t h = from; h <= to; ++h) {
    ASSIGN_OR_RETURN(CertifiedHeader c, GetCertifiedHeader(kv, h));
    out.push_back(std::move(c));
  }
  return out;
}

Result<ConsistencyInfo> ConsistencyBetweenHeights(const KvRead& kv, uint64_t from_height,
                                                  uint64_t to_height) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> head, HeadHeight(kv));
  if (from_height < 1 || to_height < from_height) {
    return Status::Invalid("heights must satisfy 1 <= from <= to");
  }
  if (to_height > head.value_or(0)) {
    return Status::NotFound("height " + std::to_string(to_height) + " is past the head");
  }
  ConsistencyInfo info;
  ASSIGN_OR_RETURN(info.first, GetCertifiedHeader(kv, from_height));
  ASSIGN_OR_RETURN(info.second, GetCertifiedHeader(kv, to_height));
  uint64_t s1 = info.first.header.log_size, s2 = info.second.header.log_size;
  if (s1 == 0) {
    return Status::Invalid("the log is empty at height " + std::to_string(from_height) +
                           "; every log is consistent with the empty one");
  }
  LogTree log(kv, s2);
  ASSIGN_OR_RETURN(info.proof, log.ConsistencyProof(s1, s2));
  return info;
}

Result<BlockBody> GetBlockBody(const KvRead& kv, uint64_t height) {
  ASSIGN_OR_RETURN(std::optional<Bytes> bytes, kv.Get(Column::kBlocks, schema::U64Key(height)));
  if (!bytes) return Status::Corruption("no block body at height " + std::to_string(height));
  BlockBody body;
  body.encoded_bytes = bytes->size();
  auto txs = schema::DecodeBlockBody(*bytes);
  if (!txs.ok()) {
    return Status::Corruption("block body at height " + std::to_string(height) +
                              " does not decode: " + txs.status().message());
  }
  body.txs = std::move(txs).value();
  return body;
}

Result<std::vector<LoggedTx>> LogReader::Read(const KvRead& kv, uint64_t from, uint64_t end,
                                              size_t max) {
  std::vector<LoggedTx> out;
  if (from >= end || max == 0) return out;
  // A missing or malformed leaf is Corruption naming its tile.
  ASSIGN_OR_RETURN(Hash32 first_id, LogTree(kv, end).LeafHashAt(from));
  ASSIGN_OR_RETURN(std::optional<Bytes> loc_bytes, kv.Get(Column::kTxIndex, first_id));
  if (!loc_bytes)
    return Status::Corruption("no tx index entry for log leaf " + std::to_string(from));
  ASSIGN_OR_RETURN(schema::TxLocation loc, schema::DecodeTxLocation(*loc_bytes));
  if (loc.log_index != from) {
    return Status::Corruption("tx index of log leaf " + std::to_string(from) + " says log index " +
                              std::to_string(loc.log_index));
  }
  uint64_t height = loc.height;
  size_t position = loc.position;
  uint64_t index = from;
  while (index < end && out.size() < max) {
    if (cached_height_ != height) {
      ASSIGN_OR_RETURN(BlockBody body, GetBlockBody(kv, height));
      cached_txs_ = std::move(body.txs);
      cached_height_ = height;
    }
    for (; position < cached_txs_.size() && index < end && out.size() < max; ++position) {
      LoggedTx t;
      t.tx = cached_txs_[position];
      t.tx_id = t.tx.Id();
      t.height = height;
      t.log_index = index++;
      out.push_back(std::move(t));
    }
    ++height;
    position = 0;
  }
  if (!out.empty() && out.front().tx_id != first_id) {
    return Status::Corruption("block " + std::to_string(out.front().height) +
                              " disagrees with log leaf " + std::to_string(from));
  }
  return out;
}

Result<std::vector<ValidatorChange>> GetValidatorChanges(const KvRead& kv, uint64_t below_height) {
  ASSIGN_OR_RETURN(std::vector<SetChange> changes, ReadSetChanges(kv));
  std::vector<ValidatorChange> out;
  for (SetChange& c : changes) {
    const uint64_t height = c.from_height - 1;
    if (height >= below_height) break;
    ASSIGN_OR_RETURN(CertifiedHeader ch, GetCertifiedHeader(kv, height));
    if (ch.header.next_validators_hash != c.set.Hash()) {
      return Status::Corruption("the validator set recorded from height " +
                                std::to_string(c.from_height) + " is not the one header " +
                                std::to_string(height) + " names");
    }
    out.push_back(ValidatorChange{std::move(ch.header), std::move(ch.commit), std::move(c.set)});
  }
  return out;
}

Result<ValidatorsInOffice> GetValidatorsInOffice(const KvRead& kv, const Genesis& genesis) {
  ValidatorsInOffice out;
  ASSIGN_OR_RETURN(std::vector<SetChange> changes, ReadSetChanges(kv));
  if (changes.empty()) {
    out.validators = genesis.Set();
  } else {
    out.validators = changes.back().set;
    out.since_height = changes.back().from_height;
  }
  out.quorum = out.validators.QuorumSize();
  ASSIGN_OR_RETURN(auto approvals, ReadApprovals(kv));
  std::map<Hash32, size_t> counts;
  for (const auto& [who, value] : approvals) {
    if (out.validators.Contains(who)) ++counts[value.set_hash];
  }
  for (const auto& [who, value] : approvals) {
    out.pending.push_back(
        PendingApproval{who, value, out.validators.Contains(who), counts[value.set_hash]});
  }
  return out;
}

}  // namespace consent
