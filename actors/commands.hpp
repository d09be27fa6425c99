// What the HTTP edge asks of the write path, and what it gets back. Plain
// data, free of CAF, so that http/ can include it without the actor runtime.
#pragma once

#include "schema/error.hpp"
#include "schema/json.hpp"
#include "schema/resource.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

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
  /// before the write is planned, on the data with the object's `id` set
  /// (unless `id_generated`); may add fields (a record's `schema`).
  std::function<std::optional<error>(json::value& data)> validate;
};

struct write_outcome {
  std::optional<error> failure;
  bool created = false;           ///< 201 rather than 200
  std::uint64_t last_modified = 0; ///< also set on failures: the target's current timestamp
  std::string data;               ///< JSON text of the object (or tombstone)
  std::string permissions = "{}"; ///< JSON text of the object's permissions
  std::string previous;           ///< JSON text of the object before a PATCH
};

inline write_outcome failed_with(error e) {
  write_outcome outcome;
  outcome.failure = std::move(e);
  return outcome;
}

} // namespace kinto::actors
