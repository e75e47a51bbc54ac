// The validator routes (GET /v1/validators, GET /v1/validators/changes) and every answer that
// shows headers or transactions, over real sockets against a real 4-validator TestBackend whose
// blocks go through the real pipeline: approvals (SET_VALIDATORS) pending, the change decided by
// a quorum, the new set committing the next blocks, and consent proofs across the change
// verified from genesis. Also the regression for a crash: a block with a SET_VALIDATORS
// transaction delivered to an open /v1/stream (live or catching up) threw from ControllerOf
// (std::get on a kind that names no controller) on the node's commit thread.
#include <algorithm>
#include <thread>

#include "crypto/hex.h"
#include "ledger/block_json.h"
#include "ledger/consent_proof.h"
#include "ledger/queries.h"
#include "ledger/set_changes.h"
#include "tests/genesis_set.h"
#include "tests/net/test_util.h"

namespace consent::testing {
namespace {

constexpr char kChain[] = "net-test";

Seed32 SeedOf(uint8_t b) {
  Seed32 s{};
  s.fill(b);
  return s;
}

// Genesis order: v0..v3 (seeds 0x41..0x44); the rotated key of v3 (seed 0x54); an outsider.
const Seed32 kSeeds[4] = {SeedOf(0x41), SeedOf(0x42), SeedOf(0x43), SeedOf(0x44)};
const Seed32 kRotated = SeedOf(0x54);
const Seed32 kOutsider = SeedOf(0x60);

PublicKey Pub(const Seed32& s) { return SigningKey::FromSeed(s).public_key(); }

std::vector<PublicKey> Sorted(std::vector<PublicKey> keys) {
  std::sort(keys.begin(), keys.end());
  return keys;
}

SignedTx Approve(const Seed32& signer, const std::vector<PublicKey>& set, uint64_t issued_at_ms,
                 uint64_t nonce = 1) {
  SetValidatorsTx t;
  SigningKey key = SigningKey::FromSeed(signer);
  t.validator = key.public_key();
  t.validators = set;
  t.issued_at_ms = issued_at_ms;
  t.nonce = nonce;
  auto tx = SignTx(kChain, t, key);
  EXPECT_TRUE(tx.ok()) << tx.status().ToString();
  return *tx;
}

std::vector<std::string> Hexes(const std::vector<PublicKey>& keys) {
  std::vector<std::string> out;
  for (const PublicKey& k : keys) out.push_back(ToHex(k));
  return out;
}

std::vector<std::string> JsonStrings(const Json& a) {
  std::vector<std::string> out;
  for (const auto& v : a) out.push_back(v.get<std::string>());
  return out;
}

CertifiedHeader CertifiedOf(const Json& j) {
  auto h = HeaderFromJson(j["header"], "header");
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  auto c = CommitFromJson(j["commit"], "commit");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  CertifiedHeader out;
  if (h.ok()) out.header = *h;
  if (c.ok()) out.commit = *c;
  out.block_hash = out.header.Hash();
  return out;
}

class ApiValidatorsTest : public ::testing::Test {
 protected:
  ApiValidatorsTest() : backend_(kChain, {kSeeds[0], kSeeds[1], kSeeds[2], kSeeds[3]}) {}

