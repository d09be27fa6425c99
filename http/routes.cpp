// The route table and path matching (see routes.hpp).
#include "http/routes.hpp"

#include <map>

namespace kinto::http {

namespace {

bool always(const config&) { return true; }
bool with_accounts(const config& c) { return c.accounts; }
bool with_permissions_endpoint(const config& c) { return c.permissions_endpoint; }
bool with_flush(const config& c) { return c.flush_endpoint; }
bool with_history(const config& c) { return c.history; }

const std::vector<std::string> reads{"GET", "HEAD"};
const std::vector<std::string> plural_methods{"GET", "HEAD", "POST", "DELETE"};
const std::vector<std::string> object_methods{"GET", "HEAD", "PUT", "PATCH", "DELETE"};

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.empty() || path.front() != '/') return parts;
  for (std::size_t i = 1; i <= path.size();) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

using captures = std::map<std::string, std::string, std::less<>>;

/// Captured path parameters when `path` fits `pattern`.
std::optional<captures> fit(std::string_view pattern, std::string_view path) {
  if (pattern == "/") return path == "/" ? std::optional<captures>(captures{}) : std::nullopt;
  const auto want = segments(pattern);
  const auto have = segments(path);
  captures captured;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const std::string_view w = want[i];
    if (w.size() > 3 && w.front() == '{' && w.substr(w.size() - 2) == "+}") {
      // The rest of the path, slashes included.
      if (i >= have.size()) return std::nullopt;
      std::size_t offset = 0;
      for (std::size_t k = 0; k < i; ++k) offset += have[k].size() + 1;
      const std::string_view rest = path.substr(offset + 1);
      if (rest.empty()) return std::nullopt;
      captured[std::string(w.substr(1, w.size() - 3))] = std::string(rest);
      return captured;
    }
    if (i >= have.size() || have[i].empty()) return std::nullopt;
    if (w.front() == '{') captured[std::string(w.substr(1, w.size() - 2))] = std::string(have[i]);
    else if (w != have[i]) return std::nullopt;
  }
  if (have.size() != want.size()) return std::nullopt;
  return captured;
}

} // namespace

const std::vector<route_spec>& route_table() {
  using e = endpoint;
  static const std::vector<route_spec> table{
    {"/", e::hello, {}, reads, always, "Utilities", "Server information and the current user"},
    {"/__heartbeat__", e::heartbeat, {}, reads, always, "Utilities", "Health of the backends"},
    {"/__lbheartbeat__", e::lbheartbeat, {}, reads, always, "Utilities", "Liveness for load balancers"},
    {"/__version__", e::version, {}, reads, always, "Utilities", "Deployed version"},
    {"/__api__", e::api, {}, reads, always, "Utilities", "This OpenAPI description"},
    {"/contribute.json", e::contribute, {}, reads, always, "Utilities", "Project metadata"},
    {"/batch", e::batch, {}, {"POST"}, always, "Batch", "Several requests in one"},
    {"/permissions", e::permissions, {}, reads, with_permissions_endpoint, "Permissions",
     "Objects the caller has permissions on"},
    {"/__flush__", e::flush, {}, {"POST"}, with_flush, "Utilities", "Remove all data"},
    {"/__user_data__/{principal+}", e::user_data, {}, {"DELETE"}, always, "Utilities", "Delete a user's data"},
    {"/accounts", e::plural, kind::account, plural_methods, with_accounts, "Accounts", "Accounts"},
    {"/accounts/{id}", e::object, kind::account, object_methods, with_accounts, "Accounts", "One account"},
    {"/buckets", e::plural, kind::bucket, plural_methods, always, "Buckets", "Buckets"},
    {"/buckets/{id}", e::object, kind::bucket, object_methods, always, "Buckets", "One bucket"},
    {"/buckets/{bucket_id}/history", e::plural, kind::history, {"GET", "HEAD", "DELETE"}, with_history, "History",
     "Changes in a bucket"},
    {"/buckets/{bucket_id}/snapshot/collections/{snapshot}", e::snapshot, {}, {"GET"}, with_history, "History",
     "Records of a collection as they were at a timestamp ({collection_id}@{timestamp})"},
    {"/buckets/{bucket_id}/groups", e::plural, kind::group, plural_methods, always, "Groups", "Groups of a bucket"},
    {"/buckets/{bucket_id}/groups/{id}", e::object, kind::group, object_methods, always, "Groups", "One group"},
    {"/buckets/{bucket_id}/collections", e::plural, kind::collection, plural_methods, always, "Collections",
     "Collections of a bucket"},
    {"/buckets/{bucket_id}/collections/{id}", e::object, kind::collection, object_methods, always, "Collections",
     "One collection"},
    {"/buckets/{bucket_id}/collections/{collection_id}/records", e::plural, kind::record, plural_methods, always,
     "Records", "Records of a collection"},
    {"/buckets/{bucket_id}/collections/{collection_id}/records/{id}", e::object, kind::record, object_methods, always,
     "Records", "One record"},
  };
  return table;
}

std::optional<route> match(const config& cfg, std::string_view path) {
  for (const auto& spec : route_table()) {
    if (!spec.enabled(cfg)) continue;
    auto captured = fit(spec.pattern, path);
    if (!captured) continue;
    route r{spec.ep, {}, {}, spec.methods};
    if (spec.ep == endpoint::user_data) r.id = (*captured)["principal"];
    if (spec.ep == endpoint::snapshot) {
      r.list = list_key{"/buckets/" + (*captured)["bucket_id"], kind::collection};
      r.id = (*captured)["snapshot"];
    }
    if (spec.of) {
      std::string parent;
      if (auto b = captured->find("bucket_id"); b != captured->end()) parent = "/buckets/" + b->second;
      if (auto c = captured->find("collection_id"); c != captured->end()) parent += "/collections/" + c->second;
      r.list = list_key{std::move(parent), *spec.of};
      if (auto id = captured->find("id"); id != captured->end()) r.id = id->second;
    }
    return r;
  }
  return std::nullopt;
}

} // namespace kinto::http
