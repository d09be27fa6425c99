// The list actor: one per (parent, kind). It serializes the writes of its
// list, assigns their timestamps, remembers versions not yet committed, and
// hands each write to the committer. Internal to actors/.
#pragma once

#include "actors/messages.hpp"

#include <atomic>

namespace kinto::actors {

/// What every list actor shares.
struct list_context {
  committer_actor committer;
  std::chrono::milliseconds idle_retirement;
  /// Called when the actor has been idle; true means it may stop (it was
  /// removed from the directory and no job is queued for it).
  std::function<bool(const std::string& list_id)> retire;
};

/// Spawns the actor of `list`. `queued` counts writes submitted to it whose
/// fate it does not know yet; the actor decrements it as it learns.
list_actor spawn_list_actor(caf::actor_system& system, std::shared_ptr<const list_context> context,
                            list_key list, std::shared_ptr<std::atomic<std::size_t>> queued);

} // namespace kinto::actors
