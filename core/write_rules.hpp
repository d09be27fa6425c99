// The rules of one write (resources.md §4-§8, concurrency.md §2 and §4):
// preconditions, data merging, permission updates, per-kind validation and
// the write's first timestamps, as pure functions over the target's state
// in a view; the list's actor only stamps the plan again when its list moved
// on meanwhile. No I/O beyond the view, no actors, so that every rule can be
// unit-tested.
#pragma once

#include "actors/commands.hpp"
#include "storage/engine.hpp"

#include <variant>
#include <vector>

namespace kinto::core {

using actors::write_command;
using actors::write_op;
using actors::write_plan;
using actors::patch_format;
using actors::planned_write;
using actors::write_outcome;
using actors::preconditions;
using actors::now_ms;

/// What a view holds for the target of a write.
struct current_state {
  std::optional<storage::object> object; ///< live object or tombstone
  json::value permissions = json::value::object();
  bool exists() const { return object && !object->deleted; }
};

/// Plans `cmd` on the object `cmd.id` of `list` given its current state, the
/// list timestamp `list_ts` (0 when the list never had one) and the clock.
/// A write whose keys would not fit in `keys` (the object's URI, a principal
/// of its permissions, a group member) is refused with 400, errno 107.
std::variant<write_plan, error> plan_write(const list_key& list, const write_command& cmd,
                                           const current_state& current, std::uint64_t list_ts,
                                           std::uint64_t now_ms, const storage::key_limits& keys);

/// The object `id` of `list` and its permissions (decoded once), as `v` holds them.
current_state read_current(const storage::view& v, const list_key& list, const std::string& id);

/// Plans `cmd` on `current`, its target's state as read from `v`, whose list
/// timestamp it takes.
std::variant<planned_write, write_outcome> plan_on(const storage::view& v, const current_state& current,
                                                   const list_key& list, const write_command& cmd,
                                                   const storage::key_limits& keys);

/// Plans `cmd` against what `v` holds: its target's state and its list's
/// timestamp, for an engine whose keys are bounded by `keys`. A refusal
/// comes back as a failed outcome (a 412 carries the target's timestamp);
/// a POST of an existing id as its outcome, with nothing to write.
std::variant<planned_write, write_outcome> plan_against(const storage::view& v, const list_key& list,
                                                        const write_command& cmd, const storage::key_limits& keys);

/// Checks data rules that hold for every write of a kind (group members,
/// collection cache_expires and schema, bucket *:schema fields).
std::optional<error> validate_data(kind k, const json::value& data);

/// 400, errno 107, when a principal of `permissions` or a member in `data`
/// (groups) is longer than storage keys allow.
std::optional<error> check_principal_lengths(kind k, const json::value& data, const json::value& permissions,
                                             const storage::key_limits& keys);

} // namespace kinto::core
