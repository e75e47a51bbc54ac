// A test fixture that gives each test its own temporary directory (removed afterwards) and opens
// a real RocksKv store in it with a small block cache. Test-only; thread-compatible.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "ledger/store/rocks_kv.h"

namespace consent::testing {

class RocksFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/consent-rocks-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Opens (creating if needed) the store at dir_/db; nullptr (and a test failure) on error.
  std::unique_ptr<RocksKv> Open() {
    RocksOptions o;
    o.path = dir_ + "/db";
    o.block_cache_bytes = 1 << 20;
    auto kv = RocksKv::Open(o);
    EXPECT_TRUE(kv.ok()) << kv.status().ToString();
    return kv.ok() ? std::move(kv).value() : nullptr;
  }

  std::string dir_;
};

}  // namespace consent::testing
