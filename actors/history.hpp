// The history plugin's write side (batch-and-plugins.md §3.1): each change
// of a bucket, group, collection or record appends an entry to its bucket's
// history, in the same transaction as the change. Internal to actors/.
#pragma once

#include "actors/commands.hpp"

#include <string>
#include <vector>

namespace kinto::actors {

struct history_options {
  bool enabled = false;
  std::vector<std::string> exclude_resources; ///< URIs (and everything below) not tracked
  std::vector<std::string> exclude_user_ids;  ///< authors not tracked
  /// Trimming: per bucket and resource name (and per user, for the users
  /// listed), past max_count + threshold entries the oldest go, down to
  /// max_count. max_count <= 0: no trimming.
  std::int64_t auto_trim_max_count = -1;
  std::int64_t auto_trim_threshold = 100;
  std::vector<std::string> auto_trim_user_ids;
};

/// Appends the entry of `plan` (a write of `id` in `list` by `author`) to the
/// history of its bucket, unless excluded. Its timestamp follows the history
/// list's; its read permission is fixed from the ACLs at this moment.
[[nodiscard]] storage::status record_history(storage::writer& b, const history_options& options, const list_key& list,
                                             const std::string& id, const write_plan& plan, const std::string& author);

} // namespace kinto::actors
