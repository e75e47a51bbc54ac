// ChainStore on a real RocksDB: blocks committed through the real pipeline, reopened, queried;
// every proof the store serves is checked with the offline verifiers and compared byte for byte
// with the in-memory reference chain (ChainBuilder) fed the same transactions. Then the store is
// damaged in each way a disk or a bug can damage it, and must refuse to open (or verification
// must fail) with a message naming what is wrong; a truncated WAL must leave a consistent prefix.
#include "ledger/store/chain_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "crypto/hex.h"
#include "ledger/consent_proof.h"
#include "ledger/log_tree.h"
#include "ledger/merkle_log.h"
#include "ledger/queries.h"
#include "ledger/schema.h"
#include "ledger/state_tree.h"
#include "store_test_util.h"
#include "tests/genesis_set.h"

namespace consent {
namespace {

using testing::CommitTxs;
using testing::kT0;
using testing::TempDir;

constexpr const char* kChain = "store-test";

class ChainStoreTest : public ::testing::Test {
 protected:
  ChainStoreTest() : ref_(ChainBuilder::ForTesting(kChain, 4, kT0 - 1000)) {}

  std::unique_ptr<ChainStore> Open(bool read_only = false) {
    return testing::OpenStore(dir_.Sub("db"), ref_.genesis(), read_only);
  }
  Status TryOpen() {
    ChainStoreOptions o;
    o.path = dir_.Sub("db");
    return ChainStore::Open(o, ref_.genesis()).status();
  }

  // Commits the same block to the store and to the reference chain.
  void Both(ChainStore& store, uint64_t time, const std::vector<SignedTx>& txs) {
    auto h = CommitTxs(store, ref_.keys(), time, txs);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    auto r = ref_.AddBlock(time, txs);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(*h, r->header) << "store and reference built different headers";
  }

  // A small history: two brands, three customers, grants, a revoke, a revoke-all, expiry.
  void BuildHistory(ChainStore& store) {
    Both(store, kT0,
         {testing::Register(kChain, brand_a_, "Brand A", kT0 - 10),
          testing::Register(kChain, brand_b_, "Brand B", kT0 - 10),
          testing::Grant(kChain, 1, brand_a_, {"analytics", "marketing.email"}, kT0 - 5),
          testing::Grant(kChain, 2, brand_a_, {"marketing.email"}, kT0 - 5, kT0 + 5000)});
    Both(store, kT0 + 1000,
         {testing::Grant(kChain, 1, brand_b_, {"marketing.sms"}, kT0 + 900),
          testing::Revoke(kChain, 1, brand_a_, {"marketing.email"}, kT0 + 901)});
    Both(store, kT0 + 2000,
         {testing::Grant(kChain, 3, brand_a_, {"personalisation"}, kT0 + 1900),
          testing::Revoke(kChain, 1, brand_b_, {}, kT0 + 1901)});
  }

  std::string Dump(const KvRead& kv) {
    std::string out;
    for (size_t c = 0; c < kColumnCount; ++c) {
      EXPECT_TRUE(kv.Scan(static_cast<Column>(c), Bytes{}, Bytes{}, [&](ByteView k, ByteView v) {
                      out += std::to_string(c) + ":" + ToHex(k) + "=" + ToHex(v) + "\n";
                      return true;
                    }).ok());
    }
    return out;
  }

  TempDir dir_;
  ChainBuilder ref_;
  SigningKey brand_a_ = testing::KeyFromLabel("brand a");
  SigningKey brand_b_ = testing::KeyFromLabel("brand b");
  PublicKey Subject(int s) {
    return testing::KeyFromLabel("subject " + std::to_string(s)).public_key();
  }
};

TEST_F(ChainStoreTest, CommitReopenAndEveryProofMatchesTheReference) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->height(), 0u);
    BuildHistory(*store);
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(store->height(), 3u);
  auto snap = store->Snapshot();

