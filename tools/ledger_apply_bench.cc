// ledger_apply_bench: how fast a node can apply and commit blocks, and what it costs in memory and
// disk, on a real RocksDB store.
//
// Blocks of --block-txs grants (default 1,000) over random subjects, 100 controllers and 8
// purposes are built with BuildBlock (state rules, state tree and log tree updates, all indexes),
// given a precommit and committed with one synced WriteBatch each, until --txs transactions
// (default 1,000,000). Signatures are treated as pre-verified, as the mempool's cache makes them in
// the node: the transactions carry random signature bytes and the pipeline is not asked to check
// them; their tx ids are computed before the clock starts too, as the mempool does at admission.
// Consent proofs are timed for 200 grants of the first 10,000 entries when the state holds 10,000
// entries (from memtables, and again once flushed to files), and at the end for the same 200 plus
// one grant from each of the last 200 blocks.
//
// --pipeline 1 (the default) commits with ChainStore::BeginCommit: block h+1 is built on the main
// thread while the store's writer thread writes block h, as a block producer can. --pipeline 0
// commits each block with CommitBlock before building the next (one thread does everything).
//
// The limit, measured in the same run (--ceiling-txs, default --txs; 0 skips it):
// once the ledger's store is closed, two fresh RocksDB stores with the same options are written
// with nothing computed, in synced batches of --block-txs transactions, timing only the writes:
// - "storage ceiling": per transaction, the same records as this run wrote (per column: the same
//   number and the same mean key and value sizes; random keys, and counters for the columns that
//   the ledger keys by height or log position), so the ratio of apply+commit to it is the share
//   left to building blocks;
// - "storage floor": 4 records per transaction with random 32-byte keys and 8-byte values, the
//   least the store's layout can write per transaction: one each in the tx index, the consent
//   entries, the subject index and the state tree (the page holding its leaf), and nothing else
//   (no block bodies, no log, no upper tree pages, no commits).
//
// --dir (default: a new directory under /tmp, removed at the end) must not hold db, ceiling or
// floor: the run refuses (exit 2) rather than reuse or remove them; it leaves its db there.
//
// Prints a table and one JSON line; exit 0. Threads: the main one and, pipelined, the store's
// writer (RocksDB has its own for flushes and compactions).
// Usage: ledger_apply_bench [--txs N] [--block-txs N] [--dir DIR] [--cache-mb N]
//                           [--page-cache-mb N] [--write-buffer-mb N] [--pipeline 0|1]
//                           [--ceiling-txs N]
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crypto/ed25519.h"
#include "ledger/block_pipeline.h"
#include "ledger/queries.h"
#include "ledger/store/chain_store.h"
#include "tools/arg_util.h"

