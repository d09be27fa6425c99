// The steps of one planned write that do not depend on who runs them: the
// storage work that makes it real, and the client's error for a storage
// status. List actors and batch sessions both use them, so a write means
// the same thing in a batch and alone. Internal to actors/.
#pragma once

#include "actors/commands.hpp"
#include "actors/creation_log.hpp"
#include "actors/history.hpp"

#include <functional>

namespace kinto::actors {

/// The storage work of a stamped write. It checks before it writes (the
/// parent still exists, the version planned on is the stored one, the
/// timestamp is free), so a refusal leaves nothing. A creation is noted in
/// `creations` (when given).
storage::status apply_write(storage::writer& b, const list_key& list, const planned_write& w,
                            const history_options& history, creation_log* creations);

/// The client's error for a storage status other than ok (and stale).
error failure_of(storage::status s, const list_key& list);

} // namespace kinto::actors