  struct Q {
    int subject;
    const SigningKey* brand;
    std::string purpose;
    ProofStatus expect;
  } queries[] = {
      {1, &brand_a_, "analytics", ProofStatus::kGranted},
      {1, &brand_a_, "marketing.email", ProofStatus::kRevoked},
      {1, &brand_b_, "marketing.sms", ProofStatus::kRevoked},  // revoke-all
      {2, &brand_a_, "marketing.email", ProofStatus::kGranted},
      {3, &brand_a_, "personalisation", ProofStatus::kGranted},
      {3, &brand_b_, "personalisation", ProofStatus::kNone},
      {2, &brand_b_, "analytics", ProofStatus::kNone},
  };
  for (const auto& q : queries) {
    SCOPED_TRACE(std::to_string(q.subject) + " " + q.purpose);
    auto p =
        ProveConsent(*snap, ref_.genesis(), Subject(q.subject), q.brand->public_key(), q.purpose);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->status, q.expect);
    auto verdict = VerifyConsentProof(*p, ref_.genesis());
    ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
    EXPECT_EQ(verdict->status, q.expect);
    EXPECT_EQ(verdict->height, 3u);
    // Byte for byte what the in-memory reference serves.
    EXPECT_EQ(ConsentProofToJson(*p), ConsentProofToJson(ref_.BuildProof(
                                          Subject(q.subject), q.brand->public_key(), q.purpose)));
  }
  // Expiry is computed at the time asked about.
  auto later = ProveConsent(*snap, ref_.genesis(), Subject(2), brand_a_.public_key(),
                            "marketing.email", kT0 + 5000);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->status, ProofStatus::kExpired);
  EXPECT_EQ(VerifyConsentProof(*later, ref_.genesis(), kT0 + 5000)->status, ProofStatus::kExpired);
}

TEST_F(ChainStoreTest, TxHistoryDirectoryHeadersAndConsistency) {
  auto store = Open();
  BuildHistory(*store);
  auto snap = store->Snapshot();
  auto head = GetHead(*snap).value();

  // Every committed tx is found with an inclusion proof against the head.
  for (uint64_t i = 0; i < ref_.log_leaf_hashes().size(); ++i) {
    const Hash32& id = ref_.log_leaf_hashes()[i];
    auto info = GetTx(*snap, id);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->location.log_index, i);
    EXPECT_TRUE(
        merkle::VerifyInclusion(i, head.header.log_size, id, info->inclusion, head.header.log_root)
            .ok());
  }
  EXPECT_EQ(GetTx(*snap, Hash32{}).status().code(), StatusCode::kNotFound);

  // Subject 1's history, paged two at a time, in log order.
  std::vector<Hash32> seen;
  uint64_t from = 0;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = SubjectHistory(*snap, Subject(1), from, 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& e : page->entries) seen.push_back(e.tx_id);
    if (!page->next) break;
    from = *page->next;
  }
  ASSERT_EQ(seen.size(), 4u);  // grant A, grant B, revoke A, revoke-all B
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_LT(GetTx(*snap, seen[i - 1])->location.log_index,
              GetTx(*snap, seen[i])->location.log_index);
  }

  // Brand A's consents, paged by cursor: every entry once.
  std::set<std::pair<PublicKey, std::string>> entries;
  std::string cursor;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = ControllerConsents(*snap, brand_a_.public_key(), cursor, 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& e : page->entries) EXPECT_TRUE(entries.insert({e.subject, e.purpose}).second);
    if (page->next_cursor.empty()) break;
    cursor = page->next_cursor;
  }
  EXPECT_EQ(entries.size(),
            4u);  // s1 analytics, s1 marketing.email, s2 marketing.email, s3 personalisation
  EXPECT_FALSE(ControllerConsents(*snap, brand_a_.public_key(), "zz", 2).ok());
  EXPECT_FALSE(ControllerConsents(*snap, brand_a_.public_key(), "", 0).ok());
  EXPECT_FALSE(ControllerConsents(*snap, brand_a_.public_key(), "", kMaxPageSize + 1).ok());

  auto dir = Directory(*snap, "", 10);
  ASSERT_TRUE(dir.ok());
  ASSERT_EQ(dir->entries.size(), 2u);
  std::set<std::string> names;
  for (const auto& e : dir->entries) names.insert(e.entry.name);
  EXPECT_EQ(names, (std::set<std::string>{"Brand A", "Brand B"}));

  auto headers = Headers(*snap, 1, 3);
  ASSERT_TRUE(headers.ok());
  ASSERT_EQ(headers->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*headers)[i].header, ref_.blocks()[i].header);
    EXPECT_TRUE(
        VerifyCommit(ref_.genesis(), i + 1, (*headers)[i].block_hash, (*headers)[i].commit).ok());
  }
  EXPECT_EQ(Headers(*snap, 2, 4).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(Headers(*snap, 0, 1).ok());

  auto cons = ConsistencyBetweenHeights(*snap, 1, 3);
  ASSERT_TRUE(cons.ok()) << cons.status().ToString();
  EXPECT_TRUE(merkle::VerifyConsistency(cons->first.header.log_size, cons->second.header.log_size,
                                        cons->first.header.log_root, cons->second.header.log_root,
                                        cons->proof)
                  .ok());
}

