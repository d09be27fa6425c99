// The steps of one object write that do not depend on who runs them: read
// the target's current state, plan the write into the outcome its client
// will hear, and the storage work that makes it real. List actors and batch sessions both use them, so
// a write means the same thing in a batch and alone. Internal to actors/.
#pragma once

#include "actors/commands.hpp"
#include "actors/history.hpp"
#include "actors/write_logic.hpp"

#include <functional>
#include <variant>

namespace kinto::actors {

/// The object `id` of `list` and its permissions, as `snap` holds them.
current_state read_current(const storage::view& snap, const list_key& list, const std::string& id);

/// A planned write: what to store, what to answer once it is durable.
struct prepared_write {
  write_plan plan;
  write_outcome outcome;
  bool touch = false;      ///< only makes sure the list has a timestamp
  /// Whether anything must be stored (false when a POST finds the object).
  bool needs_write() const { return plan.needs_write; }
};

/// Plans `cmd` against `current` and the list timestamp `list_ts`, for a
/// store whose keys are bounded by `keys`; a refusal comes back as a failed
/// outcome (412s carry the target's timestamp).
std::variant<prepared_write, write_outcome> prepare_write(const list_key& list, const write_command& cmd,
                                                          const current_state& current, std::uint64_t list_ts,
                                                          const storage::key_limits& keys);

/// The storage work of a prepared write. It checks before it writes (the
/// parent still exists, the timestamp is free), so a refusal leaves nothing.
std::function<storage::status(storage::batch&)> storage_work(const list_key& list, const std::string& id,
                                                             const prepared_write& write, std::string author,
                                                             const history_options& history);

/// The client's error for a storage status other than ok.
error failure_of(storage::status s, const list_key& list);

} // namespace kinto::actors