namespace consent {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// CPU time of the calling thread, in ms (unlike wall time, barely moved by other processes).
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// CPU time of the whole process (every thread, RocksDB's flushes and compactions included), in ms.
double ProcessCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

long PeakRssKiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct Workload {
  std::mt19937_64 rng{42};
  std::vector<PublicKey> controllers;
  std::vector<std::string> purposes = {"analytics",      "marketing.email",  "marketing.sms",
                                       "marketing.post", "personalisation",  "profiling",
                                       "research",       "third-party.share"};
  Workload() {
    for (int i = 0; i < 100; ++i) controllers.push_back(Random32());
  }
  std::array<uint8_t, 32> Random32() {
    std::array<uint8_t, 32> a;
    for (size_t i = 0; i < a.size(); i += 8) {
      uint64_t r = rng();
      std::memcpy(a.data() + i, &r, 8);
    }
    return a;
  }
  // A well-formed grant with a random subject; the signature is random bytes (pre-verified).
  SignedTx Grant(uint64_t issued, uint64_t nonce) {
    GrantTx g;
    g.subject = Random32();
    g.controller = controllers[rng() % controllers.size()];
    g.purposes = {purposes[rng() % purposes.size()]};
    g.data_categories = {"contact.email"};
    g.jurisdiction = "EU-GDPR";
    g.policy_hash = Random32();
    g.issued_at_ms = issued;
    g.expires_at_ms = issued + 365ull * 24 * 3600 * 1000;
    g.nonce = nonce;
    SignedTx tx;
    tx.body = std::move(g);
    auto a = Random32(), b = Random32();
    std::memcpy(tx.signature.data(), a.data(), 32);
    std::memcpy(tx.signature.data() + 32, b.data(), 32);
    return tx;
  }
};

struct ProofTiming {
  uint64_t entries = 0;
  double mean_us = 0;       // each proof's first time: its records read from files, if there are
  double warm_mean_us = 0;  // the same proofs again, their records now in RocksDB's block cache
};

// Times ProveConsent for `n` subjects taken from `sample` (each has one granted purpose), once
// RocksDB's flushes and compactions have finished (up to 60 s): both proof figures are then taken
// on an idle store, as an auditor's query on a quiet node would be, not one of them while a
// compaction holds the other core.
ProofTiming TimeProofs(ChainStore& store, const std::vector<std::pair<SignedTx, int>>& sample,
                       uint64_t entries) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!store.rocks().BackgroundIdle() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto snap = store.Snapshot();
  // Twice over the same grants: the first pass is what the goal is judged on; the second shows
  // how much of it was reading blocks from files (at 10,000 entries every record is in a
  // memtable, so both passes read the same way).
  double mean[2] = {0, 0};
  for (double& m : mean) {
    auto start = Clock::now();
    size_t done = 0;
    for (const auto& [tx, unused] : sample) {
      const auto& g = std::get<GrantTx>(tx.body);
      auto p = ProveConsent(*snap, store.genesis(), g.subject, g.controller, g.purposes[0]);
      if (!p.ok() || p->status != ProofStatus::kGranted) {
        std::fprintf(stderr, "proof failed: %s\n", p.status().ToString().c_str());
        std::exit(1);
      }
      ++done;
    }
    double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    m = us / static_cast<double>(std::max<size_t>(done, 1));
  }
  return {entries, mean[0], mean[1]};
}

// Records per column written by the ledger, summed over a run.
struct ColumnMix {
  uint64_t records = 0, key_bytes = 0, value_bytes = 0;
};
using Mix = std::array<ColumnMix, kColumnCount>;

struct RawWrites {
  double tx_per_s = 0;
  double cpu_us_per_tx = 0;  // the whole process's CPU (RocksDB's threads too) during the writes
};

// Writes `txs` transactions' worth of `mix` (measured over `mix_txs` transactions) into a fresh
// store at `path` with `options`, in synced batches of `block_txs` transactions, and times the
// writes only (making the records is not counted). Per block each column gets its share of the
// records, rounded so that the totals are exact. Keys are random, except for the columns the
// ledger keys by height or log position, which get a counter (as sequential as the real keys).
Result<RawWrites> TimeRawWrites(RocksOptions options, const std::string& path, const Mix& mix,
                                uint64_t mix_txs, uint64_t txs, uint64_t block_txs) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) || ec) {
    return Status::AlreadyExists(path + " already exists: not writing over it");
  }
  options.path = path;
  auto kv = RocksKv::Open(options);
  if (!kv.ok()) return kv.status();
  std::mt19937_64 rng(1);
  std::array<uint64_t, kColumnCount> written{};
  uint64_t counter = 0, done_txs = 0;
  Clock::duration wall{};
  double cpu_ms = 0;
  while (done_txs < txs) {
    const uint64_t n = std::min(block_txs, txs - done_txs);
    done_txs += n;
    KvBatch batch;
    for (size_t c = 0; c < kColumnCount; ++c) {
      const ColumnMix& m = mix[c];
      if (m.records == 0) continue;
      const uint64_t due =
          static_cast<uint64_t>(static_cast<double>(m.records) * static_cast<double>(done_txs) /
                                    static_cast<double>(mix_txs) +
                                0.5);
      const size_t key_size = std::max<uint64_t>(m.key_bytes / m.records, 8);
      const size_t value_size = m.value_bytes / m.records;
      const auto column = static_cast<Column>(c);
      const bool sequential = column == Column::kMeta || column == Column::kHeaders ||
                              column == Column::kBlocks || column == Column::kCommits ||
                              column == Column::kLogNodes;
      for (; written[c] < due; ++written[c]) {
        Bytes key(key_size, 0);
        if (sequential) {
          const uint64_t k = ++counter;
          for (size_t i = 0; i < 8; ++i) key[i] = static_cast<uint8_t>(k >> (56 - 8 * i));
        } else {
          for (size_t i = 0; i < key_size; i += 8) {
            const uint64_t r = rng();
            std::memcpy(key.data() + i, &r, std::min<size_t>(8, key_size - i));
          }
        }
        batch.Put(column, std::move(key), Bytes(value_size, static_cast<uint8_t>(c)));
      }
    }
    const double c0 = ProcessCpuMs();
    const auto t0 = Clock::now();
    if (Status st = (*kv)->Write(batch, /*sync=*/true); !st.ok()) {
      kv->reset();
      std::filesystem::remove_all(path, ec);  // it created the store: leave nothing behind
      return st;
    }
    wall += Clock::now() - t0;
    cpu_ms += ProcessCpuMs() - c0;
  }
  kv->reset();
  std::filesystem::remove_all(path);
  RawWrites r;
  r.tx_per_s = static_cast<double>(txs) / std::chrono::duration<double>(wall).count();
  r.cpu_us_per_tx = 1e3 * cpu_ms / static_cast<double>(txs);
  return r;
}

