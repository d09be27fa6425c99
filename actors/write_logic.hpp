// The rules of one write, as a pure function: preconditions, timestamps,
// data merging, permission updates and per-kind validation. No I/O, no actors,
// so that every rule can be unit-tested.
#pragma once

#include "actors/commands.hpp"
#include "storage/engine.hpp"

#include <variant>
#include <vector>

namespace kinto::actors {

/// What the store holds for the target, as the list actor sees it.
struct current_state {
  std::optional<storage::object> object; ///< live object or tombstone
  json::value permissions = json::value::object();
  bool exists() const { return object && !object->deleted; }
};

/// A write ready to be applied and acknowledged.
struct write_plan {
  bool needs_write = true;                  ///< false when POST returns an existing object
  bool created = false;
  storage::object object;                   ///< new version or tombstone
  std::optional<std::uint64_t> previous;    ///< former timestamp (change index entry to move)
  std::string permissions = "{}";           ///< new permissions JSON text
  std::uint64_t list_timestamp = 0;         ///< list timestamp after the write
  std::vector<std::string> members_added;   ///< groups only
  std::vector<std::string> members_removed; ///< groups only
  bool erase_children = false;              ///< bucket or collection deletion
};

/// Plans `cmd` on the object `cmd.id` of `list` given its current state, the
/// list timestamp `list_ts` (0 when the list never had one) and the clock.
/// A write whose keys would not fit in `keys` (the object's URI, a principal
/// of its permissions, a group member) is refused with 400, errno 107.
std::variant<write_plan, error> plan_write(const list_key& list, const write_command& cmd,
                                           const current_state& current, std::uint64_t list_ts,
                                           std::uint64_t now_ms, const storage::key_limits& keys);

/// Milliseconds since the Unix epoch.
std::uint64_t now_ms();

/// Checks data rules that hold for every write of a kind (group members,
/// collection cache_expires and schema, bucket *:schema fields).
std::optional<error> validate_data(kind k, const json::value& data);

/// 400, errno 107, when a principal of `permissions` or a member in `data`
/// (groups) is longer than storage keys allow.
std::optional<error> check_principal_lengths(kind k, const json::value& data, const json::value& permissions,
                                             const storage::key_limits& keys);

} // namespace kinto::actors
