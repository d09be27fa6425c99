// The route table and path matching (see routes.hpp).
#include "http/routes.hpp"

#include <array>

namespace kinto::http {

namespace {

bool always(const config&) { return true; }
bool with_accounts(const config& c) { return c.accounts; }
bool with_permissions_endpoint(const config& c) { return c.permissions_endpoint; }
bool with_flush(const config& c) { return c.flush_endpoint; }
bool with_history(const config& c) { return c.history.enabled; }
bool with_changes(const config& c) { return c.changes.enabled; }
bool with_prometheus(const config& c) { return c.prometheus; }

const std::vector<std::string> reads{"GET", "HEAD"};
const std::vector<std::string> plural_methods{"GET", "HEAD", "POST", "DELETE"};
const std::vector<std::string> object_methods{"GET", "HEAD", "PUT", "PATCH", "DELETE"};

/// Path parameters captured by a pattern (at most three).
struct captures {
  std::array<std::pair<std::string_view, std::string_view>, 3> items{};
  std::size_t size = 0;
  std::optional<std::string_view> operator[](std::string_view name) const {
    for (std::size_t i = 0; i < size; ++i)
      if (items[i].first == name) return items[i].second;
    return std::nullopt;
  }
};

/// The next segment of `path` from `pos` (just after a '/'); moves `pos`
/// past it and its slash, to npos at the end.
std::string_view next_segment(std::string_view path, std::size_t& pos) {
  const std::size_t end = path.find('/', pos);
  const std::string_view segment = path.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
  pos = end == std::string_view::npos ? std::string_view::npos : end + 1;
  return segment;
}

/// Whether `path` fits `pattern`, segment by segment; fills `captured`.
bool fit(std::string_view pattern, std::string_view path, captures& captured) {
  captured.size = 0;
  if (pattern == "/") return path == "/";
  if (path.empty() || path.front() != '/') return false;
  std::size_t want_pos = 1, have_pos = 1;
  while (want_pos != std::string_view::npos) {
    const std::string_view w = next_segment(pattern, want_pos);
    if (have_pos == std::string_view::npos) return false;
    if (w.size() > 3 && w.front() == '{' && w.substr(w.size() - 2) == "+}") {
      // The rest of the path, slashes included.
      const std::string_view rest = path.substr(have_pos);
      if (rest.empty()) return false;
      captured.items[captured.size++] = {w.substr(1, w.size() - 3), rest};
      return true;
    }
    const std::string_view h = next_segment(path, have_pos);
    if (h.empty()) return false;
    if (w.front() == '{') captured.items[captured.size++] = {w.substr(1, w.size() - 2), h};
    else if (w != h) return false;
  }
  return have_pos == std::string_view::npos;
}

} // namespace

const std::vector<route_spec>& route_table() {
  using e = endpoint;
  constexpr bool principals = true, none = false;
  static const std::vector<route_spec> table{
    {"/", handle_hello, e::service, {}, reads, always, principals, "Utilities", "Server information and the current user"},
    {"/__heartbeat__", handle_heartbeat, e::service, {}, reads, always, none, "Utilities", "Health of the backends"},
    {"/__lbheartbeat__", handle_lbheartbeat, e::service, {}, reads, always, none, "Utilities",
     "Liveness for load balancers"},
    {"/__version__", handle_version, e::service, {}, reads, always, none, "Utilities", "Deployed version"},
    {"/__api__", handle_api, e::service, {}, reads, always, none, "Utilities", "This OpenAPI description"},
    {"/contribute.json", handle_contribute, e::service, {}, reads, always, none, "Utilities", "Project metadata"},
    {"/batch", handle_batch, e::service, {}, {"POST"}, always, none, "Batch", "Several requests in one"},
    {"/permissions", handle_permissions, e::permissions, {}, reads, with_permissions_endpoint, none,
     "Permissions", "Objects the caller has permissions on"},
    {"/__flush__", handle_flush, e::service, {}, {"POST"}, with_flush, none, "Utilities", "Remove all data"},
    {"/__metrics__", handle_metrics, e::service, {}, reads, with_prometheus, none, "Utilities",
     "Prometheus metrics"},
    {"/__broadcasts__", handle_broadcasts, e::service, {}, {"GET"}, with_changes, none, "Changes",
     "The newest timestamp of the monitored collections, for push services"},
    {"/changes", handle_changes_socket, e::service, {}, {"GET"}, always, none, "Changes",
     "A WebSocket of live changes: subscriptions to lists, their changes as they are committed"},
    {"/__user_data__/{principal+}", handle_user_data, e::service, {}, {"DELETE"}, always, none, "Utilities",
     "Delete a user's data"},
    {"/accounts", handle_plural, e::plural, kind::account, plural_methods, with_accounts, none, "Accounts",
     "Accounts"},
    {"/accounts/{id}", handle_object, e::object, kind::account, object_methods, with_accounts, none, "Accounts",
     "One account"},
    {"/buckets", handle_plural, e::plural, kind::bucket, plural_methods, always, none, "Buckets", "Buckets"},
    {"/buckets/{id}", handle_object, e::object, kind::bucket, object_methods, always, none, "Buckets",
     "One bucket"},
    {"/buckets/{bucket_id}/history", handle_plural, e::plural, kind::history, {"GET", "HEAD", "DELETE"}, with_history,
     none, "History", "Changes in a bucket"},
    {"/buckets/{bucket_id}/snapshot/collections/{snapshot}", handle_history_snapshot, e::service, {}, {"GET"}, with_history,
     none, "History", "Records of a collection as they were at a timestamp ({collection_id}@{timestamp})"},
    {"/buckets/{bucket_id}/groups", handle_plural, e::plural, kind::group, plural_methods, always, none, "Groups",
     "Groups of a bucket"},
    {"/buckets/{bucket_id}/groups/{id}", handle_object, e::object, kind::group, object_methods, always, none,
     "Groups", "One group"},
    {"/buckets/{bucket_id}/collections", handle_plural, e::plural, kind::collection, plural_methods, always,
     none, "Collections", "Collections of a bucket"},
    {"/buckets/{bucket_id}/collections/{id}", handle_object, e::object, kind::collection, object_methods, always,
     none, "Collections", "One collection"},
    {"/buckets/monitor/collections/changes/records", handle_monitor_changes, e::plural, kind::record, reads,
     with_changes, none, "Changes", "Timestamps of the monitored collections"},
    {"/buckets/{bucket_id}/collections/{collection_id}/changeset", handle_changeset, e::service, kind::record, reads,
     with_changes, none, "Changes", "A collection, its records timestamp and its changes"},
    {"/buckets/{bucket_id}/collections/{collection_id}/records", handle_plural, e::plural, kind::record,
     plural_methods, always, none, "Records", "Records of a collection"},
    {"/buckets/{bucket_id}/collections/{collection_id}/records/{id}", handle_object, e::object, kind::record,
     object_methods, always, none, "Records", "One record"},
  };
  return table;
}

bool method_enabled(const config& cfg, endpoint ep, std::optional<kind> of, std::string_view method) {
  if (cfg.disabled_methods.empty() || !of || (ep != endpoint::plural && ep != endpoint::object)) return true;
  std::string key = ep == endpoint::plural ? "plural_" : "object_";
  key.append(kind_name(*of)).append(" ").append(method);
  return !cfg.disabled_methods.contains(key);
}

std::string_view route_name(const route_spec& spec) {
  // Computed once per route of the table: upstream's service names.
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const route_spec& s : route_table()) {
      if (s.of && (s.ep == endpoint::plural || s.ep == endpoint::object)) {
        out.push_back(std::string(kind_name(*s.of)) + (s.ep == endpoint::plural ? "-plural" : "-object"));
        continue;
      }
      if (s.pattern == "/") {
        out.emplace_back("hello");
        continue;
      }
      // "/__heartbeat__" -> "heartbeat", "/contribute.json" -> "contribute",
      // "/buckets/{bucket_id}/collections/{collection_id}/changeset" -> "changeset".
      std::string_view last = s.pattern.substr(s.pattern.rfind('/') + 1);
      if (!last.empty() && last.front() == '{') {
        std::string_view before = s.pattern.substr(0, s.pattern.rfind('/'));
        last = before.substr(before.rfind('/') + 1);
      }
      if (s.pattern.rfind("/buckets/{bucket_id}/snapshot", 0) == 0) last = "snapshot";
      std::string name;
      for (char c : last.substr(0, last.find('.')))
        if (c != '_') name += c == '-' ? '_' : c;
      if (last.find("user_data") != std::string_view::npos) name = "user_data";
      out.push_back(std::move(name));
    }
    return out;
  }();
  return names[static_cast<std::size_t>(&spec - route_table().data())];
}

std::optional<route> match(const config& cfg, std::string_view path) {
  captures captured;
  for (const auto& spec : route_table()) {
    if (!spec.enabled(cfg) || !fit(spec.pattern, path, captured)) continue;
    route r{spec.ep, spec.handle, spec.needs_principals, {}, {}, spec.methods, route_name(spec)};
    if (auto principal = captured["principal"]) r.id = std::string(*principal);
    if (auto snapshot = captured["snapshot"]) {
      r.list = list_key{"/buckets/" + std::string(*captured["bucket_id"]), kind::collection};
      r.id = std::string(*snapshot);
    }
    if (spec.of) {
      std::string parent;
      if (auto b = captured["bucket_id"]) parent.append("/buckets/").append(*b);
      if (auto c = captured["collection_id"]) parent.append("/collections/").append(*c);
      r.list = list_key{std::move(parent), *spec.of};
      if (auto id = captured["id"]) r.id = std::string(*id);
    }
    return r;
  }
  return std::nullopt;
}

} // namespace kinto::http
