// Permission questions and their answers, decided from a snapshot. Free of
// CAF, so that http/ can include it.
#pragma once

#include "schema/json.hpp"
#include "schema/permissions.hpp"
#include "storage/engine.hpp"

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

/// Answers `request` from `snap`: permissions are read like any data, so a
/// decision sees every write acknowledged before the snapshot began.
authorization decide(const authorization_request& request, const storage::view& snap);

} // namespace kinto::actors
