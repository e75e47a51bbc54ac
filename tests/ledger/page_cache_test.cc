// PageCache: hash-checked lookups, byte bound and second-chance eviction, replacement, churn, the
// disabled cache.
#include "ledger/page_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>

#include <string>
#include <thread>
#include <vector>

namespace consent {
namespace {

Hash32 H(uint8_t b) {
  Hash32 h{};
  h.fill(b);
  return h;
}
Bytes K(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::shared_ptr<const Bytes> V(size_t n, uint8_t fill) {
  return std::make_shared<const Bytes>(n, fill);
}

TEST(PageCache, AnswersOnlyTheHashItWasGiven) {
  PageCache c(1 << 20);
  c.Insert(K("page-a"), H(1), V(100, 7));
  auto hit = c.Lookup(K("page-a"), H(1));
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(*hit, Bytes(100, 7));
  EXPECT_EQ(c.Lookup(K("page-a"), H(2)), nullptr);  // another version of the page
  EXPECT_EQ(c.Lookup(K("page-b"), H(1)), nullptr);  // another page
  PageCache::Stats s = c.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.entries, 1u);
}

TEST(PageCache, InsertReplacesAnEntryOfTheSameKey) {
  PageCache c(1 << 20);
  c.Insert(K("p"), H(1), V(10, 1));
  c.Insert(K("p"), H(2), V(20, 2));
  EXPECT_EQ(c.Lookup(K("p"), H(1)), nullptr);
  ASSERT_NE(c.Lookup(K("p"), H(2)), nullptr);
  EXPECT_EQ(c.stats().entries, 1u);
  EXPECT_EQ(c.stats().bytes, 1 + 20 + PageCache::kEntryOverhead);
}

TEST(PageCache, StaysWithinItsBoundAndGivesUsedEntriesASecondChance) {
  const size_t per_entry = 4 + 1000 + PageCache::kEntryOverhead;
  PageCache c(10 * per_entry);
  for (int i = 0; i < 10; ++i) c.Insert(K("k" + std::to_string(100 + i)), H(1), V(1000, 0));
  EXPECT_EQ(c.stats().entries, 10u);
  ASSERT_NE(c.Lookup(K("k100"), H(1)), nullptr);  // k100 is marked used
  c.Insert(K("k200"), H(1), V(1000, 0));          // the hand passes k100 (used), evicts k101
  EXPECT_EQ(c.stats().entries, 10u);
  EXPECT_LE(c.stats().bytes, 10 * per_entry);
  EXPECT_NE(c.Lookup(K("k100"), H(1)), nullptr);
  EXPECT_EQ(c.Lookup(K("k101"), H(1)), nullptr);
  EXPECT_NE(c.Lookup(K("k200"), H(1)), nullptr);
  for (int i = 0; i < 1000; ++i) c.Insert(K("x" + std::to_string(1000 + i)), H(3), V(1000, 0));
  EXPECT_LE(c.stats().bytes, 10 * per_entry);
}

TEST(PageCache, RefusesValuesOverAnEighthOfItsCapacityAndZeroDisablesIt) {
  PageCache c(8000);
  c.Insert(K("big"), H(1), V(1000, 0));  // 1000 + 3 + overhead > 1000
  EXPECT_EQ(c.Lookup(K("big"), H(1)), nullptr);
  EXPECT_EQ(c.stats().entries, 0u);
  PageCache off(0);
  off.Insert(K("p"), H(1), V(1, 0));
  EXPECT_EQ(off.Lookup(K("p"), H(1)), nullptr);
  EXPECT_EQ(off.stats().entries, 0u);
}

TEST(PageCache, KeysAreComparedWholeAndOverlongKeysAreNotCached) {
  PageCache c(1 << 20);
  // Keys that share a prefix, or differ only in length, are different entries.
  Bytes a = K("state-page"), b = K("state-pagf"), shorter = K("state-pag");
  c.Insert(a, H(1), V(10, 1));
  c.Insert(b, H(1), V(10, 2));
  c.Insert(shorter, H(1), V(10, 3));
  EXPECT_EQ(*c.Lookup(a, H(1)), Bytes(10, 1));
  EXPECT_EQ(*c.Lookup(b, H(1)), Bytes(10, 2));
  EXPECT_EQ(*c.Lookup(shorter, H(1)), Bytes(10, 3));
  Bytes with_zero = shorter;
  with_zero.push_back(0);  // inline keys are zero-padded: a trailing zero still makes another key
  EXPECT_EQ(c.Lookup(with_zero, H(1)), nullptr);
  // The longest cacheable key, and one byte more.
  Bytes longest(PageCache::kMaxKeyBytes, 0xab), overlong(PageCache::kMaxKeyBytes + 1, 0xab);
  c.Insert(longest, H(2), V(10, 4));
  c.Insert(overlong, H(2), V(10, 5));
  EXPECT_EQ(*c.Lookup(longest, H(2)), Bytes(10, 4));
  EXPECT_EQ(c.Lookup(overlong, H(2)), nullptr);
  EXPECT_EQ(c.stats().entries, 4u);
  const size_t o = PageCache::kEntryOverhead;  // per entry: key + value + overhead
  EXPECT_EQ(c.stats().bytes, (10 + 10 + o) * 2 + (9 + 10 + o) + (PageCache::kMaxKeyBytes + 10 + o));
}

// Heavy churn through a small cache (evictions delete from the open-addressing index while other
// keys' probe chains pass through): afterwards every live entry is still found, with the value it
// was last given, and the byte count is exactly what the live entries cost.
TEST(PageCache, ChurnKeepsEveryLiveEntryFindable) {
  const size_t capacity = 100 * (1 + 40 + PageCache::kEntryOverhead);
  PageCache c(capacity);
  std::mt19937_64 rng(7);
  const int pool = 600;
  std::vector<Bytes> keys;
  for (int i = 0; i < pool; ++i) keys.push_back(K("key-" + std::to_string(i * 7919)));
  std::vector<int> last_hash(pool, -1), last_fill(pool, 0), last_size(pool, 0);
  for (int step = 0; step < 40000; ++step) {
    const int i = static_cast<int>(rng() % pool);
    if (rng() % 3 != 0) {
      last_hash[i] = static_cast<int>(rng() % 4);
      last_fill[i] = static_cast<int>(rng() % 250);
      last_size[i] = 1 + static_cast<int>(rng() % 80);
      c.Insert(keys[i], H(uint8_t(last_hash[i])), V(size_t(last_size[i]), uint8_t(last_fill[i])));
    } else if (last_hash[i] >= 0) {
      auto hit = c.Lookup(keys[i], H(uint8_t(last_hash[i])));
      if (hit) EXPECT_EQ(*hit, Bytes(size_t(last_size[i]), uint8_t(last_fill[i])));
    }
    ASSERT_LE(c.stats().bytes, capacity);
  }
  size_t found = 0, cost = 0;
  for (int i = 0; i < pool; ++i) {
    if (last_hash[i] < 0) continue;
    auto hit = c.Lookup(keys[i], H(uint8_t(last_hash[i])));
    if (!hit) continue;
    ++found;
    cost += keys[i].size() + hit->size() + PageCache::kEntryOverhead;
    EXPECT_EQ(*hit, Bytes(size_t(last_size[i]), uint8_t(last_fill[i])));
    // An older version of the page is never answered.
    EXPECT_EQ(c.Lookup(keys[i], H(uint8_t(last_hash[i] + 10))), nullptr);
  }
  EXPECT_GT(found, 50u);  // the cache is full, not emptied by the churn
  EXPECT_EQ(found, c.stats().entries);
  EXPECT_EQ(cost, c.stats().bytes);
}

// Readers and writers on several threads (run under TSan in CI): every hit is the value that
// was inserted with that hash.
TEST(PageCache, ConcurrentUseIsSafe) {
  PageCache c(64 << 10);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const uint8_t v = uint8_t((i + t) % 7);
        const Bytes key = K("k" + std::to_string(i % 50));
        if (i % 3 == 0) {
          c.Insert(key, H(v), V(64, v));
        } else if (auto hit = c.Lookup(key, H(v)); hit && *hit != Bytes(64, v)) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(c.stats().bytes, size_t{64 << 10});
}

}  // namespace
}  // namespace consent
