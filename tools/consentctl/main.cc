// consentctl: the command-line tool for customers, brands and auditors.
//
// Offline: key generation, the per-brand subject id, signing grants, revocations and controller
// registrations (to a file with --out), inspecting a signed transaction, verifying a consent
// proof against a genesis file. With a node (--node URL, env CONSENT_NODE, default
// http://127.0.0.1:7800): submitting what is signed, status, prove, a customer's verified
// history, an auditor's check of the whole chain, the validator set in office and a validator's
// approval of a new one (tools/consentctl/node_commands.h). The checks themselves are the light
// verifier's (ledger/light_verifier.h); consentctl fetches and prints.
// Exit codes: 0 success, 1 a negative verdict or a refused request, 2 usage or input errors.
// Single-threaded, but for one helper thread that resolves the node's host name (http_client.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "crypto/ed25519.h"
#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/consent_proof.h"
#include "ledger/subject_key.h"
#include "ledger/tx.h"
#include "ledger/tx_json.h"
#include "tools/consentctl/brand_list.h"
#include "tools/consentctl/node_commands.h"

namespace consent {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitNegative = 1;
constexpr int kExitUsage = 2;
constexpr size_t kMaxPolicyFileBytes = 16 * 1024 * 1024;
constexpr size_t kMaxTxFileBytes = 64 * 1024;

int Fail(const Status& st, int code = kExitUsage) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return code;
}

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t RandomNonce() {
  uint64_t n = 0;
  RandomBytes(reinterpret_cast<uint8_t*>(&n), sizeof n);
  return n & ((uint64_t{1} << 53) - 1);  // JSON integers stay below 2^53 (PROTOCOL.md 1)
}

// "90d", "12h", "30m", "45s" -> milliseconds.
Result<uint64_t> ParseDuration(const std::string& s) {
  if (s.size() < 2)
    return Status::Invalid("duration \"" + s + "\" must look like 90d, 12h, 30m or 45s");
  char unit = s.back();
  uint64_t mult = unit == 'd'   ? 86400000
                  : unit == 'h' ? 3600000
                  : unit == 'm' ? 60000
                  : unit == 's' ? 1000
                                : 0;
  if (mult == 0)
    return Status::Invalid("duration \"" + s + "\" has unknown unit (use d, h, m or s)");
  uint64_t n = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') n = n * 10 + static_cast<uint64_t>(s[i] - '0');
    if (s[i] < '0' || s[i] > '9' || n > 1000000) {  // n <= 10000009: no overflow
      return Status::Invalid("duration \"" + s +
                             "\" must be a whole number of at most 1000000 units");
    }
  }
  if (n == 0) return Status::Invalid("duration \"" + s + "\" must be positive");
  return n * mult;
}

// For the integer options (times in ms, nonces, the timeout): plain decimal digits up to `max`,
// checked on what the user typed, before CLI11 converts it (CLI11 would take "-1" or
// "99999999999999999999" as 2^64-1, and read a leading 0 as octal: "010" as 8). Leading zeros
// are allowed and mean nothing ("010" is ten), as in the other tools (tools/arg_util.h); they
// are removed here so that CLI11 sees plain decimal.
CLI::Validator Decimal(uint64_t max, const std::string& range) {
  return CLI::Validator(
      [max, range](std::string& v) -> std::string {
        const std::string typed = v;
        size_t first = 0;
        while (first + 1 < v.size() && v[first] == '0') ++first;
        const std::string digits = v.substr(first);
        uint64_t n = 0;
        bool ok = !digits.empty() && digits.size() <= 19;
        for (char ch : digits) {
          if (ch < '0' || ch > '9') ok = false;
          if (ok) n = n * 10 + static_cast<uint64_t>(ch - '0');
        }
        if (!ok || n > max) return "\"" + typed + "\" is not a whole number from " + range;
        v = digits;
        return "";
      },
      "");  // no description: the option's type already says UINT in --help
}
// JSON integers stay below 2^53 (PROTOCOL.md 1).
const CLI::Validator kUint53 = Decimal(kMaxTxInteger, "0 to 9007199254740991 (2^53-1)");

