// The committer: a detached actor (own thread, since fsync blocks) that
// applies every commit_job queued since its last commit in one LMDB write
// transaction, commits durably, then answers each job (group commit).
#pragma once

#include "actors/messages.hpp"

namespace kinto::actors {

/// Spawns the committer over `store`. Jobs are (commit_atom, commit_job)
/// requests answered with a storage::status once durable.
caf::actor spawn_committer(caf::actor_system& system, storage::store& store);

} // namespace kinto::actors
