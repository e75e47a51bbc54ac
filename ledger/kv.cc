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
    case Column::kValidators:
      return "validators";
    case Column::kCount:
      break;
  }
  return "unknown";
}

void KvBatch::Put(Column c, ByteView key, ByteView value) {
  ops_.push_back({c, Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end())});
  bytes_ += key.size() + value.size();
}

void KvBatch::Put(Column c, ByteView key, Bytes&& value) {
  bytes_ += key.size() + value.size();
  ops_.push_back({c, Bytes(key.begin(), key.end()), std::move(value)});
}

void KvBatch::Put(Column c, Bytes&& key, Bytes&& value) {
  bytes_ += key.size() + value.size();
  ops_.push_back({c, std::move(key), std::move(value)});
}

void KvBatch::Delete(Column c, ByteView key) {
  ops_.push_back({c, Bytes(key.begin(), key.end()), std::nullopt});
  bytes_ += key.size();
}

OverlayKv::OverlayKv(const KvRead& base, const KvBatch& batch) : base_(base), batch_(batch) {
  Refresh();
}

namespace {
std::string_view AsView(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}
ByteView AsByteView(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
}  // namespace

void OverlayKv::Refresh() {
  const auto& ops = batch_.ops();
  for (; seen_ < ops.size(); ++seen_) {
    Pending& p = pending_[static_cast<size_t>(ops[seen_].column)];
    // A later op on a key replaces the index; the map keeps viewing the first op's key bytes
    // (equal content, and that op stays in the batch).
    auto [it, fresh] = p.latest.try_emplace(AsView(ops[seen_].key), static_cast<uint32_t>(seen_));
    if (fresh) {
      p.sorted_valid = false;
    } else {
      it->second = static_cast<uint32_t>(seen_);
    }
  }
}

Result<std::optional<Bytes>> OverlayKv::Get(Column c, ByteView key) const {
  const Pending& p = pending_[static_cast<size_t>(c)];
  auto it = p.latest.find(AsView(key));
  if (it != p.latest.end()) return batch_.ops()[it->second].value;
  return base_.Get(c, key);
}

Status OverlayKv::Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const {
  // Merge the base scan with pending writes in key order.
  const Pending& p = pending_[static_cast<size_t>(c)];
  if (!p.sorted_valid) {
    p.sorted.clear();
    p.sorted.reserve(p.latest.size());
    for (const auto& [k, unused] : p.latest) p.sorted.push_back(k);
    std::sort(p.sorted.begin(), p.sorted.end());
    p.sorted_valid = true;
  }
  const auto& ops = batch_.ops();
  auto value_of = [&](std::string_view k) -> const std::optional<Bytes>& {
    return ops[p.latest.find(k)->second].value;
  };
  const Bytes from = Max(prefix, start);
  const std::string_view pre = AsView(prefix);
  auto it = std::lower_bound(p.sorted.begin(), p.sorted.end(), AsView(from));
  bool stopped = false;
  auto emit_pending_before = [&](const std::string_view* limit) {
    while (!stopped && it != p.sorted.end() && it->starts_with(pre) &&
           (limit == nullptr || *it < *limit)) {
      const auto& v = value_of(*it);
      if (v && !fn(AsByteView(*it), *v)) stopped = true;
      ++it;
    }
  };
  Status st = base_.Scan(c, prefix, start, [&](ByteView k, ByteView v) {
    const std::string_view key = AsView(k);
    emit_pending_before(&key);
    if (stopped) return false;
    if (it != p.sorted.end() && *it == key) {  // shadowed by a pending write
      const auto& pv = value_of(*it);
      bool go = !pv || fn(AsByteView(*it), *pv);
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