  void SetUp() override {
    backend_.AddSigner(kRotated);
    ApiServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.request_timeout_ms = 2000;
    o.idle_timeout_ms = 5000;
    o.write_rate_per_s = 1000;
    o.write_burst = 1000;
    auto s = ApiServer::Start(o, backend_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    port_ = server_->port();
    for (const Seed32& s : kSeeds) genesis_keys_.push_back(Pub(s));
    rotated_set_ = Sorted({genesis_keys_[0], genesis_keys_[1], genesis_keys_[2], Pub(kRotated)});
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Submits one tx and expects it accepted (and so committed in a block of its own).
  void SubmitOk(const SignedTx& tx) {
    Reply r = Post(port_, "/v1/txs", TxText(tx));
    ASSERT_EQ(r.status, 202u) << r.body;
  }
  Json GetOk(const std::string& target) {
    Reply r = Get(port_, target);
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
    return r.json();
  }
  void ExpectError(const std::string& target, unsigned status, const std::string& code) {
    Reply r = Get(port_, target);
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    EXPECT_EQ(r.error_code(), code) << target << ": " << r.body;
    EXPECT_EQ(Get(port_, "/healthz").status, 200u);
  }

  // A registration and a grant (two blocks), so that there is a consent to prove.
  void RegisterAndGrant(uint8_t subject, const std::string& purpose) {
    const uint64_t now = WallMs();
    if (!registered_) {
      SubmitOk(Register(controller_, "Example Brand", now - 1000));
      registered_ = true;
    }
    SubmitOk(Grant(KeyFromByte(subject), controller_.public_key(), {purpose}, now - 500));
  }

  // v0, v1, v2 approve the rotation of v3's key, one block each; the third decides it.
  // Returns the height of the deciding block.
  uint64_t RotateV3() {
    const uint64_t now = WallMs();
    for (int i = 0; i < 3; ++i) {
      approvals_.push_back(Approve(kSeeds[i], rotated_set_, now - 100 + i));
      SubmitOk(approvals_.back());
    }
    return backend_.height();
  }

  TestBackend backend_;
  std::unique_ptr<ApiServer> server_;
  uint16_t port_ = 0;
  std::vector<PublicKey> genesis_keys_;
  std::vector<PublicKey> rotated_set_;
  std::vector<SignedTx> approvals_;
  SigningKey controller_ = KeyFromByte(2);
  bool registered_ = false;
};

TEST_F(ApiValidatorsTest, GenesisSetBeforeAnyBlockAndBeforeAnyChange) {
  Json v = GetOk("/v1/validators");
  EXPECT_EQ(v["height"], 0);
  EXPECT_EQ(v["since_height"], 1);
  EXPECT_EQ(JsonStrings(v["validators"]), Hexes(genesis_keys_));  // genesis order
  EXPECT_EQ(v["validators_hash"], ToHex(backend_.genesis().Set().Hash()));
  EXPECT_EQ(v["quorum"], 3);
  EXPECT_TRUE(v["pending"].is_array() && v["pending"].empty()) << v.dump();
  EXPECT_EQ(GetOk("/v1/validators/changes").dump(), R"({"changes":[]})");
  RegisterAndGrant(1, "email");
  v = GetOk("/v1/validators");
  EXPECT_EQ(v["height"], 2);
  EXPECT_EQ(v["since_height"], 1);
  EXPECT_EQ(GetOk("/v1/validators/changes")["changes"].size(), 0u);
  // Headers show next_validators_hash: the same set commits the next height.
  Json h = GetOk("/v1/headers?from=1&to=2");
  for (const Json& e : h["headers"]) {
    EXPECT_EQ(e["fields"]["next_validators_hash"], e["fields"]["validators_hash"]) << e.dump();
    EXPECT_EQ(e["fields"]["validators_hash"], ToHex(backend_.genesis().Set().Hash()));
  }
}

TEST_F(ApiValidatorsTest, ApprovalsPendingThenTheChangeAndTheNewSetCommits) {
  RegisterAndGrant(1, "email");  // heights 1, 2
  const Hash32 new_hash = SetHashOf(rotated_set_);
  const uint64_t now = WallMs();
  approvals_.push_back(Approve(kSeeds[0], rotated_set_, now - 100));
  SubmitOk(approvals_.back());  // height 3
  Json v = GetOk("/v1/validators");
  EXPECT_EQ(v["height"], 3);
  ASSERT_EQ(v["pending"].size(), 1u) << v.dump();
  const Json& p = v["pending"][0];
  EXPECT_EQ(p["validator"], ToHex(genesis_keys_[0]));
  EXPECT_EQ(p["set_hash"], ToHex(new_hash));
  EXPECT_EQ(p["tx_id"], ToHex(approvals_.back().Id()));
  EXPECT_EQ(p["issued_at_ms"], now - 100);
  EXPECT_EQ(p["in_office"], true);
  EXPECT_EQ(p["approvals"], 1);
  // An approval by a key outside the set is refused (409, its rule named) and changes nothing.
  Reply out = Post(port_, "/v1/txs", TxText(Approve(kOutsider, rotated_set_, now - 90)));
  EXPECT_EQ(out.status, 409u) << out.body;
  EXPECT_EQ(out.json()["error"]["rule"], "not_validator") << out.body;
  approvals_.push_back(Approve(kSeeds[1], rotated_set_, now - 80));
  SubmitOk(approvals_.back());  // height 4
  v = GetOk("/v1/validators");
  ASSERT_EQ(v["pending"].size(), 2u) << v.dump();
  for (const Json& e : v["pending"]) EXPECT_EQ(e["approvals"], 2) << v.dump();
  EXPECT_EQ(GetOk("/v1/validators/changes")["changes"].size(), 0u);
  approvals_.push_back(Approve(kSeeds[2], rotated_set_, now - 70));
  SubmitOk(approvals_.back());  // height 5: the third of 4 decides
  const uint64_t decided = backend_.height();
  ASSERT_EQ(decided, 5u);

  // The set in office is the new one from the next height; the approvals are gone.
  v = GetOk("/v1/validators");
  EXPECT_EQ(v["height"], 5);
  EXPECT_EQ(v["since_height"], 6);
  EXPECT_EQ(JsonStrings(v["validators"]), Hexes(rotated_set_));  // ascending order
  EXPECT_EQ(v["validators_hash"], ToHex(new_hash));
  EXPECT_EQ(v["quorum"], 3);
  EXPECT_TRUE(v["pending"].empty()) << v.dump();
  // Approving the set now in office is refused (no empty change), and v3's old key is no
  // longer a member.
  Reply noop = Post(port_, "/v1/txs", TxText(Approve(kSeeds[1], rotated_set_, now - 60, 2)));
  EXPECT_EQ(noop.status, 409u) << noop.body;
  EXPECT_EQ(noop.json()["error"]["rule"], "no_change") << noop.body;
  Reply gone = Post(port_, "/v1/txs", TxText(Approve(kSeeds[3], Sorted(genesis_keys_), now - 60)));
  EXPECT_EQ(gone.status, 409u) << gone.body;
  EXPECT_EQ(gone.json()["error"]["rule"], "not_validator") << gone.body;

  // The change list: the deciding block, certified by the old set, naming the new one.
  Json c = GetOk("/v1/validators/changes");
  ASSERT_EQ(c["changes"].size(), 1u) << c.dump();
  auto changes = ValidatorChangesFromJson(c["changes"], "changes");
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].header.height, decided);
  EXPECT_EQ((*changes)[0].validators.keys, rotated_set_);
  EXPECT_EQ((*changes)[0].header.validators_hash, backend_.genesis().Set().Hash());
  EXPECT_EQ((*changes)[0].header.next_validators_hash, new_hash);
  EXPECT_EQ(Json::parse(json::Dump(ValidatorChangesToJson(*changes))), c["changes"]);
  auto followed = FollowChanges(kChain, TrustedSet{1, backend_.genesis().Set()}, *changes, 7);
  ASSERT_TRUE(followed.ok()) << followed.status().ToString();
  EXPECT_EQ(followed->keys, rotated_set_);