TEST_F(ChainStoreTest, WholeStoreVerifiesFromGenesis) {
  auto store = Open();
  BuildHistory(*store);
  std::vector<uint64_t> heights;
  Status st = VerifyChainStore(store->kv(), ref_.genesis(), dir_.Sub("scratch"),
                               [&](const VerifyProgress& p) { heights.push_back(p.height); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(heights, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("scratch")));
}

// The real store, with reads of one block body failing as RocksDB fails a read of a damaged
// file (a checksum mismatch): the fault is injected, the rest is the store.
class FailingBlockRead : public KvRead {
 public:
  FailingBlockRead(const KvRead& kv, uint64_t height) : kv_(kv), height_(height) {}
  Result<std::optional<Bytes>> Get(Column c, ByteView key) const override {
    if (c == Column::kBlocks && Bytes(key.begin(), key.end()) == schema::U64Key(height_)) {
      return Status::Corruption("block checksum mismatch (injected)");
    }
    return kv_.Get(c, key);
  }
  Status Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const override {
    return kv_.Scan(c, prefix, start, fn);
  }

 private:
  const KvRead& kv_;
  uint64_t height_;
};

TEST_F(ChainStoreTest, VerifyNamesAnUnreadableBlockBodyAsSuch) {
  auto store = Open();
  BuildHistory(*store);
  FailingBlockRead damaged(store->kv(), 2);
  Status st = VerifyChainStore(damaged, ref_.genesis(), dir_.Sub("scratch"), nullptr);
  ASSERT_FALSE(st.ok());
  // Not "missing": it is there and could not be read (it said "missing" before).
  EXPECT_EQ(st.message(), "height 2: block body: block checksum mismatch (injected)");
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("scratch")));
}

TEST_F(ChainStoreTest, VerifyFindsAnAlteredIndexRecord) {
  auto store = Open();
  BuildHistory(*store);
  // An index entry the pipeline never wrote: opening does not look at indexes, verify must.
  KvBatch b;
  b.Delete(Column::kSubjectIndex, schema::SubjectIndexKey(Subject(1), 2));
  ASSERT_TRUE(store->rocks().Write(b, true).ok());
  Status st = VerifyChainStore(store->kv(), ref_.genesis(), dir_.Sub("scratch"), nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("subject_index"), std::string::npos) << st.ToString();
}

TEST_F(ChainStoreTest, RefusesAnotherChainsStore) {
  { auto store = Open(); }
  ChainBuilder other = ChainBuilder::ForTesting("other-chain", 1);
  ChainStoreOptions o;
  o.path = dir_.Sub("db");
  auto s = ChainStore::Open(o, other.genesis());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("belongs to another chain"), std::string::npos);
}

TEST_F(ChainStoreTest, RejectsABadCommitAndChangesNothing) {
  auto store = Open();
  BuildHistory(*store);
  std::string before = Dump(store->kv());
  auto built =
      BuildBlock(store->kv(), ref_.genesis(), store->tip(), kT0 + 3000, 0,
                 {testing::Grant(kChain, 4, brand_a_, {"analytics"}, kT0 + 2900)}, kMaxBlockTxs);
  ASSERT_TRUE(built.ok());
  Commit commit;  // only 2 of the 3 needed precommits
  for (int i = 0; i < 2; ++i) {
    commit.signatures.push_back(
        SignPrecommit(ref_.keys()[i], kChain, 4, 0, built->validated.block_hash));
  }
  Status st = store->CommitBlock(built->validated, commit);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(Dump(store->kv()), before);
  EXPECT_EQ(store->height(), 3u);
}

// --- Damage: each case writes a wrong record (as a disk fault or a bug would) and reopens. ---

class DamageTest : public ChainStoreTest {
 protected:
  static Bytes Read(ChainStore& s, Column c, ByteView key) {
    auto v = s.kv().Get(c, key);
    EXPECT_TRUE(v.ok() && v->has_value());
    return v.ok() ? v->value_or(Bytes{}) : Bytes{};
  }
  void Damage(const std::function<void(ChainStore&)>& damage) {
    {
      auto store = Open();
      BuildHistory(*store);
      damage(*store);
    }
  }
  void ExpectRefused(const std::string& fragment) {
    Status st = TryOpen();
    ASSERT_FALSE(st.ok()) << "a damaged store opened";
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
    EXPECT_NE(st.message().find(fragment), std::string::npos) << st.ToString();
  }
};

