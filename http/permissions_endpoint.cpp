// GET/HEAD /permissions (auth-permissions.md §8): every object on which the
// caller's principals appear in some permission, with the names they imply,
// plus what settings grant; filtered, sorted and paginated like any list.
#include "http/call.hpp"

#include "core/write_rules.hpp"
#include "schema/query.hpp"

#include <map>
#include <set>

namespace kinto::http {

namespace {

/// Resource name and ids of an object URI ("/buckets/b/collections/c").
json::value entry_for(std::string_view uri) {
  json::value entry = json::value::object();
  entry.set("uri", json::value(uri));
  std::vector<std::string> parts;
  for (std::size_t i = 1; i <= uri.size();) {
    std::size_t j = uri.find('/', i);
    if (j == std::string_view::npos) j = uri.size();
    parts.emplace_back(uri.substr(i, j - i));
    i = j + 1;
  }
  std::string resource = "root";
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2) {
    const std::string& plural = parts[i];
    std::string name = plural == "buckets" ? "bucket" : plural == "collections" ? "collection"
                     : plural == "groups" ? "group" : plural == "records" ? "record"
                     : plural == "accounts" ? "account" : plural;
    entry.set(name + "_id", json::value(parts[i + 1]));
    resource = name;
  }
  entry.set("resource_name", json::value(resource));
  if (parts.size() >= 2) entry.set("id", json::value(parts.back()));
  // Keep uri, resource_name and id first, as upstream lists them.
  json::value ordered = json::value::object();
  for (const char* key : {"uri", "resource_name", "id"})
    if (const json::value* v = entry.find(key)) ordered.set(key, *v);
  for (const auto& m : entry.as_object())
    if (!ordered.find(m.key)) ordered.set(m.key, m.val);
  return ordered;
}

kind kind_of_resource(std::string_view name) {
  if (name == "bucket") return kind::bucket;
  if (name == "collection") return kind::collection;
  if (name == "group") return kind::group;
  if (name == "account") return kind::account;
  return kind::record;
}

const std::vector<std::string> own_fields{"uri",           "resource_name", "permissions", "id",       "bucket_id",
                                          "collection_id", "group_id",      "record_id",   "account_id"};

} // namespace

