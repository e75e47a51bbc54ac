// consent-store: operator commands on a node's ledger store.
//   consent-store info   --data DIR --genesis FILE   head height, log size, roots, bytes on disk
//   consent-store verify --data DIR --genesis FILE   checks every table file's block checksums,
//                                                    then re-executes every block from genesis
//                                                    into a scratch store and compares everything
// The store is opened read-only, so a running node is not disturbed (RocksDB allows one writer
// and read-only openers), but a running node keeps writing: verify a stopped node's store, or a
// copy, for a verdict about one moment (both commands warn, on stderr, when a process holds the
// store's lock). Exit 0 when the store is sound, 1 when it is not (the verdict, "INVALID: ...",
// on stdout), 2 on usage errors and a genesis file that cannot be read or parsed (on stderr).
// Single-threaded.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "crypto/hex.h"
#include "ledger/queries.h"
#include "ledger/store/chain_store.h"

namespace consent {
namespace {

constexpr size_t kMaxGenesisBytes = 1 << 20;

// The genesis file is the operator's input, not part of the store: a file that cannot be read
// or parsed is an input error (exit 2, on stderr), never a verdict on the store.
Result<Genesis> LoadGenesis(const std::string& path) {
  // fopen, not ifstream: a directory opens, and only the read says why it cannot be read.
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  std::string text(kMaxGenesisBytes + 1, '\0');
  const size_t n = std::fread(text.data(), 1, text.size(), f);
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) return Status::IoError("cannot read " + path + ": " + std::strerror(err));
  text.resize(n);
  auto g = ParseGenesis(text);
  if (!g.ok()) return g.status().Prefixed(path);
  return g;
}

// The pid of the process that holds the store's lock (RocksDB takes an fcntl write lock on
// DIR/LOCK while it has the store open for writing: a running node), or 0.
pid_t LockHolder(const std::string& data) {
  const int fd = ::open((std::filesystem::path(data) / "LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  pid_t pid = 0;
  if (::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) pid = fl.l_pid;
  ::close(fd);
  return pid;
}

int Run(int argc, char** argv) {
  CLI::App app{"consent-store: inspect and verify a consent ledger store"};
  app.require_subcommand(1);
  std::string data, genesis_path;
  int rc = 0;
  Genesis genesis;
  // Loads the genesis (false, with rc = 2, if it cannot be used) and warns when a running node
  // holds the store.
  auto prepare = [&]() -> bool {
    auto g = LoadGenesis(genesis_path);
    if (!g.ok()) {
      std::fprintf(stderr, "error: %s\n", g.status().message().c_str());
      rc = 2;
      return false;
    }
    genesis = *std::move(g);
    if (const pid_t pid = LockHolder(data); pid != 0) {
      std::fprintf(stderr,
                   "warning: process %d holds the store's lock (a running node?) and may write to "
                   "it meanwhile: this is about one moment; for a lasting answer use a stopped "
                   "node's store, or a copy\n",
                   static_cast<int>(pid));
    }
    return true;
  };
  auto open = [&]() -> Result<std::unique_ptr<ChainStore>> {
    ChainStoreOptions o;
    o.path = data;
    o.read_only = true;
    return ChainStore::Open(o, genesis);
  };

  auto* info = app.add_subcommand("info", "print the head and the store's size");
  info->add_option("--data", data, "the store directory")->required();
  info->add_option("--genesis", genesis_path, "genesis.json")->required();
  info->callback([&] {
    if (!prepare()) return;
    auto store = open();
    if (!store.ok()) {
      std::fprintf(stderr, "error: %s\n", store.status().message().c_str());
      rc = 1;
      return;
    }
    ChainTip tip = (*store)->tip();
    std::printf("chain_id:   %s\n", (*store)->genesis().chain_id.c_str());
    if (!tip.head) {
      std::printf("height:     0 (no block yet)\n");
    } else {
      std::printf("height:     %llu\n", static_cast<unsigned long long>(tip.head->height));
      std::printf("block_hash: %s\n", ToHex(tip.head->Hash()).c_str());
      std::printf("log_size:   %llu\n", static_cast<unsigned long long>(tip.head->log_size));
      std::printf("log_root:   %s\n", ToHex(tip.head->log_root).c_str());
      std::printf("state_root: %s\n", ToHex(tip.head->state_root).c_str());
    }
    std::printf("disk_bytes: %llu\n",
                static_cast<unsigned long long>((*store)->rocks().ApproximateDiskBytes()));
  });

  auto* verify = app.add_subcommand("verify",
                                    "check every table file's block checksums, then re-execute "
                                    "every block from genesis and compare");
  std::string scratch;
  verify->add_option("--data", data, "the store directory")->required();
  verify->add_option("--genesis", genesis_path, "genesis.json")->required();
  verify->add_option("--scratch", scratch, "scratch directory (default: DATA.verify-PID)");
  verify->callback([&] {
    std::error_code ec;
    if (!scratch.empty() && (std::filesystem::exists(scratch, ec) || ec)) {
      std::fprintf(stderr, "error: --scratch %s already exists (give a path that does not)\n",
                   scratch.c_str());
      rc = 2;
      return;
    }
    if (!prepare()) return;
    auto store = open();
    if (!store.ok()) {
      // Every verdict goes to stdout, like the INVALID below.
      std::printf("INVALID: %s\n", store.status().message().c_str());
      rc = 1;
      return;
    }
    if (scratch.empty()) scratch = data + ".verify-" + std::to_string(getpid());
    bool tty = isatty(STDERR_FILENO);
    // First the files: every block of every table file against its checksum, also the blocks
    // that the re-execution below never reads (filters, old versions of records).
    std::fprintf(stderr, "checking the block checksums of every table file\n");
    const auto files_start = std::chrono::steady_clock::now();
    if (Status cs = (*store)->rocks().VerifyTableChecksums(); !cs.ok()) {
      std::printf("INVALID: %s\n", cs.message().c_str());
      rc = 1;
      return;
    }
    std::fprintf(
        stderr, "block checksums hold (%.1f s); re-executing every block\n",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - files_start).count());
    auto start = std::chrono::steady_clock::now();
    auto last = start;
    Status st = VerifyChainStore(
        (*store)->kv(), (*store)->genesis(), scratch, [&](const VerifyProgress& p) {
          auto now = std::chrono::steady_clock::now();
          if (p.height != p.head && now - last < std::chrono::seconds(1)) {
            return;
          }
          last = now;
          double secs = std::chrono::duration<double>(now - start).count();
          std::fprintf(stderr, "%sverified %llu/%llu blocks, %llu txs, %.0f tx/s%s",
                       tty ? "\r" : "", static_cast<unsigned long long>(p.height),
                       static_cast<unsigned long long>(p.head),
                       static_cast<unsigned long long>(p.txs), secs > 0 ? p.txs / secs : 0.0,
                       tty ? "" : "\n");
        });
    if (tty) std::fprintf(stderr, "\n");
    if (!st.ok()) {
      std::printf("INVALID: %s\n", st.message().c_str());
      rc = 1;
      return;
    }
    std::printf(
        "VALID: every table file's block checksums hold; every block re-executed from genesis; "
        "roots, commits and all records agree\n");
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // "consent-store bogus": CLI11 reports the missing subcommand; name the word it did not know.
    if (argc > 1 && argv[1][0] != '-' && std::string_view(argv[1]) != "info" &&
        std::string_view(argv[1]) != "verify") {
      std::fprintf(stderr, "error: unknown command %s (commands: info, verify; see --help)\n",
                   argv[1]);
      return 2;
    }
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return rc;
}

}  // namespace
}  // namespace consent

int main(int argc, char** argv) { return consent::Run(argc, argv); }