TEST_F(DamageTest, StateTreeRecordFlipped) {
  Damage([](ChainStore& s) {
    // Flip one byte in the root record of the state tree.
    Bytes key = StateNodeKey(0, Hash32{});
    Bytes v = Read(s, Column::kStateNodes, key);
    ASSERT_GT(v.size(), 5u);
    v[5] ^= 0x40;
    KvBatch b;
    b.Put(Column::kStateNodes, key, v);
    ASSERT_TRUE(s.rocks().Write(b, true).ok());
  });
  ExpectRefused("state root");
}

TEST_F(DamageTest, LogRootNodeChangedIsCaughtOnOpen) {
  Damage([](ChainStore& s) {
    // The history holds 8 transactions: the root is folded from the 8 leaf hashes of tile (0, 0),
    // which is what opening reads. Flip a byte of the last one.
    ASSERT_EQ(s.tip().log_size, 8u);
    Bytes v = Read(s, Column::kLogNodes, LogTileKey(0, 0));
    ASSERT_EQ(v.size(), 8 * 32u);
    v[7 * 32 + 3] ^= 0x01;
    KvBatch b;
    b.Put(Column::kLogNodes, LogTileKey(0, 0), v);
    ASSERT_TRUE(s.rocks().Write(b, true).ok());
  });
  ExpectRefused("log root");
}

TEST_F(DamageTest, InteriorLogLeafChangedIsCaughtByVerify) {
  // Opening folds the root from the O(log n) stored nodes that cover it, so a leaf under a
  // complete subtree of 16 or more leaves is not read; verification re-executes everything and
  // must catch it. With 32 transactions the root comes from tile (1, 0) (level 4), and the leaf
  // tiles (0, 0) and (0, 1) are not read on opening.
  Damage([this](ChainStore& s) {
    std::vector<SignedTx> txs;
    for (int i = 0; i < 24; ++i)
      txs.push_back(testing::Grant(kChain, 4 + i, brand_a_, {"analytics"}, kT0 + 2900));
    Both(s, kT0 + 3000, txs);
    ASSERT_EQ(s.tip().log_size, 32u);
    Bytes v = Read(s, Column::kLogNodes, LogTileKey(0, 0));
    ASSERT_EQ(v.size(), 16 * 32u);
    v[1 * 32] ^= 0x01;  // leaf 1
    KvBatch b;
    b.Put(Column::kLogNodes, LogTileKey(0, 0), v);
    ASSERT_TRUE(s.rocks().Write(b, true).ok());
  });
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Status st = VerifyChainStore(store->kv(), ref_.genesis(), dir_.Sub("scratch"), nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("log_nodes"), std::string::npos) << st.ToString();
}

TEST_F(DamageTest, LogLeafBeyondTheHead) {
  Damage([](ChainStore& s) {
    // Tile (0, 0) holds the 8 leaves; a 9th hash in it is a leaf beyond the head's log size.
    Bytes v = Read(s, Column::kLogNodes, LogTileKey(0, 0));
    ASSERT_EQ(v.size(), s.tip().log_size * 32);
    v.insert(v.end(), 32, 7);
    KvBatch b;
    b.Put(Column::kLogNodes, LogTileKey(0, 0), v);
    ASSERT_TRUE(s.rocks().Write(b, true).ok());
  });
  ExpectRefused("beyond the head");
}

TEST_F(DamageTest, MalformedLogTileIsRefused) {
  Damage([](ChainStore& s) {
    // Tile (0, 0) cut to a length that is not a whole number of hashes.
    Bytes v = Read(s, Column::kLogNodes, LogTileKey(0, 0));
    v.resize(v.size() - 1);
    KvBatch b;
    b.Put(Column::kLogNodes, LogTileKey(0, 0), v);
    ASSERT_TRUE(s.rocks().Write(b, true).ok());
  });
  ExpectRefused("log tile at tile level 0 index 0 (tree level 0) has 255 bytes");
}

TEST_F(DamageTest, HeadHeaderByteFlipped) {
  Damage([](ChainStore& s) {
    Bytes key = schema::U64Key(3);
    Bytes v = Read(s, Column::kHeaders, key);
    ASSERT_GT(v.size(), 72u);
    // Header v2 ends: validators_hash, next_validators_hash, proposer (32 bytes each).
    v[v.size() - 72] ^= 0x01;  // inside validators_hash
    KvBatch b;
    b.Put(Column::kHeaders, key, v);
    ASSERT_TRUE(s.rocks().Write(b, true).ok());
  });
  ExpectRefused("commit does not verify");
}