// Writes `text` to `path` ("-" = stdout), refusing to overwrite an existing file.
Status WriteOut(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text;
    return Status::Ok();
  }
  return ctl::WriteNewFile(path, text);
}

Result<PublicKey> ParseKeyArg(const std::string& hex, const char* what) {
  auto k = FromHexFixed<32>(hex);
  if (!k.ok()) return k.status().Prefixed(what);
  return *k;
}

// The key that signs for a customer with `controller`: derived from the master secret.
Result<SigningKey> CustomerKeyFor(const std::string& key_path, const PublicKey& controller) {
  ASSIGN_OR_RETURN(KeyFile kf, ReadKeyFile(key_path));
  if (kf.kind != KeyKind::kCustomer) {
    return Status::Invalid(key_path + " is a " + KeyKindName(kf.kind) +
                           " key; grants and revocations are signed with a customer key");
  }
  return DeriveSubjectKey(kf.secret, controller);
}

// Signs `body` for the chain (given, the pinned genesis's, or the node's), then writes it to
// `out_path` or, without one, submits it to the node. With a pinned genesis, the node must serve
// its chain (checked before signing; exit 2 otherwise) and a "committed" answer is verified.
int EmitTx(const ctl::NodeArgs& node, std::string chain_id, TxBody body, const SigningKey& key,
           const std::string& out_path, bool wait, const std::string& genesis_flag) {
  auto pinned = ctl::LoadPinnedGenesis(genesis_flag);
  if (!pinned.ok()) return Fail(pinned.status());
  const ctl::PinnedGenesis* pin = pinned->has_value() ? &**pinned : nullptr;
  if (pin != nullptr) {
    const std::string& want = pin->genesis.chain_id;
    if (!chain_id.empty() && chain_id != want && out_path.empty()) {
      return Fail(Status::Invalid(
          "--chain-id " + chain_id + " is not the chain of the pinned genesis " + pin->path + " (" +
          want + ", pinned by " + pin->from + "); use --out to sign for another chain offline"));
    }
    if (chain_id.empty()) chain_id = want;
    if (out_path.empty()) {
      if (Status st = ctl::CheckNodeServes(node, *pin); !st.ok()) return Fail(st);
    }
  } else if (chain_id.empty()) {
    auto c = ctl::FetchChainId(node);
    if (!c.ok()) {
      return Fail(c.status().Prefixed("cannot learn the chain id from " + node.url +
                                      " (pass --chain-id to sign offline)"));
    }
    chain_id = *c;
  } else if (out_path.empty()) {
    // Signed for a chain named by hand and sent to a node: the node would refuse a signature for
    // another chain as not verifying, without saying why. Say it here, before signing.
    auto c = ctl::FetchChainId(node);
    if (!c.ok()) {
      return Fail(c.status().Prefixed("cannot learn the chain id from " + node.url +
                                      " to check --chain-id " + chain_id));
    }
    if (*c != chain_id) {
      return Fail(Status::Invalid("--chain-id " + chain_id + " is not the chain of " + node.url +
                                  " (" + *c + "): the node would refuse the signature; leave " +
                                  "out --chain-id to sign for the node's chain, or use --out " +
                                  "to sign for another chain offline"));
    }
  }
  auto tx = SignTx(chain_id, std::move(body), key);
  if (!tx.ok()) return Fail(tx.status());
  if (out_path.empty()) return ctl::SubmitTx(node, *tx, wait, pin);
  Status st = WriteOut(out_path, TxToJson(*tx).dump(2) + "\n");
  if (!st.ok()) return Fail(st);
  std::fprintf(stderr, "signed %s %s\n", TxKindName(KindOf(tx->body)), ToHex(tx->Id()).c_str());
  return kExitOk;
}

