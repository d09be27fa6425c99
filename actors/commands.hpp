// What the HTTP edge asks of the write path, and what it gets back. Plain
// data, free of CAF, so that http/ can include it without the actor runtime.
#pragma once

#include "schema/error.hpp"
#include "base/json.hpp"
#include "schema/resource.hpp"
#include "storage/engine.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kinto::actors {

enum class write_op : std::uint8_t {
  create, ///< POST on a plural endpoint: returns the existing object if the id is taken
  put,    ///< create or replace
  patch,  ///< modify an existing object
  remove, ///< delete one object (tombstone, cascade)
  touch,  ///< make sure the list has a timestamp (first read of an empty list)
};

enum class patch_format : std::uint8_t { merge, merge_patch, json_patch };

/// If-Match / If-None-Match, already syntax-checked.
struct preconditions {
  std::optional<std::uint64_t> if_match; ///< quoted timestamp
  bool if_match_any = false;             ///< If-Match: *
  bool if_none_match_any = false;        ///< If-None-Match: *
  bool any() const { return if_match || if_match_any || if_none_match_any; }
};

struct write_command {
  write_op op = write_op::put;
  std::string id;
  std::optional<json::value> data;        ///< the body's `data` object
  std::optional<json::value> permissions; ///< the body's `permissions` object
  std::optional<json::value> patch;       ///< JSON-Patch operations (json_patch format)
  patch_format format = patch_format::merge;
  preconditions pre;
  std::string author;                     ///< user id, or system.Everyone when anonymous
  bool explicit_permissions = true;
  std::optional<std::uint64_t> tombstone_timestamp; ///< DELETE ?last_modified=
  /// The id was generated for a POST without one: as upstream, schemas then
  /// see the data without an id.
  bool id_generated = false;
  /// Validation of the final data of a create or update (JSON Schema), run
  /// as the write is planned, on the data with the object's `id` set
  /// (unless `id_generated`); may add fields (a record's `schema`).
  std::function<std::optional<error>(json::value& data)> validate;
};

/// A write planned on a version of its target: what storage gets once the
/// list's actor has given it its timestamp (stamp()).
struct write_plan {
  bool needs_write = true;                  ///< false when POST returns an existing object
  bool touch = false;                       ///< only makes sure the list has a timestamp
  bool created = false;
  storage::object object;                   ///< new version (with its permissions) or tombstone
  std::optional<std::uint64_t> previous;    ///< timestamp of the version planned on; nullopt: nothing stored
  std::uint64_t list_seen = 0;              ///< the list's timestamp in the view it was planned on (0: none)
  /// The timestamp the client asked for (`last_modified` in the data, or a
  /// DELETE's `?last_modified=`), when it may be honoured (concurrency.md §2).
  std::optional<std::uint64_t> proposed;
  /// Where the digits of `last_modified` begin in `object.data`, which ends
  /// with them and a closing brace (0 for tombstones and touches).
  std::size_t stamp_at = 0;
  std::uint64_t list_timestamp = 0;         ///< list timestamp after the write
  std::vector<std::string> members_added;   ///< groups only
  std::vector<std::string> members_removed; ///< groups only
  bool erase_children = false;              ///< bucket or collection deletion
};

/// A planned write of one object, as the write path takes it.
struct planned_write {
  std::string id;
  std::string author;   ///< user id, or system.Everyone when anonymous
  write_plan plan;
  std::string previous; ///< JSON text of the object before a PATCH (its response)
};

/// Milliseconds since the Unix epoch.
std::uint64_t now_ms();

/// concurrency.md §2: the object's timestamp and the list's new one, given
/// the client's proposal, the list's timestamp and the clock.
std::pair<std::uint64_t, std::uint64_t> assign_timestamp(std::optional<std::uint64_t> proposed, std::uint64_t list_ts,
                                                         std::uint64_t now);

/// Gives `plan` its timestamps for a list whose timestamp is `list_ts` (0:
/// none yet): the object's, its data's `last_modified`, the list's after it.
void stamp(write_plan& plan, std::uint64_t list_ts, std::uint64_t now);

struct write_outcome {
  std::optional<error> failure;
  bool created = false;           ///< 201 rather than 200
  std::uint64_t last_modified = 0; ///< also set on failures: the target's current timestamp
  std::string data;               ///< JSON text of the object (or tombstone)
  std::string permissions = "{}"; ///< JSON text of the object's permissions
  std::string previous;           ///< JSON text of the object before a PATCH
  /// The write was planned on a version that is no longer the stored one
  /// (another write came first): nothing was written; plan it again.
  bool stale = false;
};

/// What the client of a stamped write will hear once it is durable.
write_outcome outcome_of(const planned_write& w);

inline write_outcome failed_with(error e) {
  write_outcome outcome;
  outcome.failure = std::move(e);
  return outcome;
}

/// What one durable commit of a group took (write_service::observe_commits).
struct commit_figures {
  double seconds = 0;         ///< from the group's first write applied to its commit's answer
  double storage_seconds = 0; ///< the storage engine's commit alone (its fsync)
  std::size_t writes = 0;     ///< the group's writes and batch sessions
};

} // namespace kinto::actors
