// store_bench: the storage trees at ledger scale over a real RocksKv (64 MiB block cache) in a
// temporary directory. Measures StateTree::Update + RocksKv::Write in batches of 1,000 random
// keys up to 1M entries (with the records read and written per key), StateTree::Prove at 10k
// and at 1M entries (with the records read per proof), LogTree::Append of 1,000-leaf
// batches up to 1M leaves, LogTree::InclusionProof at 1M, and peak RSS; prints a short table.
// Writes use sync=false (block commits use sync=true; fsync cost is not what is measured here).
// Sizes can be scaled down: store_bench [state_entries] [log_leaves] [dir]. Single-threaded.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/log_tree.h"
#include "ledger/merkle_log.h"
#include "ledger/smt.h"
#include "ledger/state_tree.h"
#include "ledger/store/rocks_kv.h"
#include "tools/arg_util.h"

namespace consent {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Entry i's key and value hash, derived so that no key list is held in memory.
Hash32 KeyOf(uint64_t i) {
  uint8_t b[9] = {'k'};
  for (int j = 0; j < 8; ++j) b[1 + j] = uint8_t(i >> (56 - 8 * j));
  return Sha256(ByteView(b, sizeof b));
}
// Entry i's value (its hash is what the tree stores).
Bytes ValueOf(uint64_t i) {
  Bytes b(17, 'v');
  for (int j = 0; j < 8; ++j) b[1 + j] = uint8_t(i >> (56 - 8 * j));
  return b;
}

long PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// User + system CPU seconds of this process so far (the machine may be shared, so wall time
// alone can mislead).
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

[[noreturn]] void Die(const std::string& what, const Status& st) {
  std::fprintf(stderr, "store_bench: %s: %s\n", what.c_str(), st.ToString().c_str());
  std::exit(1);
}

// Counts the point reads made through it (the state tree's records read).
class CountingKv : public KvRead {
 public:
  explicit CountingKv(const KvRead& base) : base_(base) {}
  Result<std::optional<Bytes>> Get(Column c, ByteView key) const override {
    ++gets_;
    return base_.Get(c, key);
  }
  Status Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const override {
    return base_.Scan(c, prefix, start, fn);
  }
  uint64_t gets() const { return gets_; }

 private:
  const KvRead& base_;
  mutable uint64_t gets_ = 0;
};

// CPU seconds of the calling thread (the work a proof does, less affected by a loaded machine
// than wall time).
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

struct Row {
  std::string what;
  std::string figure;
};
std::vector<Row> rows;
void Report(std::string what, const char* fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, value);
  std::printf("  %-52s %s\n", what.c_str(), buf);
  std::fflush(stdout);
  rows.push_back({std::move(what), buf});
}

// Mean microseconds per StateTree::Prove over `probes` keys, half present and half absent; each
// proof is verified against `root` outside the timed part. Returns the mean siblings per proof;
// sets the mean records read per proof.
double ProvePass(const RocksKv& kv, uint64_t entries, const Hash32& root, std::mt19937_64& rng,
                 int probes, double* us, double* cpu_us, double* reads) {
  std::vector<Hash32> keys;
  for (int i = 0; i < probes; ++i) keys.push_back(KeyOf(rng() % (2 * entries)));
  CountingKv counting(kv);
  StateTree tree(counting);
  std::vector<smt::Proof> proofs(probes);
  auto start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (int i = 0; i < probes; ++i) {
    auto p = tree.Prove(keys[i]);
    if (!p.ok()) Die("prove", p.status());
    proofs[i] = std::move(p).value();
    benchmark::DoNotOptimize(proofs[i]);
  }
  *us = Seconds(start) * 1e6 / probes;
  *cpu_us = (ThreadCpuSeconds() - cpu_start) * 1e6 / probes;
  *reads = double(counting.gets()) / probes;
  size_t siblings = 0;
  for (int i = 0; i < probes; ++i) {
    siblings += proofs[i].siblings.size();
    std::optional<Hash32> vh;
    if (proofs[i].leaf && proofs[i].leaf->key == keys[i]) vh = proofs[i].leaf->value_hash;
    Status st = smt::VerifyProofHashed(root, keys[i], vh, proofs[i]);
    if (!st.ok()) Die("verify", st);
  }
  return double(siblings) / probes;
}

