// The settings that change Kinto's rules (configuration.md), read once at
// start by the HTTP edge's config, which adds what only it needs.
#pragma once

#include "actors/history.hpp"
#include "core/access.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace kinto::core {

/// The changes plugin (upstream kinto-changes, now Remote Settings'
/// `kinto_remote_settings.changes`; batch-and-plugins.md §10).
struct changes_options {
  bool enabled = false;
  /// `changes.resources`: bucket or collection URIs whose collections are
  /// monitored; `changes.excluded_collections`: bucket or collection URIs
  /// left out of them.
  std::vector<std::string> resources, excluded;
  /// `http_host`: the `host` of every entry, part of its id.
  std::string host;
};

struct rules {
  bool readonly = false;
  /// Writers get the write permission on what they create (upstream's
  /// `explicit_permissions`).
  bool explicit_permissions = true;
  std::int64_t batch_max_requests = 25;
  std::optional<std::int64_t> paginate_by;
  std::int64_t storage_max_fetch_size = 10000;
  std::int64_t pagination_token_validity = 600;
  bool accounts = false; ///< kinto.plugins.accounts
  std::vector<std::string> account_create_principals, account_read_principals, account_write_principals;
  int bcrypt_cost = 10;  ///< cost of account password hashes
  bool default_bucket = false;       ///< kinto.plugins.default_bucket
  std::string default_bucket_secret; ///< HMAC key of personal bucket ids
  bool schema_validation = false;    ///< experimental_collection_schema_validation
  /// kinto.plugins.history (`enabled`) and its `history.*` settings.
  actors::history_options history;
  changes_options changes;
  std::vector<std::string> user_data_delete_principals;
  std::vector<std::string> permissions_read_principals{"system.Everyone"};
  /// `<type>_<perm>_principals` settings that are set (auth-permissions.md §4.2).
  core::principal_settings principal_settings;
  /// The principals a `*_principals` setting grants (empty when unset).
  const std::vector<std::string>& principals_of(const std::string& setting) const {
    return principal_settings.of(setting);
  }
  /// `*_cache_expires_seconds` settings that are set, by lower-case name
  /// (concurrency.md §5), and the changes plugin's
  /// `*_cache_minimum_expires_seconds` and `*_cache_maximum_expires_seconds`.
  std::unordered_map<std::string, std::int64_t> cache_expires;
};

} // namespace kinto::core
