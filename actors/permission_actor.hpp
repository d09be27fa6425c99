// The permission actor: resolves the principals of a user (group
// memberships) and answers whether principals appear in access control
// entries, from caches that list actors invalidate after every committed
// write that changes permissions or memberships. Internal to actors/.
#pragma once

#include "actors/authorization.hpp"
#include "actors/messages.hpp"

namespace kinto::actors {

using authorize_atom = caf::atom_constant<caf::atom("authorize")>;
using invalidate_atom = caf::atom_constant<caf::atom("invalidat")>;

/// A question with the callback that receives the answer (on an actor thread).
struct authorization_job {
  authorization_request request;
  std::function<void(authorization)> done;
};

caf::actor spawn_permission_actor(caf::actor_system& system, storage::store& store, std::size_t cache_entries);

} // namespace kinto::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinto::actors::authorization_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinto::actors::invalidation)
