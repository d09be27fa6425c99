// Message types exchanged between kintod's actors. Internal to actors/:
// includes CAF, so http/ must not include it.
#pragma once

#include "actors/commands.hpp"
#include "storage/engine.hpp"

#include <caf/all.hpp>

#include <functional>
#include <memory>

namespace kinto::actors {

using write_atom = caf::atom_constant<caf::atom("write")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using retire_atom = caf::atom_constant<caf::atom("retire")>;

/// One planned object write with the callback that acknowledges it.
struct write_job {
  planned_write write;
  std::function<void(write_outcome)> done;
};

/// Storage work run by the committer inside the group's write transaction.
/// It must check before it writes, so that a refusal (conflict, missing
/// parent) leaves nothing behind; `full` or `failed` spoils the group.
struct commit_job {
  std::function<storage::status(storage::write_transaction&)> apply;
  /// Whether, after a failed group transaction, the job may run again alone.
  /// A batch session may not: it has already answered its requests.
  bool retry_alone = true;
};

} // namespace kinto::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinto::actors::write_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinto::actors::commit_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinto::storage::status)
