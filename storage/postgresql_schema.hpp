// The PostgreSQL schema kintod reads and writes: upstream Kinto's, storage
// schema version 26 (tables objects, timestamps, metadata; the functions
// as_epoch and from_epoch; the trigger that assigns last_modified) and
// permission schema version 2 (access_control_entries, user_principals),
// so that kintod and upstream Kinto processes can share one database.
// Names no libpq type.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace kinto::storage {

/// The schema versions this build reads and writes (metadata's
/// `storage_schema_version` and `permission_schema_version`).
inline constexpr int postgresql_storage_schema_version = 26;
inline constexpr int postgresql_permission_schema_version = 2;

struct postgresql_migration {
  std::string storage_url;    ///< where objects and timestamps are (kinto.storage_url)
  std::string permission_url; ///< where the permission tables are (kinto.permission_url)
  bool dry_run = false;       ///< only say what would be done
  /// One line per step ("created", "up to date", "migrated from 1 to 2").
  std::function<void(const std::string&)> log = {};
};

/// Creates the storage and permission schemas where there are none, brings
/// a permission schema of version 1 to 2, and leaves a schema at this
/// build's version as it is; the two may be in one database or two. Each
/// step is one transaction. false with `error` set when a database cannot
/// be reached, a step fails, or a schema is of a version this build cannot
/// upgrade (an older storage schema: upstream's `kinto migrate` brings it
/// to 26; a newer one: a newer kintod).
[[nodiscard]] bool migrate_postgresql(const postgresql_migration& m, std::string& error);

/// The installed version of the storage (`permission` false) or permission
/// schema at `url`: nullopt when there is none. Tables without a recorded
/// version are version 1 for permissions (the only one before versions
/// were recorded) and 0 (unknown, older than any) for storage. false with
/// `error` set when the database cannot be asked.
[[nodiscard]] bool postgresql_schema_version(const std::string& url, bool permission, std::optional<int>& version,
                                             std::string& error);

} // namespace kinto::storage