  // The change block's header fields show both hashes; the headers after show the new set.
  RegisterAndGrant(3, "sms");  // height 6, committed by the new set (K3' signs, K3 does not)
  Json h = GetOk("/v1/headers?from=4&to=6");
  ASSERT_EQ(h["headers"].size(), 3u);
  EXPECT_EQ(h["headers"][0]["fields"]["next_validators_hash"],
            h["headers"][0]["fields"]["validators_hash"]);
  EXPECT_EQ(h["headers"][1]["fields"]["validators_hash"], ToHex(backend_.genesis().Set().Hash()));
  EXPECT_EQ(h["headers"][1]["fields"]["next_validators_hash"], ToHex(new_hash));
  EXPECT_EQ(h["headers"][2]["fields"]["validators_hash"], ToHex(new_hash));
  EXPECT_EQ(h["headers"][2]["fields"]["next_validators_hash"], ToHex(new_hash));
  CertifiedHeader six = CertifiedOf(h["headers"][2]);
  EXPECT_TRUE(
      VerifyCommit(kChain, ValidatorSet{rotated_set_}, 6, six.header.Hash(), six.commit).ok());
  bool old_key_signed = false, new_key_signed = false;
  for (const CommitSig& s : six.commit.signatures) {
    old_key_signed |= s.validator == genesis_keys_[3];
    new_key_signed |= s.validator == Pub(kRotated);
  }
  EXPECT_FALSE(old_key_signed);
  EXPECT_TRUE(new_key_signed);
  EXPECT_FALSE(VerifyCommit(backend_.genesis(), 6, six.header.Hash(), six.commit).ok());

