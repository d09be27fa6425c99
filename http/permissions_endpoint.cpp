// GET/HEAD /permissions (auth-permissions.md §8): the query parsed, the
// entries found by core::op_permissions, paginated like any list.
#include "http/call.hpp"

#include "schema/query.hpp"

#include <algorithm>

namespace kinto::http {

namespace {

const std::vector<std::string> own_fields{"uri",           "resource_name", "permissions", "id",       "bucket_id",
                                          "collection_id", "group_id",      "record_id",   "account_id"};

} // namespace

void handle_permissions(const call_ptr& c) {
  core::permissions_read r;
  r.user_id = c->who.user_id;
  query::field_policy policy;
  policy.any = false;
  policy.known_roots = own_fields;
  auto parsed = query::parse(c->query, core::now_ms(), policy);
  if (auto* e = std::get_if<error>(&parsed)) {
    r.invalid = std::move(*e);
  } else {
    r.q = std::move(std::get<query::request>(parsed));
    // No timestamps here: last_modified filters and sorts are ignored, and
    // the URI (descending unless asked otherwise) ends every order.
    query::request& q = r.q;
    std::erase_if(q.filters, [](const query::filter& f) { return f.field == "last_modified"; });
    std::erase_if(q.sort, [](const query::sort_key& k) { return k.field == "last_modified"; });
    if (std::none_of(q.sort.begin(), q.sort.end(), [](const query::sort_key& k) { return k.field == "uri"; }))
      q.sort.push_back(query::sort_key{"uri", {"uri"}, true});
  }
  const query::request q = r.q;
  perform(c, core::op_permissions, std::move(r),
          std::function<void(const call_ptr&, core::result<std::vector<json::value>>)>(
            [q](const call_ptr& c, core::result<std::vector<json::value>> result) {
              if (auto* f = std::get_if<core::failure>(&result)) return c->send(failure_response(c->cfg(), *f));
              const auto& entries = std::get<std::vector<json::value>>(result);
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
              const std::size_t limit = core::page_size(c->cfg(), q);
              const std::size_t end = std::min(entries.size(), start + limit);
              std::string body = "{\"data\":[";
              for (std::size_t i = start; i < end; ++i) {
                if (i > start) body += ',';
                body += json::serialize(q.fields ? query::project(entries[i], *q.fields) : entries[i]);
              }
              body += "]}";
              if (end < entries.size() && end > start)
                res.set("Next-Page",
                        next_page_url(*c, limit,
                                      query::token_after(q.sort, entries[end - 1], offset + static_cast<std::int64_t>(end - start))));
              res.body = std::move(body);
              c->send(std::move(res));
            }));
}

} // namespace kinto::http
