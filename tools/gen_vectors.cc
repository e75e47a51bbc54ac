// gen_vectors: writes tests/vectors/protocol.json, the protocol test vectors, to stdout.
//
// Everything is derived from fixed seeds, so the output is byte-for-byte reproducible; the test
// command regenerates it and fails if the committed file differs, so the vectors can never drift
// from the code. tests/vectors/check_vectors.py checks every entry independently.
// Single-threaded tool.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "crypto/ed25519.h"
#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/codec.h"
#include "ledger/consensus.h"
#include "ledger/merkle_log.h"
#include "ledger/p2p_messages.h"
#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger/subject_key.h"
#include "ledger/tx.h"
#include "ledger/tx_json.h"
#include "tools/gen_vectors_sets.h"

namespace consent {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kChainId = "consent-vectors";
constexpr uint64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z

Seed32 SeedFor(const std::string& label) { return Sha256(AsBytes("vector seed: " + label)); }

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "gen_vectors: %s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

json HexList(const std::vector<Hash32>& hashes) {
  json a = json::array();
  for (const auto& h : hashes) a.push_back(ToHex(h));
  return a;
}

struct Keys {
  SigningKey brand = SigningKey::FromSeed(SeedFor("brand"));
  Seed32 customer_master = SeedFor("customer master secret");
  SigningKey subject = DeriveSubjectKey(SeedFor("customer master secret"), brand.public_key());
};

json TxEntry(const std::string& name, const Seed32& seed, const SignedTx& tx) {
  Bytes enc = tx.Encode();
  Bytes body = EncodeBody(tx.body);
  json e;
  e["name"] = name;
  e["signer_seed"] = ToHex(seed);
  e["json"] = TxToJson(tx);
  e["body"] = ToHex(body);
  e["signature"] = ToHex(tx.signature);
  e["encoding"] = ToHex(enc);
  e["tx_id"] = ToHex(tx.Id());
  return e;
}

std::vector<SignedTx> ValidTransactions(const Keys& k, json* out) {
  Seed32 subject_seed = DeriveSubjectSeed(k.customer_master, k.brand.public_key());
  std::vector<SignedTx> txs;
  auto add = [&](const std::string& name, const Seed32& seed, TxBody body) {
    SigningKey key = SigningKey::FromSeed(seed);
    SignedTx tx = Must(SignTx(kChainId, std::move(body), key), name.c_str());
    out->push_back(TxEntry(name, seed, tx));
    txs.push_back(tx);
  };

  RegisterControllerTx reg;
  reg.controller = k.brand.public_key();
  reg.name = "Café Müller GmbH — Zürich";
  reg.contact_uri = "mailto:privacy@cafe-mueller.example";
  reg.issued_at_ms = kT0;
  reg.nonce = 1;
  add("register_controller with a non-ASCII name", SeedFor("brand"), reg);

  GrantTx g1;
  g1.subject = k.subject.public_key();
  g1.controller = k.brand.public_key();
  g1.purposes = {"marketing.email", "marketing.sms", "personalisation"};
  g1.data_categories = {"contact.email", "contact.phone", "purchase-history"};
  g1.jurisdiction = "EU-GDPR";
  g1.policy_hash = Sha256(AsBytes("privacy notice v3, 2026-01-01"));
  g1.issued_at_ms = kT0 + 1000;
  g1.expires_at_ms = kT0 + 1000 + 90ull * 24 * 3600 * 1000;
  g1.nonce = 7;
  add("grant with expiry and data categories", subject_seed, g1);

  GrantTx g2;
  g2.subject = k.subject.public_key();
  g2.controller = k.brand.public_key();
  g2.purposes = {"analytics"};
  g2.jurisdiction = "";
  g2.issued_at_ms = kT0 + 2000;
  g2.expires_at_ms = 0;
  g2.nonce = 8;
  add("grant without expiry or data categories", subject_seed, g2);

  RevokeTx r1;
  r1.subject = k.subject.public_key();
  r1.controller = k.brand.public_key();
  r1.purposes = {"marketing.sms"};
  r1.issued_at_ms = kT0 + 3000;
  r1.nonce = 9;
  add("revoke of named purposes", subject_seed, r1);

  RevokeTx r2;
  r2.subject = k.subject.public_key();
  r2.controller = k.brand.public_key();
  r2.issued_at_ms = kT0 + 4000;
  r2.nonce = 10;
  add("revoke of every purpose (empty list)", subject_seed, r2);
  return txs;
}

// Invalid transactions: each breaks exactly one decoding, syntax or signature rule. Bodies are
// written field by field with the codec Writer (bypassing the syntax checks of EncodeBody) and
// signed correctly, so that the broken rule is the only fault.
json InvalidTransactions(const Keys& k) {
  json out = json::array();
  auto add = [&](const std::string& name, const Bytes& encoding) {
    std::string error;
    auto d = DecodeSignedTx(encoding);
    if (!d.ok()) {
      error = d.status().ToString();
    } else {
      Status st = VerifyTxSignature(kChainId, *d);
      if (st.ok()) {
        std::fprintf(stderr, "gen_vectors: invalid vector \"%s\" is valid\n", name.c_str());
        std::exit(1);
      }
      error = st.ToString();
    }
    out.push_back({{"name", name}, {"encoding", ToHex(encoding)}, {"error", error}});
  };
  auto signed_enc = [&](const Writer& body) {
    Bytes b = body.bytes();
    Signature sig = k.subject.Sign(SigningMessage(kChainId, b));
    Append(b, sig);
    return b;
  };
  // A GRANT body with every field given, so each case changes one thing.
  struct G {
    uint8_t kind = 1, version = 1;
    std::vector<std::string> purposes = {"marketing.email"};
    std::vector<std::string> categories = {};
    std::string jurisdiction = "EU-GDPR";
    uint64_t issued = kT0, expires = 0;
  };
  auto grant = [&](const G& g) {
    Writer w;
    w.U8(g.kind).U8(g.version).Fixed(k.subject.public_key()).Fixed(k.brand.public_key());
    w.StrList(g.purposes).StrList(g.categories).Str(g.jurisdiction).Fixed(Hash32{});
    w.U64(g.issued).U64(g.expires).U64(1);
    return w;
  };
  Bytes good = signed_enc(grant(G{}));

  {
    Bytes b(good.begin(), good.end() - 1);
    add("truncated: signature one byte short", b);
  }
  {
    Bytes b = good;
    b.push_back(0);
    add("trailing byte after the signature", b);
  }
  {
    G g;
    g.kind = 9;
    add("unknown kind 9", signed_enc(grant(g)));
  }
  {
    G g;
    g.version = 2;
    add("unsupported version 2", signed_enc(grant(g)));
  }
  {
    G g;
    g.purposes = {"marketing.sms", "marketing.email"};
    add("purposes not sorted", signed_enc(grant(g)));
  }
  {
    G g;
    g.purposes = {"marketing.email", "marketing.email"};
    add("duplicate purpose", signed_enc(grant(g)));
  }
  {
    G g;
    g.purposes = {"Marketing"};
    add("purpose with a character outside [a-z0-9._-]", signed_enc(grant(g)));
  }
  {
    G g;
    g.purposes = {};
    add("grant with no purpose", signed_enc(grant(g)));
  }
  {
    G g;
    g.purposes = {std::string(65, 'a')};
    add("purpose longer than 64 bytes", signed_enc(grant(g)));
  }
  {
    G g;
    g.jurisdiction = "eu-gdpr";
    add("jurisdiction with lowercase letters", signed_enc(grant(g)));
  }
  {
    G g;
    g.issued = kT0;
    g.expires = kT0;
    add("expires_at_ms not after issued_at_ms", signed_enc(grant(g)));
  }
  {
    Writer w;
    w.U8(3).U8(1).Fixed(k.brand.public_key()).Str("").Str("").U64(kT0).U64(1);
    Bytes b = w.bytes();
    Append(b, k.brand.Sign(SigningMessage(kChainId, b)));
    add("register_controller with an empty name", b);
  }
  {
    Writer w;
    w.U8(3).U8(1).Fixed(k.brand.public_key());
    w.U32(3).Raw(Bytes{'a', 0xc3, 0x28});  // invalid UTF-8 sequence
    w.Str("").U64(kT0).U64(1);
    Bytes b = w.bytes();
    Append(b, k.brand.Sign(SigningMessage(kChainId, b)));
    add("name that is not valid UTF-8", b);
  }
  {
    G g;
    g.categories.clear();
    for (int i = 0; i < 32; ++i) {
      char buf[80];
      std::snprintf(buf, sizeof buf, "category-%02d-%s", i, std::string(50, 'x').c_str());
      g.categories.push_back(buf);
    }
    g.purposes.clear();
    for (int i = 0; i < 32; ++i) {
      char buf[80];
      std::snprintf(buf, sizeof buf, "purpose-%02d-%s", i, std::string(50, 'x').c_str());
      g.purposes.push_back(buf);
    }
    add("signed encoding over 4096 bytes", signed_enc(grant(g)));
  }
  {
    Writer w;
    w.U8(2).U8(1).Fixed(k.subject.public_key()).Fixed(k.brand.public_key()).U32(0);
    w.U64(kT0).U64(uint64_t{1} << 53);  // nonce = 2^53
    add("nonce not below 2^53", signed_enc(w));
  }
  {
    Bytes b = good;
    b[b.size() - 10] ^= 0x01;
    add("signature with one bit flipped", b);
  }
  {
    Bytes b = grant(G{}).bytes();
    Append(b, k.subject.Sign(SigningMessage("another-chain", b)));
    add("signed for another chain id", b);
  }
  {
    Bytes b = grant(G{}).bytes();
    Append(b, k.brand.Sign(SigningMessage(kChainId, b)));
    add("grant signed by the controller, not the subject", b);
  }
  return out;
}

json SubjectKeys(const Keys& k) {
  json out = json::array();
  std::vector<PublicKey> controllers = {k.brand.public_key(),
                                        SigningKey::FromSeed(SeedFor("brand 2")).public_key()};
  std::vector<Seed32> masters = {k.customer_master, SeedFor("customer 2 master secret")};
  for (const auto& m : masters) {
    for (const auto& c : controllers) {
      Seed32 seed = DeriveSubjectSeed(m, c);
      out.push_back({{"master_secret", ToHex(m)},
                     {"controller", ToHex(c)},
                     {"seed", ToHex(seed)},
                     {"public_key", ToHex(SigningKey::FromSeed(seed).public_key())}});
    }
  }
  return out;
}

json Logs(const std::vector<SignedTx>& txs) {
  std::vector<Bytes> data;
  for (const auto& t : txs) data.push_back(t.Encode());
  for (int i = 0; data.size() < 9; ++i) data.push_back(Bytes{static_cast<uint8_t>(i), 0xff});
  json out = json::array();
  for (size_t n = 0; n <= 9; ++n) {
    std::vector<Hash32> hashes;
    json leaves = json::array();
    for (size_t i = 0; i < n; ++i) {
      hashes.push_back(merkle::LeafHash(data[i]));
      leaves.push_back(ToHex(data[i]));
    }
    json incl = json::array(), cons = json::array();
    for (uint64_t size = 1; size <= n; ++size) {
      for (uint64_t i = 0; i < size; ++i) {
        auto p = Must(merkle::InclusionProof(hashes, i, size), "inclusion proof");
        incl.push_back({{"index", i}, {"size", size}, {"proof", HexList(p)}});
      }
    }
    for (uint64_t s2 = 1; s2 <= n; ++s2) {
      for (uint64_t s1 = 1; s1 <= s2; ++s1) {
        auto p = Must(merkle::ConsistencyProof(hashes, s1, s2), "consistency proof");
        cons.push_back({{"size1", s1}, {"size2", s2}, {"proof", HexList(p)}});
      }
    }
    out.push_back({{"leaves", leaves},
                   {"root", ToHex(merkle::RootFromLeafHashes(hashes))},
                   {"inclusion", incl},
                   {"consistency", cons}});
  }
  return out;
}

json ProofJson(const Hash32& key, const std::optional<Bytes>& value, const smt::Proof& p) {
  json j;
  j["key"] = ToHex(key);
  j["value"] = value ? json(ToHex(*value)) : json(nullptr);
  j["siblings"] = HexList(p.siblings);
  // Membership: the leaf is the key's own and is implied by key and value (PROTOCOL.md 9).
  if (value || !p.leaf) {
    j["leaf"] = nullptr;
  } else {
    j["leaf"] = {{"key", ToHex(p.leaf->key)}, {"value_hash", ToHex(p.leaf->value_hash)}};
  }
  return j;
}

json States(const Keys& k) {
  json out = json::array();
  for (size_t n : {0, 1, 2, 50}) {
    smt::ReferenceSmt tree;
    std::vector<Hash32> keys;
    json entries = json::array();
    for (size_t i = 0; i < n; ++i) {
      PublicKey subj =
          SigningKey::FromSeed(SeedFor("state subject " + std::to_string(i))).public_key();
      Hash32 key = StateKey(subj, k.brand.public_key(), i % 2 ? "marketing.email" : "analytics");
      StateValue v;
      v.status = i % 3 == 0 ? ConsentStatus::kRevoked : ConsentStatus::kGranted;
      v.tx_id = Sha256(AsBytes("tx " + std::to_string(i)));
      v.issued_at_ms = kT0 + i;
      v.expires_at_ms = i % 4 == 0 ? 0 : kT0 + 1000000 + i;
      v.policy_hash = Sha256(AsBytes("policy"));
      Bytes value = v.Encode();
      tree.Set(key, value);
      keys.push_back(key);
      entries.push_back({{"key", ToHex(key)}, {"value", ToHex(value)}});
    }
    Hash32 root = tree.Root();
    json proofs = json::array();
    // Membership proofs: all entries for small states, every fifth for the large one.
    for (size_t i = 0; i < n; i += (n > 10 ? 5 : 1)) {
      proofs.push_back(ProofJson(keys[i], tree.Get(keys[i]), tree.Prove(keys[i])));
    }
    // Non-membership: find absent keys that end in an empty subtree and in another leaf.
    bool have_empty = false, have_leaf = false;
    for (int i = 0; i < 10000 && !(have_empty && have_leaf); ++i) {
      Hash32 absent = Sha256(AsBytes("absent key " + std::to_string(i)));
      smt::Proof p = tree.Prove(absent);
      bool by_leaf = p.leaf.has_value();
      if ((by_leaf && !have_leaf) || (!by_leaf && !have_empty)) {
        proofs.push_back(ProofJson(absent, std::nullopt, p));
        (by_leaf ? have_leaf : have_empty) = true;
      }
      if (n == 0 || n == 1) break;  // only one kind exists: empty tree, or the lone leaf
    }
    out.push_back({{"entries", entries}, {"root", ToHex(root)}, {"proofs", proofs}});
  }
  return out;
}

json HeaderFields(const Header& h) {
  return {{"chain_id", h.chain_id},
          {"height", h.height},
          {"time_ms", h.time_ms},
          {"prev_block_hash", ToHex(h.prev_block_hash)},
          {"log_size", h.log_size},
          {"log_root", ToHex(h.log_root)},
          {"state_root", ToHex(h.state_root)},
          {"validators_hash", ToHex(h.validators_hash)},
          {"next_validators_hash", ToHex(h.next_validators_hash)},
          {"proposer", ToHex(h.proposer)}};
}

json Headers(const Keys& k, const std::vector<SignedTx>& txs, const Genesis& genesis) {
  json out = json::array();
  // Three blocks: the registration alone, then two grants, then the two revokes, applied to a
  // MemoryState and mirrored into the reference SMT and log.
  MemoryState state;
  smt::ReferenceSmt tree;
  std::vector<Hash32> log;
  Hash32 prev{};
  std::vector<std::vector<size_t>> blocks = {{0}, {1, 2}, {3, 4}};
  uint64_t height = 0;
  for (const auto& b : blocks) {
    ++height;
    uint64_t time = kT0 + 10000 * height;
    for (size_t i : b) {
      StateChanges ch = ComputeChanges(state, txs[i]);
      TxCheck c = state.Apply(time, txs[i]);
      if (!c.ok()) {
        std::fprintf(stderr, "gen_vectors: block tx invalid: %s\n", c.message.c_str());
        std::exit(1);
      }
      for (const auto& w : ch.consents) tree.Set(w.state_key, w.value.Encode());
      log.push_back(txs[i].Id());
    }
    Header h;
    h.chain_id = kChainId;
    h.height = height;
    h.time_ms = time;
    h.prev_block_hash = prev;
    h.log_size = log.size();
    h.log_root = merkle::RootFromLeafHashes(log);
    h.state_root = tree.Root();
    h.validators_hash = genesis.ValidatorsHash();
    h.next_validators_hash = h.validators_hash;  // no change decided (section 10)
    h.proposer = genesis.Proposer(height, 0);
    prev = h.Hash();
    out.push_back({{"encoding", ToHex(h.Encode())},
                   {"block_hash", ToHex(h.Hash())},
                   {"fields", HeaderFields(h)}});
  }
  (void)k;
  return out;
}

json Votes(const Genesis& genesis, const json& headers) {
  json out = json::array();
  struct V {
    int validator;
    VoteType type;
    uint64_t height;
    uint32_t round;
    bool nil;
  } votes[] = {{0, VoteType::kPrecommit, 1, 0, false},
               {1, VoteType::kPrevote, 2, 0, false},
               {2, VoteType::kPrecommit, 2, 3, false},
               {3, VoteType::kPrevote, 3, 1, true}};
  for (const auto& v : votes) {
    Seed32 seed = SeedFor("validator " + std::to_string(v.validator));
    SigningKey key = SigningKey::FromSeed(seed);
    Hash32 block_hash{};
    if (!v.nil) {
      block_hash = Must(FromHexFixed<32>(headers[v.height - 1]["block_hash"].get<std::string>()),
                        "block hash");
    }
    Bytes msg = VoteMessage(kChainId, v.type, v.height, v.round, block_hash);
    out.push_back({{"validator_seed", ToHex(seed)},
                   {"type", static_cast<int>(v.type)},
                   {"height", v.height},
                   {"round", v.round},
                   {"block_hash", ToHex(block_hash)},
                   {"message", ToHex(msg)},
                   {"signature", ToHex(key.Sign(msg))}});
  }
  (void)genesis;
  return out;
}

SigningKey ValidatorKey(int i) {
  return SigningKey::FromSeed(SeedFor("validator " + std::to_string(i)));
}

Block BlockOf(const json& headers, const std::vector<SignedTx>& txs, uint64_t height) {
  // The blocks of Headers(): height 1 holds tx 0, height 2 txs 1 and 2, height 3 txs 3 and 4.
  static const std::vector<std::vector<size_t>> kBlockTxs = {{0}, {1, 2}, {3, 4}};
  Block b;
  Bytes enc = Must(FromHex(headers[height - 1]["encoding"].get<std::string>()), "header hex");
  b.header = Must(DecodeHeader(enc), "header");
  for (size_t i : kBlockTxs[height - 1]) b.txs.push_back(txs[i]);
  return b;
}

// Proposals: proposal_msg and its signature, for a new block and a re-proposed valid value.
json Proposals(const Genesis& genesis, const json& headers, const std::vector<SignedTx>& txs) {
  json out = json::array();
  struct P {
    const char* name;
    uint64_t height;
    uint32_t round;
    uint32_t pol_round;
  } props[] = {{"new block at height 1, round 0", 1, 0, kNoRound},
               {"new block at height 2, round 0", 2, 0, kNoRound},
               {"re-proposal of the height 2 block in round 3 with pol_round 1", 2, 3, 1}};
  for (const auto& p : props) {
    int signer = static_cast<int>((p.height + p.round) % genesis.validators.size());
    Seed32 seed = SeedFor("validator " + std::to_string(signer));
    SigningKey key = SigningKey::FromSeed(seed);
    Block block = BlockOf(headers, txs, p.height);
    Bytes header = block.header.Encode();
    SignedProposal sp = SignProposal(key, kChainId, p.height, p.round, p.pol_round, block);
    Status st = VerifyProposal(genesis.chain_id, genesis.Set(), sp);
    if (!st.ok()) {
      std::fprintf(stderr, "gen_vectors: proposal \"%s\": %s\n", p.name, st.ToString().c_str());
      std::exit(1);
    }
    out.push_back({{"name", p.name},
                   {"chain_id", kChainId},
                   {"height", p.height},
                   {"round", p.round},
                   {"pol_round", p.pol_round},
                   {"header", ToHex(header)},
                   {"signer_seed", ToHex(seed)},
                   {"proposer", ToHex(sp.proposer)},
                   {"block_hash", ToHex(sp.block_hash)},
                   {"message", ToHex(ProposalMessage(kChainId, p.height, p.round, p.pol_round,
                                                     sp.block_hash))},
                   {"signature", ToHex(sp.signature)}});
  }
  return out;
}

json VoteFields(const SignedVote& v, const Seed32& seed) {
  return {{"vote_type", static_cast<int>(v.type)},
          {"height", v.height},
          {"round", v.round},
          {"block_hash", ToHex(v.block_hash)},
          {"validator", ToHex(v.validator)},
          {"signature", ToHex(v.signature)},
          {"validator_seed", ToHex(seed)}};
}

json TxList(const std::vector<SignedTx>& txs) {
  json a = json::array();
  for (const auto& t : txs) a.push_back(ToHex(t.Encode()));
  return a;
}

// Checks that the frame decodes and re-encodes to itself, then returns its vector entry.
json Frame(const std::string& name, const std::string& type, const p2p::Message& m, json fields) {
  Bytes frame = p2p::Encode(m);
  auto d = Must(p2p::Decode(frame), name.c_str());
  if (p2p::Encode(d) != frame || type != p2p::MessageName(d)) {
    std::fprintf(stderr, "gen_vectors: frame \"%s\" does not round-trip\n", name.c_str());
    std::exit(1);
  }
  return {{"name", name}, {"type", type}, {"fields", std::move(fields)}, {"frame", ToHex(frame)}};
}

json P2pFrames(const Genesis& genesis, const json& headers, const std::vector<SignedTx>& txs) {
  json out = json::array();
  const Hash32 genesis_hash = Sha256(AsBytes("vector genesis"));
  const Hash32 challenge_a = Sha256(AsBytes("vector challenge a"));
  SigningKey a = ValidatorKey(0), b = ValidatorKey(1);
  Hash32 block2 = BlockOf(headers, txs, 2).header.Hash();

  // One link: validator 0 dialled validator 1. Both hellos, then both hello_acks, each over the
  // transcript of the two hellos in role order, ended by the signer's role.
  auto hello_entry = [](const p2p::Hello& h) {
    return json{{"chain_id", h.chain_id},
                {"genesis_hash", ToHex(h.genesis_hash)},
                {"protocol_version", h.protocol_version},
                {"node_key", ToHex(h.node_key)},
                {"challenge", ToHex(h.challenge)},
                {"height", h.height}};
  };
  p2p::Hello hello;
  hello.chain_id = kChainId;
  hello.genesis_hash = genesis_hash;
  hello.node_key = a.public_key();
  hello.challenge = challenge_a;
  hello.height = 3;
  out.push_back(Frame("hello from validator 0 (the dialer)", "hello", hello, hello_entry(hello)));
  p2p::Hello hello_b = hello;
  hello_b.node_key = b.public_key();
  hello_b.challenge = Sha256(AsBytes("vector challenge b"));
  hello_b.height = 2;
  out.push_back(
      Frame("hello from validator 1 (the acceptor)", "hello", hello_b, hello_entry(hello_b)));

  const p2p::HandshakeTranscript transcript = p2p::TranscriptOf(hello, hello_b);
  auto ack_entry = [&](const char* name, const SigningKey& key, const char* seed_name,
                       p2p::LinkRole role) {
    Bytes hs = p2p::HandshakeMessage(transcript, role);
    p2p::HelloAck ack{key.Sign(hs)};
    return Frame(name, "hello_ack", ack,
                 {{"signature", ToHex(ack.signature)},
                  {"handshake",
                   {{"role", role == p2p::LinkRole::kDialer ? "dialer" : "acceptor"},
                    {"chain_id", transcript.chain_id},
                    {"genesis_hash", ToHex(transcript.genesis_hash)},
                    {"protocol_version", transcript.protocol_version},
                    {"dialer_key", ToHex(transcript.dialer_key)},
                    {"dialer_challenge", ToHex(transcript.dialer_challenge)},
                    {"acceptor_key", ToHex(transcript.acceptor_key)},
                    {"acceptor_challenge", ToHex(transcript.acceptor_challenge)},
                    {"signer", ToHex(key.public_key())},
                    {"signer_seed", ToHex(SeedFor(seed_name))},
                    {"message", ToHex(hs)}}}});
  };
  out.push_back(ack_entry("hello_ack by validator 1, the acceptor, on that link", b, "validator 1",
                          p2p::LinkRole::kAcceptor));
  out.push_back(ack_entry("hello_ack by validator 0, the dialer, on that link", a, "validator 0",
                          p2p::LinkRole::kDialer));

  p2p::StatusMsg status{
      3, Must(FromHexFixed<32>(headers[2]["block_hash"].get<std::string>()), "head hash")};
  out.push_back(Frame("status at height 3", "status", status,
                      {{"height", status.height}, {"head_hash", ToHex(status.head_hash)}}));

  p2p::TxsMsg txs_msg{{txs[1], txs[2]}};
  out.push_back(Frame("txs with the two grants of transactions[1..2]", "txs", txs_msg,
                      {{"txs", TxList(txs_msg.txs)}}));

  {
    Block block = BlockOf(headers, txs, 1);
    int signer = static_cast<int>(1 % genesis.validators.size());
    SigningKey key = ValidatorKey(signer);
    SignedProposal sp = SignProposal(key, kChainId, 1, 0, kNoRound, block);
    out.push_back(Frame("proposal of the height 1 block (one tx), round 0", "proposal",
                        p2p::ProposalMsg{sp},
                        {{"height", sp.height},
                         {"round", sp.round},
                         {"pol_round", sp.pol_round},
                         {"proposer", ToHex(sp.proposer)},
                         {"signature", ToHex(sp.signature)},
                         {"header", ToHex(block.header.Encode())},
                         {"txs", TxList(block.txs)},
                         {"signer_seed", ToHex(SeedFor("validator " + std::to_string(signer)))}}));
  }

  struct V {
    const char* name;
    int validator;
    VoteType type;
    uint32_t round;
    bool nil;
  } votes[] = {{"prevote for the height 2 block", 0, VoteType::kPrevote, 0, false},
               {"precommit for the height 2 block", 1, VoteType::kPrecommit, 0, false},
               {"nil prevote", 2, VoteType::kPrevote, 1, true}};
  for (const auto& v : votes) {
    SignedVote sv = SignVote(ValidatorKey(v.validator), kChainId, v.type, 2, v.round,
                             v.nil ? Hash32{} : block2);
    out.push_back(Frame(v.name, "vote", p2p::VoteMsg{sv},
                        VoteFields(sv, SeedFor("validator " + std::to_string(v.validator)))));
  }

  p2p::BlockRequest req{2, 50};
  out.push_back(Frame("block_req from height 2, 50 blocks", "block_req", req,
                      {{"from_height", req.from_height}, {"count", req.count}}));

  {
    Block block = BlockOf(headers, txs, 2);
    Hash32 hash = block.header.Hash();
    p2p::BlockWithCommit bwc{block, Commit{}};
    bwc.commit.round = 0;
    json sigs = json::array();
    for (int i = 0; i < 3; ++i) {
      SignedVote sv = SignVote(ValidatorKey(i), kChainId, VoteType::kPrecommit, 2, 0, hash);
      bwc.commit.signatures.push_back({sv.validator, sv.signature});
      sigs.push_back({{"validator", ToHex(sv.validator)},
                      {"signature", ToHex(sv.signature)},
                      {"validator_seed", ToHex(SeedFor("validator " + std::to_string(i)))}});
    }
    Status st = VerifyCommit(genesis.chain_id, genesis.Set(), 2, hash, bwc.commit);
    if (!st.ok()) {
      std::fprintf(stderr, "gen_vectors: block_resp commit: %s\n", st.ToString().c_str());
      std::exit(1);
    }
    p2p::BlockResponse resp;
    resp.blocks.push_back(bwc);
    out.push_back(Frame("block_resp with the height 2 block and its commit (3 of 4)", "block_resp",
                        resp,
                        {{"blocks",
                          {{{"header", ToHex(block.header.Encode())},
                            {"txs", TxList(block.txs)},
                            {"commit_round", bwc.commit.round},
                            {"signatures", sigs}}}}}));
  }

  {
    // Validator 3 prevotes the height 2 block and nil in the same round.
    SigningKey key = ValidatorKey(3);
    Seed32 seed = SeedFor("validator 3");
    Evidence ev = VoteEquivocation(SignVote(key, kChainId, VoteType::kPrevote, 2, 1, block2),
                                   SignVote(key, kChainId, VoteType::kPrevote, 2, 1, Hash32{}));
    out.push_back(Frame("evidence: two prevotes of validator 3 in one round", "evidence",
                        p2p::EvidenceMsg{ev},
                        {{"a", VoteFields(ev.a, seed)}, {"b", VoteFields(ev.b, seed)}}));
  }

  {
    // The proposer of height 2, round 1 signs two different proposals (p2p type 11).
    const PublicKey& proposer = genesis.Proposer(2, 1);
    int index = 0;
    while (genesis.validators[static_cast<size_t>(index)].public_key != proposer) ++index;
    SigningKey key = ValidatorKey(index);
    Seed32 seed = SeedFor("validator " + std::to_string(index));
    auto ref = [&](const Hash32& block_hash) {
      SignedProposalRef r{2, 1, kNoRound, block_hash, key.public_key(), Signature{}};
      r.signature = key.Sign(ProposalMessage(kChainId, 2, 1, kNoRound, block_hash));
      return r;
    };
    Evidence ev;
    ev.kind = EvidenceKind::kDuplicateProposal;
    ev.pa = ref(block2);
    ev.pb = ref(Sha256(AsBytes("another block of height 2")));
    auto fields = [&](const SignedProposalRef& r) {
      return json{{"height", r.height},
                  {"round", r.round},
                  {"pol_round", r.pol_round},
                  {"block_hash", ToHex(r.block_hash)},
                  {"proposer", ToHex(r.proposer)},
                  {"signature", ToHex(r.signature)},
                  {"signer_seed", ToHex(seed)}};
    };
    out.push_back(Frame("proposal_evidence: two proposals of one proposer in one round",
                        "proposal_evidence", p2p::EvidenceMsg{ev},
                        {{"a", fields(ev.pa)}, {"b", fields(ev.pb)}}));
  }

  p2p::Goodbye bye{"duplicate link"};
  out.push_back(Frame("goodbye", "goodbye", bye, {{"reason", bye.reason}}));
  return out;
}

// Frames that p2p::Decode must refuse; `rule` names the broken rule in one word.
json P2pInvalidFrames() {
  json out = json::array();
  auto add = [&](const std::string& name, const std::string& rule, const Bytes& frame) {
    auto d = p2p::Decode(frame);
    if (d.ok()) {
      std::fprintf(stderr, "gen_vectors: invalid frame \"%s\" decodes\n", name.c_str());
      std::exit(1);
    }
    out.push_back({{"name", name},
                   {"rule", rule},
                   {"frame", ToHex(frame)},
                   {"error", d.status().ToString()}});
  };
  Bytes status = p2p::Encode(p2p::StatusMsg{3, Sha256(AsBytes("vector head"))});
  {
    Bytes b = status;
    b[0] = 2;
    add("unknown wire version 2", "version", b);
  }
  {
    Bytes b = status;
    b[1] = 12;
    add("unknown message type 12", "type", b);
  }
  {
    Bytes b = status;
    b.push_back(0);
    add("status with a trailing byte", "trailing", b);
  }
  {
    Bytes b(status.begin(), status.end() - 1);
    add("status truncated by one byte", "truncated", b);
  }
  {
    Writer w;
    w.U8(p2p::kWireVersion).U8(4).U32(static_cast<uint32_t>(p2p::kMaxGossipTxs + 1));
    add("txs with a count of 1001 (cap 1000)", "count", w.bytes());
  }
  {
    Writer w;
    w.U8(p2p::kWireVersion).U8(8).U32(static_cast<uint32_t>(p2p::kMaxBlocksPerResponse + 1));
    add("block_resp with a count of 51 (cap 50)", "count", w.bytes());
  }
  {
    Writer w;
    w.U8(p2p::kWireVersion).U8(7).U64(1).U32(0);
    add("block_req with count 0 (must be 1..50)", "count", w.bytes());
  }
  {
    Writer w;
    w.U8(p2p::kWireVersion).U8(10).Str(std::string(p2p::kMaxGoodbyeBytes + 1, 'x'));
    add("goodbye reason of 257 bytes (cap 256)", "length", w.bytes());
  }
  {
    Writer w;
    w.U8(p2p::kWireVersion).U8(6).U8(3).U64(2).U32(0).Fixed(Hash32{}).Fixed(PublicKey{});
    w.Fixed(Signature{});
    add("vote with vote_type 3", "vote_type", w.bytes());
  }
  {
    Writer w;
    w.U8(p2p::kWireVersion).U8(1).Str("Consent-Vectors").Fixed(Hash32{}).U32(1);
    w.Fixed(PublicKey{}).Fixed(Hash32{}).U64(0);
    add("hello with a chain id outside [a-z0-9._-]", "chain_id", w.bytes());
  }
  return out;
}

int Main() {
  Keys k;
  Genesis genesis;
  genesis.chain_id = kChainId;
  genesis.genesis_time_ms = kT0;
  for (int i = 0; i < 4; ++i) {
    genesis.validators.push_back(
        {"validator-" + std::to_string(i),
         SigningKey::FromSeed(SeedFor("validator " + std::to_string(i))).public_key()});
  }
  json v;
  v["chain_id"] = kChainId;
  json txs_json = json::array();
  std::vector<SignedTx> txs = ValidTransactions(k, &txs_json);
  v["transactions"] = txs_json;
  v["invalid_transactions"] = InvalidTransactions(k);
  v["subject_keys"] = SubjectKeys(k);
  v["log"] = Logs(txs);
  v["state"] = States(k);
  v["headers"] = Headers(k, txs, genesis);
  v["votes"] = Votes(genesis, v["headers"]);
  v["proposals"] = Proposals(genesis, v["headers"], txs);
  v["p2p_frames"] = P2pFrames(genesis, v["headers"], txs);
  v["p2p_invalid_frames"] = P2pInvalidFrames();
  v["set_changes"] = vectors::SetChangeVectors(kChainId, kT0, SeedFor);
  std::cout << v.dump(1) << "\n";
  return 0;
}

}  // namespace
}  // namespace consent

int main() { return consent::Main(); }