void handle_permissions(const call_ptr& c) {
  const config& cfg = c->cfg();
  if (!c->who.holds_any(cfg.permissions_read_principals)) return c->fail(denied(*c));
  storage::snapshot snap = c->read();
  if (!snap.valid()) return c->fail(backend_unavailable());

  query::field_policy policy;
  policy.any = false;
  policy.known_roots = own_fields;
  auto parsed = query::parse(c->query, actors::now_ms(), policy);
  if (auto* e = std::get_if<error>(&parsed)) return c->fail(*e);
  query::request q = std::move(std::get<query::request>(parsed));
  // No timestamps here: last_modified filters and sorts are ignored, and
  // the URI (descending unless asked otherwise) ends every order.
  std::erase_if(q.filters, [](const query::filter& f) { return f.field == "last_modified"; });
  std::erase_if(q.sort, [](const query::sort_key& k) { return k.field == "last_modified"; });
  if (std::none_of(q.sort.begin(), q.sort.end(), [](const query::sort_key& k) { return k.field == "uri"; }))
    q.sort.push_back(query::sort_key{"uri", {"uri"}, true});

  // Explicit permissions, from the reverse index.
  std::map<std::string, std::set<std::string>> held;
  for (const auto& principal : c->who.principals)
    snap.walk_grants(principal, "/", [&](std::string_view uri, std::string_view name) {
      if (uri.find("/history/") != std::string_view::npos) return true; // history entries are never listed
      held[std::string(uri)].insert(std::string(name));
      return true;
    });
  // Permissions granted by settings, on every object of their kind.
  auto granted = [&](const std::string& setting) { return c->who.holds_any(cfg.principals_of(setting)); };
  if (granted("bucket_create_principals")) held["/"].insert("bucket:create");
  if (cfg.accounts && c->who.holds_any(cfg.account_create_principals)) held["/"].insert("account:create");
  struct setting_grant {
    kind k;
    std::string setting;
    std::string name;
  };
  std::vector<setting_grant> by_settings;
  for (const auto& [k, type] : {std::pair{kind::bucket, "bucket"}, {kind::collection, "collection"}, {kind::group, "group"}})
    for (const char* perm : {"read", "write"})
      if (granted(std::string(type) + "_" + perm + "_principals")) by_settings.push_back({k, "", perm});
  if (granted("collection_create_principals")) by_settings.push_back({kind::bucket, "", "collection:create"});
  if (granted("group_create_principals")) by_settings.push_back({kind::bucket, "", "group:create"});
  if (granted("record_create_principals")) by_settings.push_back({kind::collection, "", "record:create"});
  if (!by_settings.empty()) {
    auto grant_all = [&](const list_key& list) {
      snap.walk(list, 0, 0, true, [&](const storage::change& ch) {
        if (ch.deleted) return true;
        for (const auto& g : by_settings)
          if (g.k == list.of) held[list.object_uri(ch.id)].insert(g.name);
        return true;
      });
    };
    const list_key buckets{"", kind::bucket};
    grant_all(buckets);
    snap.walk(buckets, 0, 0, true, [&](const storage::change& ch) {
      if (ch.deleted) return true;
      const std::string uri = buckets.object_uri(ch.id);
      grant_all(list_key{uri, kind::collection});
      grant_all(list_key{uri, kind::group});
      return true;
    });
  }

  std::vector<json::value> entries;
  for (const auto& [uri, names] : held) {
    json::value entry = uri == "/" ? json::value::object() : entry_for(uri);
    if (uri == "/") {
      entry.set("uri", json::value("/"));
      entry.set("resource_name", json::value("root"));
    }
    const kind k = kind_of_resource(entry.find("resource_name")->as_string());
    std::set<std::string> all;
    for (const auto& name : names)
      for (auto& implied : permissions::implied(k, name)) all.insert(std::move(implied));
    json::value list = json::value::array();
    for (const auto& name : all) list.as_array().emplace_back(name);
    entry.set("permissions", std::move(list));
    if (query::matches_all(q.filters, entry)) entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [&](const json::value& a, const json::value& b) { return query::compare_by(q.sort, a, b) < 0; });

  response res;
  res.status = 200;
  res.set("Content-Type", "application/json");
  res.set("ETag", "\"0\"");
  res.set("Cache-Control", "no-cache, no-store");
  if (c->is("HEAD")) {
    res.set("Total-Objects", std::to_string(entries.size()));
    res.set("Total-Records", std::to_string(entries.size()));
    return c->send(std::move(res));
  }
  std::size_t start = 0;
  std::int64_t offset = 0;
  if (q.token) {
    auto decoded = query::decode_token(*q.token);
    if (auto* e = std::get_if<error>(&decoded)) return c->fail(*e);
    auto& t = std::get<query::token>(decoded);
    offset = t.offset;
    while (start < entries.size() && !query::after_token(q.sort, t.last_object, entries[start])) ++start;
  }
  const std::size_t limit = page_size(cfg, q);
  const std::size_t end = std::min(entries.size(), start + limit);
  std::string body = "{\"data\":[";
  for (std::size_t i = start; i < end; ++i) {
    if (i > start) body += ',';
    body += json::serialize(q.fields ? query::project(entries[i], *q.fields) : entries[i]);
  }
  body += "]}";
  if (end < entries.size() && end > start)
    res.set("Next-Page", next_page_url(*c, limit, query::token_after(q.sort, entries[end - 1], offset + static_cast<std::int64_t>(end - start))));
  res.body = std::move(body);
  c->send(std::move(res));
}

} // namespace kinto::http