struct Common {
  std::string chain_id;  // empty: ask the node
  std::string out;       // empty: submit to the node
  std::string genesis;   // empty: CONSENT_GENESIS or the config file's, if any
  uint64_t issued_at_ms = 0;
  uint64_t nonce = 0;
  bool wait = false;
  void Add(CLI::App* c) {
    c->add_option("--chain-id", chain_id, "chain to sign for (default: the node's)");
    c->add_option("--out", out,
                  "write the signed JSON here ('-' = stdout) instead of submitting it");
    c->add_option("--issued-at-ms", issued_at_ms, "issue time (default: now)")->transform(kUint53);
    c->add_option("--nonce", nonce, "nonce (default: random)")->transform(kUint53);
    c->add_flag("--wait", wait,
                "when submitting, wait until the transaction is committed (checked against the "
                "pinned genesis, if any)");
    c->add_option("--genesis", genesis,
                  "the chain's genesis.json: sign only for its chain, refuse a node of another, "
                  "and verify \"committed\" (default: env CONSENT_GENESIS, or `genesis` in "
                  "$XDG_CONFIG_HOME/consentctl/config.toml)");
  }
  uint64_t Issued() const { return issued_at_ms ? issued_at_ms : NowMs(); }
  uint64_t Nonce() const { return nonce ? nonce : RandomNonce(); }
};

