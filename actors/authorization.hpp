// Permission questions asked of the permission actor, and its answers. Plain
// data, free of CAF, so that http/ can include it.
#pragma once

#include "schema/json.hpp"
#include "schema/permissions.hpp"
#include "storage/store.hpp"

#include <functional>
#include <string>
#include <vector>

namespace kinto::actors {

struct authorization_request {
  std::string user_id; ///< empty when anonymous
  /// Access control entries to test: does any principal of the caller
  /// appear in any entry of a check? (Settings are the caller's business.)
  std::vector<std::vector<permissions::entry>> checks;
  /// Lists (by object URI prefix, e.g. "/buckets/b/collections/") on whose
  /// objects the caller might hold one of the names, directly.
  struct holding {
    std::string uri_prefix;
    std::vector<std::string> names;
    int unless_check = -1; ///< skip (answer false) when this check passed
  };
  std::vector<holding> holdings;
};

struct authorization {
  /// The caller's principals: user id first (if any), system.Everyone,
  /// system.Authenticated (if authenticated), then group URIs.
  std::vector<std::string> principals;
  std::vector<bool> allowed; ///< one per check
  std::vector<bool> holds;   ///< one per holding
};

/// Where decide() looks things up: the groups a principal belongs to and
/// the parsed permissions of an object URI (the permission actor caches
/// both; a batch session reads them from its own transaction).
struct authorization_sources {
  std::function<const std::vector<std::string>&(const std::string& principal)> groups_of;
  std::function<const json::value&(const std::string& uri)> acl_of;
};

/// Answers `request`; holdings are read from `snap`'s reverse index.
authorization decide(const authorization_request& request, const storage::view& snap,
                     const authorization_sources& sources);

/// What a committed write changed: object URIs whose permissions changed,
/// URI prefixes erased wholesale (cascades), and whether group memberships
/// changed. Permission caches forget it before the write's client is answered.
struct invalidation {
  std::vector<std::string> uris;
  std::vector<std::string> prefixes;
  bool memberships = false;
  bool everything = false;

  void add(const invalidation& other) {
    uris.insert(uris.end(), other.uris.begin(), other.uris.end());
    prefixes.insert(prefixes.end(), other.prefixes.begin(), other.prefixes.end());
    memberships = memberships || other.memberships;
    everything = everything || other.everything;
  }
};

} // namespace kinto::actors