int Main(int argc, char** argv) {
  uint64_t total = 1'000'000, block_txs = 1000, cache_mb = 64, page_cache_mb = 64,
           write_buffer_mb = RocksOptions{}.write_buffer_bytes >> 20, pipeline = 1;
  std::optional<uint64_t> ceiling_txs;
  std::string dir;
  const char* usage =
      "usage: ledger_apply_bench [--txs N] [--block-txs N] [--dir DIR] [--cache-mb N] "
      "[--page-cache-mb N] [--write-buffer-mb N] [--pipeline 0|1] [--ceiling-txs N]\n";
  std::vector<std::pair<std::string, const char*>> flags;
  if (int rc = tools::FlagPairs(argc, argv, usage, &flags); rc >= 0) return rc;
  for (const auto& [a, value] : flags) {
    uint64_t v = 0;
    if (a != "--dir" && !tools::ParseU64(value, uint64_t{1} << 40, &v)) {
      std::fprintf(stderr, "%s: '%s' is not a whole number up to 2^40\n%s", a.c_str(), value,
                   usage);
      return 2;
    }
    if (a == "--txs")
      total = v;
    else if (a == "--block-txs")
      block_txs = v;
    else if (a == "--cache-mb")
      cache_mb = v;
    else if (a == "--page-cache-mb")
      page_cache_mb = v;
    else if (a == "--write-buffer-mb")
      write_buffer_mb = v;
    else if (a == "--pipeline")
      pipeline = v;
    else if (a == "--ceiling-txs")
      ceiling_txs = v;
    else if (a == "--dir")
      dir = value;
    else {
      std::fprintf(stderr, "unknown option %s\n%s", a.c_str(), usage);
      return 2;
    }
  }
  if (cache_mb == 0 || cache_mb > (1u << 20) || page_cache_mb > (1u << 20) ||
      write_buffer_mb == 0 || write_buffer_mb > 4096 || pipeline > 1) {
    std::fprintf(stderr,
                 "need 1 <= --cache-mb <= 2^20, --page-cache-mb <= 2^20, 1 <= "
                 "--write-buffer-mb <= 4096 and --pipeline 0 or 1\n");
    return 2;
  }
  if (block_txs == 0 || block_txs > kMaxBlockTxs || total < block_txs) {
    std::fprintf(stderr, "need 1 <= --block-txs <= %zu and --txs >= --block-txs\n", kMaxBlockTxs);
    return 2;
  }
  // By default as many as the run, so that the raw stores grow as large as the ledger's did.
  if (!ceiling_txs) ceiling_txs = total;
  if (*ceiling_txs != 0 && *ceiling_txs < block_txs) {
    std::fprintf(stderr, "need --ceiling-txs 0 (skip) or >= --block-txs\n");
    return 2;
  }
  bool own_dir = dir.empty();
  // A fresh store each run: an earlier run's store (its chain would not take these blocks) or
  // anything else under these names is refused before anything is written.
  for (const char* name : {"db", "ceiling", "floor"}) {
    std::error_code ec;
    if (!own_dir && (std::filesystem::exists(dir + "/" + name, ec) || ec)) {
      std::fprintf(
          stderr,
          "%s/%s already exists: give --dir a directory without db, ceiling or floor in it\n",
          dir.c_str(), name);
      return 2;
    }
  }
  if (own_dir) {
    char tmpl[] = "/tmp/consent-apply-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
  }

  SigningKey validator = SigningKey::FromSeed(Seed32{7});
  Genesis genesis;
  genesis.chain_id = "apply-bench";
  genesis.validators.push_back({"validator-0", validator.public_key()});
  ChainStoreOptions so;
  so.path = dir + "/db";
  so.block_cache_bytes = cache_mb << 20;
  so.page_cache_bytes = page_cache_mb << 20;
  so.write_buffer_bytes = write_buffer_mb << 20;
  auto opened = ChainStore::Open(so, genesis);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  ChainStore& store = **opened;

  Workload w;
  // Per block, indexed by height: when its build started, when it was handed to the store, when
  // it was durable, and the writer thread's CPU time so far at that moment. The writer thread
  // fills `durable_at` and `writer_cpu_ms` in its on_done callback (each block its own element;
  // read here only after FinishCommit or the next BeginCommit, which order them).
  const size_t blocks = static_cast<size_t>((total + block_txs - 1) / block_txs) + 1;
  std::vector<Clock::time_point> build_at(blocks), handed_at(blocks), durable_at(blocks);
  std::vector<double> writer_cpu_ms(blocks, 0.0);
  std::vector<double> build_ms;
  uint64_t records = 0, record_bytes = 0;
  Mix mix{};  // what the ledger wrote, per column (the ceiling below writes the same)
  double build_cpu_ms = 0, write_cpu_ms = 0;
  std::vector<std::pair<SignedTx, int>> sample_early, sample_late;
  ProofTiming early{}, early_files{}, late{};
  uint64_t applied = 0, time_ms = 1'767'225'600'000, nonce = 0;
  auto fail = [&](const Status& st) {
    std::fprintf(stderr, "commit failed: %s\n", st.ToString().c_str());
    return 1;
  };
  auto start = Clock::now();
  Clock::duration excluded{};  // the early proofs' timing, inside the loop
  const double process_cpu0 = ProcessCpuMs();
  while (applied < total) {
    time_ms += 1000;
    std::vector<SignedTx> txs;
    txs.reserve(block_txs);
    for (uint64_t i = 0; i < block_txs; ++i) txs.push_back(w.Grant(time_ms - 1, ++nonce));
    // The tx ids, like the signatures, are the mempool's work at admission in the node.
    // Kept for the proof samples below (the node hands the block its own copies too).
    std::vector<IdentifiedTx> candidates = Identify(txs);
    auto t0 = Clock::now();
    const double c0 = ThreadCpuMs();
    // On the chain with the block in flight (pipelined), or the durable one.
    auto built = BuildBlock(store.build_view(), genesis, store.build_tip(), time_ms, 0,
                            std::move(candidates), block_txs, std::numeric_limits<size_t>::max());
    if (!built.ok() || !built->rejected.empty()) {
      std::fprintf(
          stderr, "build failed: %s\n",
          built.ok() ? built->rejected[0].message.c_str() : built.status().ToString().c_str());
      return 1;
    }
    const uint64_t h = built->validated.block.header.height;
    build_at[h] = t0;
    auto t1 = Clock::now();
    const double c1 = ThreadCpuMs();
    build_ms.push_back(Ms(t1 - t0));
    records += built->validated.writes.size();
    record_bytes += built->validated.writes.ByteSize();
    for (const KvBatch::Op& op : built->validated.writes.ops()) {
      ColumnMix& m = mix[static_cast<size_t>(op.column)];
      ++m.records;
      m.key_bytes += op.key.size();
      m.value_bytes += op.value ? op.value->size() : 0;
    }
    Commit commit;
    commit.signatures.push_back(
        SignPrecommit(validator, genesis.chain_id, h, 0, built->validated.block_hash));
    if (pipeline) {
      handed_at[h] = Clock::now();
      Status st = store.BeginCommit(std::move(built->validated), commit,
                                    [&durable_at, &writer_cpu_ms, h](const Status&) {
                                      durable_at[h] = Clock::now();
                                      writer_cpu_ms[h] = ThreadCpuMs();
                                    });
      if (!st.ok()) return fail(st);
      build_cpu_ms += ThreadCpuMs() - c0;  // building, finalizing and waiting for the writer
    } else {
      handed_at[h] = t1;
      Status st = store.CommitBlock(std::move(built->validated), commit);
      if (!st.ok()) return fail(st);
      durable_at[h] = Clock::now();
      build_cpu_ms += c1 - c0;
      write_cpu_ms += ThreadCpuMs() - c1;
    }
    // Keep a few transactions of this block to prove later.
    // 200 from the first 10,000 entries (up to 20 per block, spread over it), timed at 10,000
    // entries and again at the end; one from each of the last 200 blocks, timed at the end.
    for (uint64_t i = 0; i < 20 && applied < 10'000 && sample_early.size() < 200; ++i) {
      sample_early.push_back({txs[i * block_txs / 20], 0});
    }
    if (applied + 200 * block_txs >= total) sample_late.push_back({txs[0], 0});
    applied += block_txs;
    if (applied == 10'000 || (applied > 10'000 && early.entries == 0)) {
      const auto p0 = Clock::now();
      if (Status st = store.FinishCommit(); !st.ok()) return fail(st);
      early = TimeProofs(store, sample_early, applied);
      // The same proofs once their records are in files, as on a node restarted at this size
      // (its memtables flushed): each proof's first read then comes from files, as at 1M, so the
      // two are compared under the same conditions (the figure above reads memtables only).
      if (Status st = store.rocks().Flush(); !st.ok()) return fail(st);
      early_files = TimeProofs(store, sample_early, applied);
      excluded += Clock::now() - p0;  // not apply time
    }
    if (applied % 100'000 == 0) {
      std::fprintf(stderr, "applied %llu txs, %.0f tx/s, peak RSS %ld MiB\n",
                   static_cast<unsigned long long>(applied),
                   static_cast<double>(applied) /
                       std::chrono::duration<double>(Clock::now() - start).count(),
                   PeakRssKiB() / 1024);
    }
  }
  if (Status st = store.FinishCommit(); !st.ok()) return fail(st);
  const uint64_t last_height = store.height();
  if (pipeline) write_cpu_ms = writer_cpu_ms[last_height];  // the writer thread's whole CPU time
  // Per block: from the start of its build until it was durable, and the synced write: from when
  // it was handed to the store, or the block before it was durable if that was later (the writer
  // takes one block at a time), until it was durable.
  std::vector<double> block_ms, write_ms;
  for (uint64_t h = 1; h <= last_height; ++h) {
    block_ms.push_back(Ms(durable_at[h] - build_at[h]));
    Clock::time_point began = handed_at[h];
    if (h > 1) began = std::max(began, durable_at[h - 1]);
    write_ms.push_back(Ms(durable_at[h] - began));
  }
  double secs = std::chrono::duration<double>(Clock::now() - start - excluded).count();
  // Includes building the workload's transactions (a few us each), not only the store's work.
  const double process_cpu_us_per_tx =
      1e3 * (ProcessCpuMs() - process_cpu0) / static_cast<double>(applied);
  // Proofs at the end: for the first 10,000 entries' grants (deep in the store's oldest files by
  // now) and for the last 200 blocks' (still in memtables and young files). The figure compared
  // with the one at 10,000 entries is the mean over both groups.
  const ProofTiming old_grants = TimeProofs(store, sample_early, applied);
  const ProofTiming new_grants = TimeProofs(store, sample_late, applied);
  late.entries = applied;
  const double n_old = static_cast<double>(sample_early.size());
  const double n_new = static_cast<double>(sample_late.size());
  const double n_all = std::max(n_old + n_new, 1.0);
  late.mean_us = (old_grants.mean_us * n_old + new_grants.mean_us * n_new) / n_all;
  late.warm_mean_us = (old_grants.warm_mean_us * n_old + new_grants.warm_mean_us * n_new) / n_all;
  if (early.entries == 0) early = early_files = old_grants;
  (void)store.rocks().Flush();
  uint64_t disk = store.rocks().ApproximateDiskBytes();
  double tps = static_cast<double>(applied) / secs;
  long rss_mib = PeakRssKiB() / 1024;

  std::printf(
      "ledger apply benchmark: %llu txs in blocks of %llu, block cache %llu MiB, page cache %llu "
      "MiB, write buffers %llu MiB, %s\n",
      static_cast<unsigned long long>(applied), static_cast<unsigned long long>(block_txs),
      static_cast<unsigned long long>(cache_mb), static_cast<unsigned long long>(page_cache_mb),
      static_cast<unsigned long long>(write_buffer_mb),
      pipeline ? "pipelined (block h+1 built while h is written)" : "one block at a time");
  if (const PageCache* pc = store.rocks().page_cache()) {
    PageCache::Stats ps = pc->stats();
    std::printf("  page cache            %.1f%% hits, %llu pages, %.1f MiB\n",
                100.0 * static_cast<double>(ps.hits) /
                    static_cast<double>(std::max<uint64_t>(ps.hits + ps.misses, 1)),
                static_cast<unsigned long long>(ps.entries),
                static_cast<double>(ps.bytes) / 1048576.0);
  }
  std::printf("  apply+commit          %10.0f tx/s   (goal >= 100000: ratio %.2f)\n", tps,
              tps / 100000.0);
  std::printf("  build start->durable  p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              Percentile(block_ms, 0.5), Percentile(block_ms, 0.99), Percentile(block_ms, 1.0));
  std::printf("  of which               build p50 %.1f ms, synced write p50 %.1f ms\n",
              Percentile(build_ms, 0.5), Percentile(write_ms, 0.5));
  std::printf("  thread CPU per tx      main %.1f us (build%s), write %.1f us (%s)\n",
              1e3 * build_cpu_ms / static_cast<double>(applied),
              pipeline ? ", finalize, hand over" : "",
              1e3 * write_cpu_ms / static_cast<double>(applied),
              pipeline ? "the store's writer thread" : "finalize and synced write");
  std::printf(
      "  process CPU per tx    %.1f us (every thread: RocksDB flushes and compactions, and "
      "making the workload's txs)\n",
      process_cpu_us_per_tx);
  std::printf("  records written       %.2f per tx, %.0f bytes per tx (keys + values)\n",
              static_cast<double>(records) / static_cast<double>(applied),
              static_cast<double>(record_bytes) / static_cast<double>(applied));
  std::printf("  peak RSS              %ld MiB        (goal <= 512: ratio %.2f)\n", rss_mib,
              static_cast<double>(rss_mib) / 512.0);
  std::printf("  disk                  %.1f MiB, %.0f bytes/tx\n", disk / 1048576.0,
              static_cast<double>(disk) / static_cast<double>(applied));
  std::printf(
      "  consent proof         %.0f us at %llu entries, %.0f us at %llu (ratio %.2f, goal <= 2)\n",
      early.mean_us, static_cast<unsigned long long>(early.entries), late.mean_us,
      static_cast<unsigned long long>(late.entries), late.mean_us / std::max(early.mean_us, 1e-9));
  std::printf(
      "  read from files       %.0f us at %llu entries (memtables flushed), %.0f us at %llu (ratio "
      "%.2f): both first reads from files\n",
      early_files.mean_us, static_cast<unsigned long long>(early_files.entries), late.mean_us,
      static_cast<unsigned long long>(late.entries),
      late.mean_us / std::max(early_files.mean_us, 1e-9));
  std::printf(
      "  of which at the end   %.0f us for %zu grants of the first 10,000 entries, %.0f us for %zu "
      "of the last 200 blocks\n",
      old_grants.mean_us, sample_early.size(), new_grants.mean_us, sample_late.size());
  std::printf(
      "  the same proofs again %.0f us at %llu entries, %.0f us at %llu (ratio %.2f): their "
      "blocks now cached\n",
      early.warm_mean_us, static_cast<unsigned long long>(early.entries), late.warm_mean_us,
      static_cast<unsigned long long>(late.entries),
      late.warm_mean_us / std::max(early.warm_mean_us, 1e-9));

  // The limit: the same records written alone, and the least any layout writes (see the top).
  opened->reset();  // its flushes and compactions must not share the CPU with these writes
  RawWrites ceiling, least_writes;
  if (*ceiling_txs != 0) {
    RocksOptions ro;
    ro.block_cache_bytes = so.block_cache_bytes;
    ro.page_cache_bytes = 0;  // only the ledger's state-tree reads use it
    ro.write_buffer_bytes = so.write_buffer_bytes;
    auto c = TimeRawWrites(ro, dir + "/ceiling", mix, applied, *ceiling_txs, block_txs);
    Mix least{};
    for (Column col :
         {Column::kTxIndex, Column::kConsents, Column::kSubjectIndex, Column::kStateNodes}) {
      least[static_cast<size_t>(col)] = {applied, 32 * applied, 8 * applied};
    }
    auto f =
        c.ok() ? TimeRawWrites(ro, dir + "/floor", least, applied, *ceiling_txs, block_txs) : c;
    if (!c.ok() || !f.ok()) {
      std::fprintf(stderr, "storage ceiling: %s\n", (c.ok() ? f : c).status().ToString().c_str());
      return 1;
    }
    ceiling = *c;
    least_writes = *f;
    std::printf(
        "  storage ceiling       %.0f tx/s, %.1f us process CPU per tx: this run's records (%.2f "
        "per tx, %.0f bytes), nothing computed, %llu txs in synced batches of %llu; apply+commit "
        "is %.2f of it\n",
        ceiling.tx_per_s, ceiling.cpu_us_per_tx,
        static_cast<double>(records) / static_cast<double>(applied),
        static_cast<double>(record_bytes) / static_cast<double>(applied),
        static_cast<unsigned long long>(*ceiling_txs), static_cast<unsigned long long>(block_txs),
        tps / ceiling.tx_per_s);
    std::printf(
        "  storage floor         %.0f tx/s, %.1f us process CPU per tx: 4 records per tx (random "
        "32-byte keys, 8-byte values: tx index, consent entry, subject index, state leaf only)\n",
        least_writes.tx_per_s, least_writes.cpu_us_per_tx);
  }
  std::printf(
      "{\"txs\":%llu,\"tx_per_s\":%.0f,\"p50_block_ms\":%.2f,\"p99_block_ms\":%.2f,"
      "\"p50_build_ms\":%.2f,\"p50_write_ms\":%.2f,\"records_per_tx\":%.2f,\"build_cpu_us_per_tx\":"
      "%.2f,\"write_cpu_us_per_tx\":%.2f,\"process_cpu_us_per_tx\":%.2f,"
      "\"peak_rss_mib\":%ld,\"disk_bytes_per_tx\":%.0f,\"proof_us_small\":%.1f,"
      "\"proof_us_large\":%.1f,\"proof_us_large_old\":%.1f,\"proof_us_large_new\":%.1f,"
      "\"proof_us_small_again\":%.1f,\"proof_us_large_again\":%.1f,\"proof_us_small_files\":%.1f,"
      "\"proof_us_small_files_again\":%.1f,\"pipeline\":%d,\"ceiling_txs\":%llu,"
      "\"ceiling_tx_per_s\":%.0f,\"ceiling_cpu_us_per_tx\":%.2f,\"floor_tx_per_s\":%.0f,"
      "\"floor_cpu_us_per_tx\":%.2f}\n",
      static_cast<unsigned long long>(applied), tps, Percentile(block_ms, 0.5),
      Percentile(block_ms, 0.99), Percentile(build_ms, 0.5), Percentile(write_ms, 0.5),
      static_cast<double>(records) / static_cast<double>(applied),
      1e3 * build_cpu_ms / static_cast<double>(applied),
      1e3 * write_cpu_ms / static_cast<double>(applied), process_cpu_us_per_tx, rss_mib,
      static_cast<double>(disk) / static_cast<double>(applied), early.mean_us, late.mean_us,
      old_grants.mean_us, new_grants.mean_us, early.warm_mean_us, late.warm_mean_us,
      early_files.mean_us, early_files.warm_mean_us, static_cast<int>(pipeline),
      static_cast<unsigned long long>(*ceiling_txs), ceiling.tx_per_s, ceiling.cpu_us_per_tx,
      least_writes.tx_per_s, least_writes.cpu_us_per_tx);
  if (own_dir) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace consent

int main(int argc, char** argv) { return consent::Main(argc, argv); }
