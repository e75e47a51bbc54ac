// KvStateView: the committed consent state (or committed state plus a block's pending writes,
// through an OverlayKv) read from a KvRead in the layout of ledger/schema.h, as the StateView that
// CheckStateRules and ComputeChanges need. A consents Get -> GetConsent, a consents prefix scan of
// controller || subject -> PurposesOf, tx_index -> TxCommitted, directory -> GetController,
// validators "a" records -> GetApproval.
//
// Error contract: StateView's methods cannot return errors, so the first storage error or corrupt
// record met is kept in the view (error()), and from then on every method answers "absent"
// (nullopt, an empty list, false) without reading. An answer given after an error is therefore
// meaningless: a caller MUST check error() after its last use of the view and, if it is not OK,
// discard everything it computed from the view (the block pipeline fails with kStorage).
//
// Thread-safety: thread-compatible only. The const methods record the error in a mutable member,
// so one view must not be used by two threads at once. The KvRead must outlive the view.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/state.h"

namespace consent {

class KvStateView : public StateView {
 public:
  // REQUIRES: kv outlives the view.
  explicit KvStateView(const KvRead& kv) : kv_(kv) {}

  // The state_value stored under ConsentKey(controller, subject, purpose), or nullopt.
  std::optional<StateValue> GetConsent(const PublicKey& subject, const PublicKey& controller,
                                       std::string_view purpose) const override;
  // The purposes of the kConsents keys under controller || subject, ascending by bytes (the scan
  // order, which is the order PurposesOf promises). Each record's value must decode too.
  std::vector<std::string> PurposesOf(const PublicKey& subject,
                                      const PublicKey& controller) const override;
  // Whether kTxIndex holds tx_id (its location must decode).
  bool TxCommitted(const Hash32& tx_id) const override;
  std::optional<ControllerEntry> GetController(const PublicKey& controller) const override;
  // The validators column's approval record of `validator` (ReadApproval).
  std::optional<ApprovalValue> GetApproval(const PublicKey& validator) const override;

  // OK, or the first storage (kIoError, ...) or corruption (kCorruption) error met.
  Status error() const { return error_; }

 private:
  // Keeps `st` if it is the first error. Returns st.ok().
  bool Note(const Status& st) const;

  const KvRead& kv_;
  mutable Status error_;
};

}  // namespace consent
