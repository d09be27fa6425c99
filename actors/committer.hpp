// The committer: a detached actor (own thread, since commits block) that
// applies every commit_job queued since its last commit in one write
// transaction, commits it durably, then answers each job (group commit).
#pragma once

#include "actors/messages.hpp"

namespace kinto::actors {

/// Spawns the committer over `engine`. Jobs are (commit_atom, commit_job)
/// requests answered with a storage::status once durable.
caf::actor spawn_committer(caf::actor_system& system, storage::engine& engine);

} // namespace kinto::actors