  // /v1/status lists the set in office with the genesis names ("" for the new key).
  Json st = GetOk("/v1/status");
  ASSERT_EQ(st["validators"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const Json& e = st["validators"][i];
    EXPECT_EQ(e["public_key"], ToHex(rotated_set_[i]));
    const auto g = std::find(genesis_keys_.begin(), genesis_keys_.end(), rotated_set_[i]);
    const std::string name =
        g == genesis_keys_.end() ? "" : "v" + std::to_string(g - genesis_keys_.begin());
    EXPECT_EQ(e["name"], name) << e.dump();
  }
  EXPECT_EQ(st["validator"], true);  // v0 stays in office
}

TEST_F(ApiValidatorsTest, ProofsBeforeAndAfterTheChangeVerifyFromGenesis) {
  RegisterAndGrant(1, "email");  // heights 1, 2
  const uint64_t decided = RotateV3();
  RegisterAndGrant(3, "sms");
  const std::string ctl = ToHex(controller_.public_key());
  for (auto [subject, purpose] : {std::pair<uint8_t, const char*>{1, "email"}, {3, "sms"}}) {
    Reply r = Get(port_, "/v1/consents/" + ToHex(KeyFromByte(subject).public_key()) + "/" + ctl +
                             "/" + purpose);
    ASSERT_EQ(r.status, 200u) << r.body;
    auto proof = ParseConsentProof(r.body);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    ASSERT_EQ(proof->validator_changes.size(), 1u);
    EXPECT_EQ(proof->validator_changes[0].header.height, decided);
    auto verdict = VerifyConsentProof(*proof, backend_.genesis());
    ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
    EXPECT_EQ(verdict->status, ProofStatus::kGranted);
    // Without the change, the proof's header no longer verifies from genesis.
    ConsentProof cut = *proof;
    cut.validator_changes.clear();
    EXPECT_FALSE(VerifyConsentProof(cut, backend_.genesis()).ok());
  }
}

TEST_F(ApiValidatorsTest, SetValidatorsTransactionsRenderEverywhere) {
  RegisterAndGrant(1, "email");
  const uint64_t decided = RotateV3();
  const SignedTx& last = approvals_.back();
  // Lookup by id.
  Json t = GetOk("/v1/txs/" + ToHex(last.Id()));
  EXPECT_EQ(t["tx"]["kind"], "set_validators");
  EXPECT_EQ(t["tx"].dump(), TxJ(last).dump());
  EXPECT_EQ(t["height"], decided);
  EXPECT_EQ(t["encoding"], ToHex(last.Encode()));
  // In its block.
  Json b = GetOk("/v1/blocks/" + std::to_string(decided));
  ASSERT_EQ(b["txs"].size(), 1u);
  EXPECT_EQ(b["txs"][0]["tx"]["kind"], "set_validators");
  EXPECT_EQ(b["fields"]["next_validators_hash"], ToHex(SetHashOf(rotated_set_)));
  // No subject history lists it (it names no subject); the query still answers.
  Json hist = GetOk("/v1/subjects/" + ToHex(genesis_keys_[0]) + "/history");
  EXPECT_TRUE(hist["entries"].empty()) << hist.dump();
  // The controller directory and consents are unaffected.
  EXPECT_EQ(GetOk("/v1/controllers")["controllers"].size(), 1u);
}

// Regression: the stream computed every committed transaction's controller with std::get, which
// throws for SET_VALIDATORS (it names none): a block with an approval, committed while any
// stream was open, terminated the process (the exception left the commit thread's listener), and
// a stream catching up over one ended the catch-up thread the same way. Before the fix this test
// aborted the test binary at the first approval.
TEST_F(ApiValidatorsTest, StreamsCarryApprovalsAndFilterThemOut) {
  RegisterAndGrant(1, "email");  // log 0, 1
  const std::string ctl = ToHex(controller_.public_key());
  WsClient all(port_, "/v1/stream?from_log_index=0");
  ASSERT_TRUE(all.ok());
  WsClient mine(port_, "/v1/stream?controller=" + ctl + "&from_log_index=0");
  ASSERT_TRUE(mine.ok());
  beast::error_code ec;
  for (int i = 0; i < 2; ++i) {  // the two committed before the streams opened
    EXPECT_FALSE(Json::parse(all.ReadMessage(&ec)).is_discarded());
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_FALSE(Json::parse(mine.ReadMessage(&ec)).is_discarded());
    ASSERT_FALSE(ec) << ec.message();
  }
  const uint64_t decided = RotateV3();  // log 2, 3, 4: live while both streams are open
  RegisterAndGrant(3, "sms");           // log 5
  for (int i = 0; i < 3; ++i) {
    Json m = Json::parse(all.ReadMessage(&ec));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(m["log_index"], 2 + i);
    EXPECT_EQ(m["kind"], "set_validators");
    EXPECT_FALSE(m.contains("controller")) << m.dump();
    EXPECT_EQ(m["validator"], ToHex(genesis_keys_[i]));
    EXPECT_EQ(JsonStrings(m["validators"]), Hexes(rotated_set_));
    EXPECT_EQ(m["set_hash"], ToHex(SetHashOf(rotated_set_)));
    EXPECT_EQ(m["tx"].dump(), TxJ(approvals_[i]).dump());
    EXPECT_EQ(m["height"], decided - 2 + i);
  }
  Json g = Json::parse(all.ReadMessage(&ec));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(g["log_index"], 5);
  // The controller's stream skips the approvals: its next message is the grant.
  Json mg = Json::parse(mine.ReadMessage(&ec));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(mg["log_index"], 5) << mg.dump();
  // A stream opened now catches up over the approvals from the store.
  WsClient late(port_, "/v1/stream?from_log_index=2");
  ASSERT_TRUE(late.ok());
  Json m = Json::parse(late.ReadMessage(&ec));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(m["kind"], "set_validators");
  WsClient late_mine(port_, "/v1/stream?controller=" + ctl + "&from_log_index=2");
  ASSERT_TRUE(late_mine.ok());
  Json lm = Json::parse(late_mine.ReadMessage(&ec));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(lm["log_index"], 5) << lm.dump();
  EXPECT_EQ(Get(port_, "/healthz").status, 200u);
}

TEST_F(ApiValidatorsTest, BadRequests) {
  ExpectError("/v1/validators?x=1", 400, "invalid_request");
  ExpectError("/v1/validators?height=1", 400, "invalid_request");
  ExpectError("/v1/validators/changes?from=1", 400, "invalid_request");
  ExpectError("/v1/validators/changes/1", 404, "not_found");
  ExpectError("/v1/validators/" + ToHex(genesis_keys_[0]), 404, "not_found");
  ExpectError("/v1/validator", 404, "not_found");
  for (const char* path : {"/v1/validators", "/v1/validators/changes"}) {
    HttpClient c(port_);
    Reply r = c.Request(http::verb::post, path, "{}");
    EXPECT_EQ(r.status, 405u) << path << ": " << r.body;
    EXPECT_EQ(r.error_code(), "method_not_allowed");
    EXPECT_EQ(r.raw[http::field::allow], "GET, HEAD") << path;
    Reply d = HttpClient(port_).Request(http::verb::delete_, path);
    EXPECT_EQ(d.status, 405u) << path;
    // HEAD: the GET's status and length, no body.
    Reply g = Get(port_, path);
    HttpClient hc(port_);
    http::request<http::empty_body> req{http::verb::head, path, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(hc.stream(), req);
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    beast::flat_buffer buf;
    http::read(hc.stream(), buf, parser);
    EXPECT_EQ(parser.get().result_int(), 200u) << path;
    EXPECT_EQ(parser.get()[http::field::content_length], std::to_string(g.body.size())) << path;
  }
}

}  // namespace
}  // namespace consent::testing
