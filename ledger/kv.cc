// KvBatch, OverlayKv and MemoryKv. Pure in-memory code.
#include "ledger/kv.h"

#include <algorithm>

namespace consent {
namespace {
bool HasPrefix(const Bytes& k, ByteView prefix) {
  return k.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), k.begin());
}
Bytes Max(ByteView a, ByteView b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end())
             ? Bytes(b.begin(), b.end())
             : Bytes(a.begin(), a.end());
}
}  // namespace

const char* ColumnName(Column c) {
  switch (c) {
    case Column::kMeta:
      return "meta";
    case Column::kHeaders:
      return "headers";
    case Column::kBlocks:
      return "blocks";
    case Column::kCommits:
      return "commits";
    case Column::kTxIndex:
      return "tx_index";
    case Column::kLogNodes:
      return "log_nodes";
    case Column::kStateNodes:
      return "state_nodes";
    case Column::kConsents:
      return "consents";
    case Column::kSubjectIndex:
      return "subject_index";
    case Column::kDirectory:
      return "directory";
    case Column::kCount:
      break;
  }
  return "unknown";
}

void KvBatch::Put(Column c, ByteView key, ByteView value) {
  ops_.push_back({c, Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end())});
  bytes_ += key.size() + value.size();
}

void KvBatch::Delete(Column c, ByteView key) {
  ops_.push_back({c, Bytes(key.begin(), key.end()), std::nullopt});
  bytes_ += key.size();
}

OverlayKv::OverlayKv(const KvRead& base, const KvBatch& batch) : base_(base), batch_(batch) {
  Refresh();
}

void OverlayKv::Refresh() {
  const auto& ops = batch_.ops();
  for (; seen_ < ops.size(); ++seen_) {
    pending_[static_cast<size_t>(ops[seen_].column)][ops[seen_].key] = ops[seen_].value;
  }
}

Result<std::optional<Bytes>> OverlayKv::Get(Column c, ByteView key) const {
  const auto& p = pending_[static_cast<size_t>(c)];
  auto it = p.find(Bytes(key.begin(), key.end()));
  if (it != p.end()) return it->second;
  return base_.Get(c, key);
}

Status OverlayKv::Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const {
  // Merge the base scan with pending writes in key order.
  const auto& p = pending_[static_cast<size_t>(c)];
  Bytes from = Max(prefix, start);
  auto it = p.lower_bound(from);
  bool stopped = false;
  auto emit_pending_before = [&](const Bytes* limit) {
    while (!stopped && it != p.end() && HasPrefix(it->first, prefix) &&
           (limit == nullptr || it->first < *limit)) {
      if (it->second && !fn(it->first, *it->second)) stopped = true;
      ++it;
    }
  };
  Status st = base_.Scan(c, prefix, start, [&](ByteView k, ByteView v) {
    Bytes key(k.begin(), k.end());
    emit_pending_before(&key);
    if (stopped) return false;
    if (it != p.end() && it->first == key) {  // shadowed by a pending write
      bool go = !it->second || fn(it->first, *it->second);
      ++it;
      if (!go) stopped = true;
      return go;
    }
    if (!fn(k, v)) {
      stopped = true;
      return false;
    }
    return true;
  });
  RETURN_IF_ERROR(st);
  emit_pending_before(nullptr);
  return Status::Ok();
}

Result<std::optional<Bytes>> MemoryKv::Get(Column c, ByteView key) const {
  const auto& m = data_[static_cast<size_t>(c)];
  auto it = m.find(Bytes(key.begin(), key.end()));
  if (it == m.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(it->second);
}

Status MemoryKv::Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const {
  const auto& m = data_[static_cast<size_t>(c)];
  for (auto it = m.lower_bound(Max(prefix, start)); it != m.end() && HasPrefix(it->first, prefix);
       ++it) {
    if (!fn(it->first, it->second)) break;
  }
  return Status::Ok();
}

void MemoryKv::Apply(const KvBatch& batch) {
  for (const auto& op : batch.ops()) {
    auto& m = data_[static_cast<size_t>(op.column)];
    if (op.value) {
      m[op.key] = *op.value;
    } else {
      m.erase(op.key);
    }
  }
}

}  // namespace consent
