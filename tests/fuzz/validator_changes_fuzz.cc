// Fuzz target for ValidatorChangesFromJson and FollowChanges (PROTOCOL.md section 10): arbitrary
// text must parse as a validator_changes list or fail cleanly; a parsed list must survive
// ValidatorChangesToJson -> ValidatorChangesFromJson unchanged; and walking it from the genesis
// set of a fixed chain with two real changes (set_change_fixture.h) must return without crashing,
// fail with a message naming the change and the check ("validator_changes[i]: <check>: ..."), or
// succeed only on the chain's own history: without the validators' keys no input can make the
// walk accept a change block the chain did not decide, so an accepted list is a prefix of the
// real changes (same headers, same sets) and ends on the set that commits the height asked.
// Also walked from a checkpoint (the set in office at height 3).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ledger/json_strict.h"
#include "ledger/set_changes.h"
#include "tests/fuzz/set_change_fixture.h"
#include "tests/fuzz/tx_fuzz_util.h"

namespace {

using namespace consent;

void CheckWalk(const fuzz::SetChangeFixture& f, const TrustedSet& start,
               const std::vector<ValidatorChange>& changes, uint64_t height) {
  auto held = FollowChanges(f.genesis.chain_id, start, changes, height);
  if (!held.ok()) {
    const std::string m = held.status().message();
    if (!(m.rfind("validator_changes[", 0) == 0 || m.rfind("validator_changes: ", 0) == 0)) {
      std::fprintf(stderr, "unexpected message: %s\n", m.c_str());
      std::abort();
    }
    return;
  }
  // Only real changes at or after the start, in order, and the set they lead to is the chain's.
  size_t first = 0;
  while (first < f.changes.size() && f.changes[first].header.height < start.from_height) ++first;
  FUZZ_CHECK(first + changes.size() <= f.changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    FUZZ_CHECK(changes[i].header == f.changes[first + i].header);
    FUZZ_CHECK(changes[i].validators == f.changes[first + i].validators);
  }
  const ValidatorSet& expected =
      changes.empty() ? start.validators : f.changes[first + changes.size() - 1].validators;
  FUZZ_CHECK(*held == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::SetChangeFixture& f = fuzz::GetSetChangeFixture();
  auto doc = json::ParseStrict(std::string_view(reinterpret_cast<const char*>(data), size), 1 << 20,
                               "validator_changes");
  if (!doc.ok()) return 0;
  auto changes = ValidatorChangesFromJson(*doc, "validator_changes");
  if (!changes.ok()) return 0;
  const std::string text = json::Dump(ValidatorChangesToJson(*changes));
  auto again = ValidatorChangesFromJson(json::Json::parse(text), "validator_changes");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *changes);
  FUZZ_CHECK(json::Dump(ValidatorChangesToJson(*again)) == text);

  const TrustedSet from_genesis{1, f.genesis.Set()};
  const TrustedSet from_checkpoint{3, f.changes[0].validators};
  for (uint64_t height : {uint64_t{1}, uint64_t{3}, f.proven_height, uint64_t{1} << 40}) {
    CheckWalk(f, from_genesis, *changes, height);
    CheckWalk(f, from_checkpoint, *changes, height);
  }
  return 0;
}