TEST_F(DamageTest, HeadNextValidatorsHashFlipped) {
  Damage([](ChainStore& s) {
    Bytes key = schema::U64Key(3);
    Bytes v = Read(s, Column::kHeaders, key);
    ASSERT_GT(v.size(), 40u);
    v[v.size() - 40] ^= 0x01;  // inside next_validators_hash
    KvBatch b;
    b.Put(Column::kHeaders, key, v);
    ASSERT_TRUE(s.rocks().Write(b, true).ok());
  });
  ExpectRefused("the head's next_validators_hash is not the recorded set of the next height");
}

TEST_F(DamageTest, HeadHeaderTruncated) {
  Damage([](ChainStore& s) {
    Bytes key = schema::U64Key(3);
    Bytes v = Read(s, Column::kHeaders, key);
    v.resize(v.size() - 3);
    KvBatch b;
    b.Put(Column::kHeaders, key, v);
    ASSERT_TRUE(s.rocks().Write(b, true).ok());
  });
  ExpectRefused("cannot be read");
}

TEST_F(DamageTest, HeadPointsPastTheBlocks) {
  Damage([](ChainStore& s) {
    KvBatch b;
    b.Put(Column::kMeta, AsBytes(schema::kMetaHead), schema::U64Key(4));
    ASSERT_TRUE(s.rocks().Write(b, true).ok());
  });
  ExpectRefused("height 4");
}

TEST_F(DamageTest, FlippedByteInAnSstFileIsDetected) {
  Damage([](ChainStore& s) { ASSERT_TRUE(s.rocks().Flush().ok()); });
  // Flip a byte in the middle of every table file: RocksDB's block checksums must catch it, on
  // open or when the whole store is verified; nothing is ever served from it.
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("db"))) {
    if (e.path().extension() != ".sst") continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    auto size = std::filesystem::file_size(e.path());
    f.seekg(static_cast<std::streamoff>(size / 3));
    char c;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(static_cast<std::streamoff>(size / 3));
    f.write(&c, 1);
  }
  ChainStoreOptions o;
  o.path = dir_.Sub("db");
  auto s = ChainStore::Open(o, ref_.genesis());
  if (!s.ok()) {
    EXPECT_EQ(s.status().code(), StatusCode::kCorruption) << s.status().ToString();
    return;
  }
  Status st = VerifyChainStore((*s)->kv(), ref_.genesis(), dir_.Sub("scratch"), nullptr);
  EXPECT_FALSE(st.ok()) << "a store with flipped bytes in every table file verified";
}

TEST_F(ChainStoreTest, TruncatedWalLeavesAConsistentPrefix) {
  std::vector<Header> committed;
  {
    auto store = Open();
    for (int i = 0; i < 6; ++i) {
      auto h =
          CommitTxs(*store, ref_.keys(), kT0 + 1000 * i,
                    {testing::Grant(kChain, 10 + i, brand_a_, {"analytics"}, kT0 + 1000 * i - 1)});
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      committed.push_back(*h);
    }
  }
  // Cut the write-ahead log at several points, from a few bytes to most of it, each time on a
  // fresh copy of the store as it was at the crash (recovery rewrites the directory).
  namespace fs = std::filesystem;
  fs::copy(dir_.Sub("db"), dir_.Sub("db.bak"), fs::copy_options::recursive);
  std::string wal_name;
  for (const auto& e : fs::directory_iterator(dir_.Sub("db.bak"))) {
    if (e.path().extension() == ".log") wal_name = e.path().filename();
  }
  ASSERT_FALSE(wal_name.empty());
  auto full = fs::file_size(dir_.Sub("db.bak") + "/" + wal_name);
  for (uint64_t cut : {uint64_t{7}, full / 4, full / 2, full - full / 8}) {
    SCOPED_TRACE("cut " + std::to_string(cut) + " of " + std::to_string(full));
    fs::remove_all(dir_.Sub("db"));
    fs::copy(dir_.Sub("db.bak"), dir_.Sub("db"), fs::copy_options::recursive);
    fs::resize_file(dir_.Sub("db") + "/" + wal_name, full - cut);
    ChainStoreOptions o;
    o.path = dir_.Sub("db");
    auto s = ChainStore::Open(o, ref_.genesis());
    if (!s.ok()) {
      // Refusing is acceptable only with a clear corruption message.
      EXPECT_EQ(s.status().code(), StatusCode::kCorruption) << s.status().ToString();
      continue;
    }
    uint64_t h = (*s)->height();
    EXPECT_LE(h, committed.size());
    if (h > 0) {
      EXPECT_EQ((*s)->tip().head, committed[h - 1]);
    }
    EXPECT_TRUE(VerifyChainStore((*s)->kv(), ref_.genesis(), dir_.Sub("scratch"), nullptr).ok());
  }
}

}  // namespace
}  // namespace consent
