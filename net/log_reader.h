// The committed-log reader moved to ledger/queries.h (LogReader, LoggedTx) so that net/ does not
// decode schema:: records; this header remains so that existing includes keep compiling.
// Thread-safety: see ledger/queries.h.
#pragma once

#include "ledger/queries.h"