// Prove timing after a flush: a first pass over 2,000 fresh keys (cold cache), then 4,000 other
// keys (steady state: index, filter and upper-level blocks cached).
void MeasureProve(RocksKv& kv, uint64_t entries, const Hash32& root, std::mt19937_64& rng) {
  Status st = kv.Flush();
  if (!st.ok()) Die("flush", st);
  double cold_us = 0, us = 0, cpu_us = 0, reads = 0;
  ProvePass(kv, entries, root, rng, 2000, &cold_us, &cpu_us, &reads);
  double siblings = ProvePass(kv, entries, root, rng, 4000, &us, &cpu_us, &reads);
  const std::string n = std::to_string(entries);
  Report("StateTree::Prove at " + n + " entries (us/proof)", "%.1f", us);
  Report("  of which CPU time of the proving thread (us/proof)", "%.1f", cpu_us);
  Report("  first 2,000 proofs after flush (us/proof)", "%.1f", cold_us);
  Report("  mean siblings", "%.1f", siblings);
  Report("  mean records read per proof", "%.1f", reads);
}

void StateBench(RocksKv& kv, uint64_t total) {
  std::mt19937_64 rng(1);
  const uint64_t batch_size = 1000;
  const uint64_t small = std::min<uint64_t>(10'000, total);
  double update_s = 0, write_s = 0;
  uint64_t written = 0, read = 0;
  Hash32 root{};
  auto start = Clock::now();
  for (uint64_t next = 0; next < total;) {
    std::vector<StateTreeChange> changes;
    for (uint64_t j = 0; j < batch_size && next < total; ++j, ++next) {
      changes.push_back({KeyOf(next), Sha256(ValueOf(next))});
    }
    KvBatch batch;
    auto t0 = Clock::now();
    CountingKv counting(kv);
    auto r = StateTree(counting).Update(std::move(changes), &batch);
    if (!r.ok()) Die("update", r.status());
    read += counting.gets();
    root = *r;
    auto t1 = Clock::now();
    Status st = kv.Write(batch, /*sync=*/false);
    if (!st.ok()) Die("write", st);
    update_s += std::chrono::duration<double>(t1 - t0).count();
    write_s += Seconds(t1);
    written += batch.size();
    if (next % 100'000 == 0) {
      std::fprintf(stderr, "  ... %llu entries, %.0f s\n", static_cast<unsigned long long>(next),
                   Seconds(start));
    }
    if (next == small) {
      // Cross-check the root against the in-memory reference once, at the small size.
      smt::ReferenceSmt ref;
      for (uint64_t i = 0; i < small; ++i) ref.Set(KeyOf(i), ValueOf(i));
      if (ref.Root() != root) Die("root check", Status::Internal("differs from ReferenceSmt"));
      MeasureProve(kv, small, root, rng);
    }
  }
  double total_s = Seconds(start);
  Report("StateTree Update+Write, " + std::to_string(total) + " entries (entries/s)", "%.0f",
         total / total_s);
  Report("  of which Update (s)", "%.1f", update_s);
  Report("  of which RocksKv::Write (s)", "%.1f", write_s);
  Report("  records read per entry", "%.2f", double(read) / total);
  Report("  records written per entry", "%.2f", double(written) / total);
  MeasureProve(kv, total, root, rng);
}

void LogBench(RocksKv& kv, uint64_t total) {
  std::mt19937_64 rng(2);
  LogTree tree(kv, 0);
  auto start = Clock::now();
  std::vector<Hash32> leaves;
  for (uint64_t next = 0; next < total;) {
    leaves.clear();
    for (uint64_t j = 0; j < 1000 && next < total; ++j, ++next) leaves.push_back(KeyOf(next));
    KvBatch batch;
    Status st = tree.Append(leaves, &batch);
    if (!st.ok()) Die("append", st);
    st = kv.Write(batch, /*sync=*/false);
    if (!st.ok()) Die("write", st);
  }
  Report("LogTree Append+Write, " + std::to_string(total) + " leaves (leaves/s)", "%.0f",
         total / Seconds(start));
  auto root = tree.Root();
  if (!root.ok()) Die("root", root.status());
  Status st = kv.Flush();
  if (!st.ok()) Die("flush", st);
  // Inclusion proofs: a first pass (cold) and a measured pass over other random indices.
  for (int pass = 0; pass < 2; ++pass) {
    const int probes = pass == 0 ? 2000 : 4000;
    std::vector<uint64_t> idx;
    for (int i = 0; i < probes; ++i) idx.push_back(rng() % total);
    std::vector<std::vector<Hash32>> proofs(probes);
    start = Clock::now();
    for (int i = 0; i < probes; ++i) {
      auto p = tree.InclusionProof(idx[i], total);
      if (!p.ok()) Die("inclusion", p.status());
      proofs[i] = std::move(p).value();
    }
    const double us = Seconds(start) * 1e6 / probes;
    if (pass == 0) {
      Report("  first 2,000 inclusion proofs after flush (us/proof)", "%.1f", us);
    } else {
      Report("LogTree::InclusionProof at " + std::to_string(total) + " (us/proof)", "%.1f", us);
    }
    for (int i = 0; i < probes; ++i) {
      st = merkle::VerifyInclusion(idx[i], total, KeyOf(idx[i]), proofs[i], *root);
      if (!st.ok()) Die("verify inclusion", st);
    }
  }
  const int probes = 4000;
  start = Clock::now();
  for (int i = 0; i < probes; ++i) {
    auto p = tree.ConsistencyProof(1 + rng() % total, total);
    if (!p.ok()) Die("consistency", p.status());
    benchmark::DoNotOptimize(p);
  }
  Report("LogTree::ConsistencyProof to " + std::to_string(total) + " (us/proof)", "%.1f",
         Seconds(start) * 1e6 / probes);
}

int Main(int argc, char** argv) {
  uint64_t state_entries = 1'000'000, log_leaves = 1'000'000;
  if (argc > 4 ||
      (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h"))) {
    std::printf("usage: store_bench [STATE_ENTRIES [LOG_LEAVES [DIR]]]\n");
    return argc > 4 ? 2 : 0;
  }
  if ((argc > 1 && !tools::ParseU64(argv[1], uint64_t{1} << 32, &state_entries)) ||
      (argc > 2 && !tools::ParseU64(argv[2], uint64_t{1} << 32, &log_leaves))) {
    std::fprintf(stderr, "store_bench: counts must be whole numbers up to 2^32\n");
    return 2;
  }
  std::string dir;
  if (argc > 3) {
    dir = argv[3];
  } else {
    char tmpl[] = "/tmp/consent-store-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
  }
  RocksOptions options;
  options.path = dir + "/db";
  options.block_cache_bytes = 64 << 20;
  auto kv = RocksKv::Open(options);
  if (!kv.ok()) Die("open", kv.status());
  std::printf("store_bench: RocksDB at %s, block cache 64 MiB, writes sync=false\n",
              options.path.c_str());
  auto start = Clock::now();
  StateBench(**kv, state_entries);
  LogBench(**kv, log_leaves);
  Status st = (*kv)->Flush();
  if (!st.ok()) Die("flush", st);
  Report("store size on disk (MiB)", "%.0f", double((*kv)->ApproximateDiskBytes()) / (1 << 20));
  Report("peak RSS (MiB)", "%.0f", double(PeakRssMiB()));
  Report("total wall time (s)", "%.0f", Seconds(start));
  Report("total CPU time, user + system (s)", "%.0f", CpuSeconds());
  kv->reset();
  if (argc <= 3) std::filesystem::remove_all(dir);
  std::printf("\n| measure | figure |\n| --- | --- |\n");
  for (const Row& r : rows) std::printf("| %s | %s |\n", r.what.c_str(), r.figure.c_str());
  return 0;
}

}  // namespace
}  // namespace consent

int main(int argc, char** argv) { return consent::Main(argc, argv); }