int Run(int argc, char** argv) {
  InitCrypto();
  CLI::App app{"consentctl: customers grant and revoke consent, brands register, auditors verify"};
  app.require_subcommand(1);
  app.fallthrough();
  int rc = kExitOk;
  ctl::NodeArgs node;
  const char* env_node = std::getenv("CONSENT_NODE");
  node.url = env_node && *env_node ? env_node : "http://127.0.0.1:7800";
  app.add_option("--node", node.url, "the node's API (env CONSENT_NODE)")->capture_default_str();
  app.add_flag("--json", node.json, "machine-readable output");
  app.add_option(
         "--timeout-ms", node.timeout_ms,
         "give up when connecting to the node, sending to it or reading its answer takes "
         "longer than this (keep it above the node's api.wait_commit_timeout_ms for --wait)")
      ->envname("CONSENT_TIMEOUT_MS")
      ->check(CLI::Range(1u, 3'600'000u))
      ->transform(Decimal(3'600'000, "1 to 3600000"))
      ->capture_default_str();

  // keygen
  auto* keygen = app.add_subcommand("keygen", "make a new key file (mode 0600; never overwrites)");
  std::string kind_name, key_out;
  keygen->add_option("kind", kind_name, "customer | brand | validator")->required();
  keygen->add_option("--out", key_out, "key file to create")->required();
  keygen->callback([&] {
    auto kind = ParseKeyKind(kind_name);
    if (!kind.ok()) {
      rc = Fail(kind.status());
      return;
    }
    KeyFile k = KeyFile::Generate(*kind);
    Status st = WriteKeyFile(key_out, k);
    if (!st.ok()) {
      rc = Fail(st);
      return;
    }
    if (node.json) {
      nlohmann::ordered_json j;
      j["kind"] = KeyKindName(*kind);
      j["file"] = key_out;
      // A customer's master secret has no public key of its own (see `consentctl id`).
      if (*kind != KeyKind::kCustomer) j["public_key"] = ToHex(k.public_key);
      std::printf("%s\n", j.dump(2).c_str());
    } else if (*kind == KeyKind::kCustomer) {
      std::printf(
          "wrote customer master secret to %s (use `consentctl id` for a brand's subject key)\n",
          key_out.c_str());
    } else {
      std::printf("%s\n", ToHex(k.public_key).c_str());
    }
  });

  // id
  auto* id = app.add_subcommand("id", "print the customer's subject key for one brand");
  std::string id_key, id_controller;
  id->add_option("--key", id_key, "customer key file")->required();
  id->add_option("--controller", id_controller, "the brand's public key (hex)")->required();
  id->callback([&] {
    auto c = ParseKeyArg(id_controller, "--controller");
    if (!c.ok()) {
      rc = Fail(c.status());
      return;
    }
    auto k = CustomerKeyFor(id_key, *c);
    if (!k.ok()) {
      rc = Fail(k.status());
      return;
    }
    // Recorded for `history`; the subject key is printed whether or not that works.
    if (Status st = ctl::RememberBrand(id_key, *c); !st.ok()) {
      std::fprintf(stderr, "warning: %s\n", st.message().c_str());
    }
    if (node.json) {
      nlohmann::ordered_json j;
      j["subject"] = ToHex(k->public_key());
      j["controller"] = ToHex(*c);
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("%s\n", ToHex(k->public_key()).c_str());
    }
  });

  // grant
  auto* grant = app.add_subcommand("grant", "sign a consent grant");
  Common gc;
  std::string g_key, g_controller, g_policy_file, g_policy_hash, g_expires, g_juris;
  std::vector<std::string> g_purposes, g_categories;
  uint64_t g_expires_at = 0;
  grant->add_option("--key", g_key, "customer key file")->required();
  grant->add_option("--controller", g_controller, "the brand's public key (hex)")->required();
  grant->add_option("--purpose", g_purposes, "purpose, e.g. marketing.email (repeatable)")
      ->required();
  grant->add_option("--category", g_categories, "data category (repeatable)");
  grant->add_option("--jurisdiction", g_juris, "e.g. EU-GDPR, US-CA-CCPA");
  auto* pf = grant->add_option("--policy-file", g_policy_file, "the privacy notice shown (hashed)");
  auto* ph = grant->add_option("--policy-hash", g_policy_hash, "SHA-256 of the notice (hex)");
  pf->excludes(ph);
  auto* ex = grant->add_option("--expires", g_expires, "validity from now: 90d, 12h, 30m, 45s");
  auto* exa = grant
                  ->add_option("--expires-at-ms", g_expires_at,
                               "absolute expiry (ms since epoch; 0 = never)")
                  ->transform(kUint53);
  ex->excludes(exa);
  gc.Add(grant);
  grant->callback([&] {
    auto c = ParseKeyArg(g_controller, "--controller");
    if (!c.ok()) {
      rc = Fail(c.status());
      return;
    }
    auto key = CustomerKeyFor(g_key, *c);
    if (!key.ok()) {
      rc = Fail(key.status());
      return;
    }
    if (Status st = ctl::RememberBrand(g_key, *c); !st.ok()) {
      rc = Fail(st);
      return;
    }
    GrantTx g;
    g.subject = key->public_key();
    g.controller = *c;
    g.purposes = g_purposes;
    std::sort(g.purposes.begin(), g.purposes.end());
    g.data_categories = g_categories;
    std::sort(g.data_categories.begin(), g.data_categories.end());
    g.jurisdiction = g_juris;
    if (!g_policy_file.empty()) {
      auto text = ctl::ReadFileCapped(g_policy_file, kMaxPolicyFileBytes);
      if (!text.ok()) {
        rc = Fail(text.status());
        return;
      }
      g.policy_hash = Sha256(AsBytes(*text));
    } else if (!g_policy_hash.empty()) {
      auto h = FromHexFixed<32>(g_policy_hash);
      if (!h.ok()) {
        rc = Fail(h.status().Prefixed("--policy-hash"));
        return;
      }
      g.policy_hash = *h;
    }
    g.issued_at_ms = gc.Issued();
    if (!g_expires.empty()) {
      auto d = ParseDuration(g_expires);
      if (!d.ok()) {
        rc = Fail(d.status());
        return;
      }
      g.expires_at_ms = g.issued_at_ms + *d;
    } else {
      g.expires_at_ms = g_expires_at;
    }
    // A grant that is expired on arrival grants nothing, yet replaces the purpose's state (a
    // grant in force, or a revocation) like any newer grant: refused, not sent by mistake.
    // (An expiry not after the issue time is left to the syntax rule's own message.)
    if (const uint64_t now = NowMs(); g.expires_at_ms > g.issued_at_ms && g.expires_at_ms <= now) {
      rc = Fail(Status::Invalid(
          "the grant would be expired before it is sent: it expires at " +
          std::to_string(g.expires_at_ms) + " (" + ctl::IsoTime(g.expires_at_ms) +
          "), and now is " + std::to_string(now) + " (" + ctl::IsoTime(now) + ")" +
          (g_expires.empty() ? std::string() : "; --expires counts from --issued-at-ms")));
      return;
    }
    g.nonce = gc.Nonce();
    rc = EmitTx(node, gc.chain_id, g, *key, gc.out, gc.wait, gc.genesis);
  });

  // revoke
  auto* revoke = app.add_subcommand("revoke", "sign a revocation of some or all purposes");
  Common rcm;
  std::string r_key, r_controller;
  std::vector<std::string> r_purposes;
  bool r_all = false;
  revoke->add_option("--key", r_key, "customer key file")->required();
  revoke->add_option("--controller", r_controller, "the brand's public key (hex)")->required();
  auto* rp = revoke->add_option("--purpose", r_purposes, "purpose to revoke (repeatable)");
  auto* ra = revoke->add_flag("--all", r_all, "revoke every purpose granted to this brand");
  rp->excludes(ra);
  rcm.Add(revoke);
  revoke->callback([&] {
    if (r_purposes.empty() && !r_all) {
      rc = Fail(Status::Invalid("name at least one --purpose, or --all"));
      return;
    }
    auto c = ParseKeyArg(r_controller, "--controller");
    if (!c.ok()) {
      rc = Fail(c.status());
      return;
    }
    auto key = CustomerKeyFor(r_key, *c);
    if (!key.ok()) {
      rc = Fail(key.status());
      return;
    }
    if (Status st = ctl::RememberBrand(r_key, *c); !st.ok()) {
      rc = Fail(st);
      return;
    }
    RevokeTx r;
    r.subject = key->public_key();
    r.controller = *c;
    r.purposes = r_purposes;
    std::sort(r.purposes.begin(), r.purposes.end());
    r.issued_at_ms = rcm.Issued();
    r.nonce = rcm.Nonce();
    rc = EmitTx(node, rcm.chain_id, r, *key, rcm.out, rcm.wait, rcm.genesis);
  });

  // register
  auto* reg = app.add_subcommand("register", "sign a brand's entry in the controller directory");
  Common regc;
  std::string reg_key, reg_name, reg_contact;
  reg->add_option("--key", reg_key, "brand key file")->required();
  reg->add_option("--name", reg_name, "the brand's name (1..128 bytes)")->required();
  reg->add_option("--contact", reg_contact, "privacy contact URI");
  regc.Add(reg);
  reg->callback([&] {
    auto kf = ReadKeyFile(reg_key);
    if (!kf.ok()) {
      rc = Fail(kf.status());
      return;
    }
    if (kf->kind != KeyKind::kBrand) {
      rc = Fail(Status::Invalid(reg_key + " is not a brand key"));
      return;
    }
    SigningKey key = SigningKey::FromSeed(kf->secret);
    RegisterControllerTx r;
    r.controller = key.public_key();
    r.name = reg_name;
    r.contact_uri = reg_contact;
    r.issued_at_ms = regc.Issued();
    r.nonce = regc.Nonce();
    rc = EmitTx(node, regc.chain_id, r, key, regc.out, regc.wait, regc.genesis);
  });

  // verify
  auto* verify = app.add_subcommand(
      "verify", "check a consent proof offline against a genesis file (no network)");
  std::string v_proof, v_genesis;
  uint64_t v_at = 0;
  verify
      ->add_option("proof", v_proof, "proof JSON from `consentctl prove` or the API ('-' = stdin)")
      ->required();
  verify->add_option("--genesis", v_genesis,
                     "the chain's genesis.json, the only trust root (default: env "
                     "CONSENT_GENESIS, or `genesis` in the consentctl config file)");
  std::string v_expect;
  verify
      ->add_option("--at-ms", v_at,
                   "judge the consent at this time, in ms since the epoch, not before the "
                   "proof's block time (default: now, or the block time if that is later)")
      ->transform(kUint53);
  verify
      ->add_option("--expect", v_expect,
                   "exit 1 unless the proof is VALID and the consent is in this state at that "
                   "time: granted, revoked, expired or none (for scripts: `verify ... --expect "
                   "granted && send`)")
      ->check(CLI::IsMember({"granted", "revoked", "expired", "none"}));
  std::string v_max_age;
  verify->add_option("--max-age", v_max_age,
                     "refuse (exit 1, STALE) a proof whose block is older than this at the time "
                     "judged: 60s, 5m, 2h, 0 = no check (default 60s, or env CONSENT_MAX_AGE, or "
                     "max_age in the config file); the validators commit a block every few "
                     "seconds, so an old proof comes from a cut-off or lying node");
  std::string v_checkpoint;
  verify->add_option("--checkpoint", v_checkpoint,
                     "start from this audit checkpoint (written by `audit --checkpoint` or "
                     "`--write-checkpoint`) instead of the genesis: immune to a past validator "
                     "set's keys below it; a proof below its height is refused (exit 2)");
  verify->callback([&] {
    auto max_age = ctl::ResolveMaxAge(v_max_age);
    if (!max_age.ok()) {
      rc = Fail(max_age.status());
      return;
    }
    ctl::VerifyArgs va;
    va.proof_path = v_proof;
    va.genesis = v_genesis;
    va.checkpoint = v_checkpoint;
    if (verify->count("--at-ms") > 0) va.at_ms = v_at;
    va.expect = v_expect;
    va.max_age_ms = *max_age;
    rc = ctl::CmdVerify(node, va);
  });

  // inspect
  auto* inspect = app.add_subcommand(
      "inspect", "check a signed transaction file (syntax and signature) and print its id");
  std::string i_file, i_chain, i_genesis;
  inspect->add_option("file", i_file, "transaction JSON ('-' = stdin)")->required();
  auto* i_chain_opt = inspect->add_option(
      "--chain-id", i_chain, "chain it must be signed for (default: the node's, or --genesis)");
  inspect
      ->add_option("--genesis", i_genesis,
                   "genesis.json whose chain it must be signed for (offline, like --chain-id)")
      ->excludes(i_chain_opt);
  inspect->callback([&] {
    std::string text;
    if (i_file == "-") {
      std::stringstream ss;
      ss << std::cin.rdbuf();
      text = ss.str();
    } else {
      auto t = ctl::ReadFileCapped(i_file, kMaxTxFileBytes);
      if (!t.ok()) {
        rc = Fail(t.status());
        return;
      }
      text = *t;
    }
    auto tx = TxFromJsonText(text);
    if (!tx.ok()) {
      if (node.json) {
        nlohmann::ordered_json j;
        j["valid"] = false;
        j["error"] = tx.status().message();
        std::printf("%s\n", j.dump(2).c_str());
      } else {
        std::printf("INVALID: %s\n", tx.status().message().c_str());
      }
      rc = kExitNegative;
      return;
    }
    // The chain the signature is checked for, and where that came from (always said: a
    // signature for another chain does not verify, and nothing else tells the two apart).
    std::string chain = i_chain, from = "--chain-id";
    if (!i_chain.empty()) {
      if (Status st = CheckChainId(i_chain); !st.ok()) {
        rc = Fail(st.Prefixed("--chain-id"));
        return;
      }
    } else if (auto pin = ctl::LoadPinnedGenesis(i_genesis); !pin.ok()) {
      rc = Fail(pin.status());
      return;
    } else if (pin->has_value()) {
      chain = (*pin)->genesis.chain_id;
      from = "the genesis " + (*pin)->path;
    } else {
      auto c = ctl::FetchChainId(node);
      if (!c.ok()) {
        rc = Fail(c.status().Prefixed("cannot learn the chain id from " + node.url +
                                      " (pass --chain-id or --genesis to inspect offline)"));
        return;
      }
      chain = *c;
      from = "the node " + node.url;
    }
    Status sig = VerifyTxSignature(chain, *tx);
    if (node.json) {
      nlohmann::ordered_json j;
      j["valid"] = sig.ok();
      if (!sig.ok()) j["error"] = sig.message();
      j["chain_id"] = chain;
      j["tx_id"] = ToHex(tx->Id());
      j["tx"] = TxToJson(*tx);
      std::printf("%s\n", j.dump(2).c_str());
    } else if (sig.ok()) {
      std::printf("VALID %s %s signed by %s for chain %s (from %s)\n", TxKindName(KindOf(tx->body)),
                  ToHex(tx->Id()).c_str(), ToHex(SignerOf(tx->body)).c_str(), chain.c_str(),
                  from.c_str());
    } else {
      std::printf("INVALID: %s (chain id from %s; signed for another chain?)\n",
                  sig.message().c_str(), from.c_str());
    }
    rc = sig.ok() ? kExitOk : kExitNegative;
  });

  // submit
  auto* submit =
      app.add_subcommand("submit", "submit a signed transaction file (one tx or an array)");
  std::string sub_file;
  bool sub_wait = false;
  submit->add_option("file", sub_file, "transaction JSON a customer signed")->required();
  submit->add_flag("--wait", sub_wait, "wait until committed");
  std::string sub_genesis;
  submit->add_option("--genesis", sub_genesis,
                     "the chain's genesis.json: refuse a node of another chain and verify "
                     "\"committed\" (default: env CONSENT_GENESIS, or the config file's)");
  submit->callback([&] {
    auto pin = ctl::LoadPinnedGenesis(sub_genesis);
    if (!pin.ok()) {
      rc = Fail(pin.status());
      return;
    }
    rc = ctl::CmdSubmitFile(node, sub_file, sub_wait, pin->has_value() ? &**pin : nullptr);
  });

  // status
  auto* status = app.add_subcommand("status", "the node's chain, height, head and mempool");
  status->callback([&] { rc = ctl::CmdStatus(node); });

  // prove
  auto* prove = app.add_subcommand("prove", "fetch the consent proof (PROTOCOL.md section 9)");
  std::string p_subject, p_controller, p_purpose, p_out;
  uint64_t p_at = 0;
  prove->add_option("--subject", p_subject, "the customer's subject key for this brand (hex)")
      ->required();
  prove->add_option("--controller", p_controller, "the brand's public key (hex)")->required();
  prove->add_option("--purpose", p_purpose, "e.g. marketing.email")->required();
  prove
      ->add_option("--at-ms", p_at,
                   "the status at this time, in ms since the epoch, not before the head's block "
                   "time (default: now by the node's clock)")
      ->transform(kUint53);
  prove->add_option("--out", p_out, "write the proof here (default: stdout)");
  prove->callback([&] {
    std::optional<uint64_t> at;
    if (prove->count("--at-ms") > 0) at = p_at;
    rc = ctl::CmdProve(node, p_subject, p_controller, p_purpose, at, p_out);
  });

  // history
  auto* history = app.add_subcommand(
      "history",
      "every grant and revoke this customer made, verified, at the brands recorded beside the "
      "key file (KEY.brands, written by grant, revoke and id)");
  std::string h_key, h_genesis;
  std::vector<std::string> h_controllers;
  history->add_option("--key", h_key, "customer key file")->required();
  history->add_option("--genesis", h_genesis,
                      "genesis.json to verify the node's head against (default: env "
                      "CONSENT_GENESIS, or `genesis` in the consentctl config file; without "
                      "one, the validators the node reports)");
  history->add_option("--controller", h_controllers,
                      "also look at this brand (hex), e.g. one not recorded beside the key file");
  bool h_scan = false;
  history->add_flag("--scan-directory", h_scan,
                    "look at every brand of the directory, not only those recorded in KEY.brands "
                    "(warns: the node learns that all these subject keys are one person's)");
  std::string h_max_age;
  history->add_option("--max-age", h_max_age,
                      "refuse (exit 1) a node whose head is older than this: 60s, 5m, 0 = no "
                      "check (default 60s, or env CONSENT_MAX_AGE, or max_age in the config "
                      "file)");
  history->callback([&] {
    auto max_age = ctl::ResolveMaxAge(h_max_age);
    if (!max_age.ok()) {
      rc = Fail(max_age.status());
      return;
    }
    rc = ctl::CmdHistory(node, h_key, h_genesis, h_controllers, h_scan, *max_age);
  });

  // audit
  auto* audit = app.add_subcommand(
      "audit",
      "check the whole chain the node serves against a genesis file: every header and commit "
      "from block 1 (or a checkpoint) to the head, and that the log only grew");
  std::string a_genesis, a_checkpoint;
  audit->add_option("--genesis", a_genesis,
                    "the chain's genesis.json, the only trust root (default: env "
                    "CONSENT_GENESIS, or `genesis` in the consentctl config file)");
  audit->add_option("--checkpoint", a_checkpoint,
                    "start from the head recorded in this file by an earlier audit, and record "
                    "the new head there when valid (created if missing)");
  std::string a_write;
  audit->add_option("--write-checkpoint", a_write,
                    "when valid, record the audited head (height, block hash, set in office) in "
                    "this file instead (replaced atomically); for `verify --checkpoint`");
  std::string a_max_age;
  audit->add_option("--max-age", a_max_age,
                    "refuse (exit 1, STALE; the checkpoint unchanged) a head older than this: "
                    "60s, 5m, 0 = no check (default 60s, or env CONSENT_MAX_AGE, or max_age in "
                    "the config file)");
  audit->callback([&] {
    auto max_age = ctl::ResolveMaxAge(a_max_age);
    if (!max_age.ok()) {
      rc = Fail(max_age.status());
      return;
    }
    rc = ctl::CmdAudit(node, a_genesis, a_checkpoint, a_write, *max_age);
  });

  // validators, validators approve
  auto* validators = app.add_subcommand(
      "validators", "the validator set in office and the changes pending approval");
  std::string vs_genesis;
  validators->add_option("--genesis", vs_genesis,
                         "genesis.json: the validators' names, and the set the node reports "
                         "checked from it through every change (default: env CONSENT_GENESIS, "
                         "or the config file's; without one, the node's word)");
  auto* approve = validators->add_subcommand(
      "approve",
      "sign this validator's approval (SET_VALIDATORS) of a new set: the set in office with "
      "--add, --remove and --replace applied");
  ctl::ApproveArgs aa;
  approve->add_option("--key", aa.key_path, "this validator's node key file")->required();
  approve->add_option("--add", aa.add, "add this key (hex; repeatable)");
  approve->add_option("--remove", aa.remove, "remove this key (hex; repeatable)");
  approve->add_option("--replace", aa.replace, "replace OLD with NEW (OLD=NEW, hex; repeatable)");
  approve->add_option("--out", aa.out,
                      "write the signed JSON here ('-' = stdout) instead of submitting it");
  approve->add_flag("--wait", aa.wait, "wait until committed, then show the approvals counted");
  approve->add_option("--genesis", aa.genesis,
                      "genesis.json: refuse a node of another chain, verify \"committed\"");
  approve->add_option("--issued-at-ms", aa.issued_at_ms, "issue time (default: now)")
      ->transform(kUint53);
  approve->add_option("--nonce", aa.nonce, "nonce (default: random)")->transform(kUint53);
  approve->callback([&] {
    if (aa.issued_at_ms == 0) aa.issued_at_ms = NowMs();
    if (aa.nonce == 0) aa.nonce = RandomNonce();
    rc = ctl::CmdApprove(node, aa);
  });
  validators->callback([&] {
    if (validators->get_subcommands().empty()) rc = ctl::CmdValidators(node, vs_genesis);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return rc;
}

}  // namespace
}  // namespace consent

int main(int argc, char** argv) { return consent::Run(argc, argv); }
