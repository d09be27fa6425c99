// Object and plural endpoints of every resource (buckets, groups,
// collections, records, accounts, history entries): each request is parsed
// into a core operation (core/ops.hpp), run, and its result rendered with
// Kinto's headers. resources.md, querying.md, concurrency.md.
#include "http/body.hpp"
#include "http/call.hpp"

#include "core/objects.hpp"
#include "http/auth.hpp"
#include "base/crypto.hpp"
#include "base/json.hpp"
#include "schema/query.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

namespace kinto::http {

namespace {

void add_timestamp_headers(response& res, std::uint64_t ts) {
  res.set("ETag", "\"" + std::to_string(ts) + "\"");
  res.set("Last-Modified", http_date(ts));
}

/// The caching headers of a successful read (core::cache_seconds).
void add_cache_headers(std::optional<std::int64_t> expires, response& res) {
  const std::uint64_t now_seconds = static_cast<std::uint64_t>(std::time(nullptr));
  if (!expires || *expires < 0) {
    res.set("Cache-Control", "no-cache, no-store");
  } else if (*expires == 0) {
    res.set("Cache-Control", "max-age=0, must-revalidate, no-cache, no-store");
    res.set("Expires", http_date(now_seconds * 1000));
    res.set("Pragma", "no-cache");
  } else {
    res.set("Cache-Control", "max-age=" + std::to_string(*expires));
    res.set("Expires", http_date((now_seconds + static_cast<std::uint64_t>(*expires)) * 1000));
  }
}

response json_response(int status, std::string body) {
  response res;
  res.status = status;
  res.body = std::move(body);
  res.set("Content-Type", "application/json");
  return res;
}

response not_modified(std::uint64_t ts) {
  response res;
  res.status = 304;
  add_timestamp_headers(res, ts);
  return res;
}

/// `{"data": ..., "permissions": ...}`.
std::string object_body(std::string_view data, std::string_view permissions) {
  std::string out;
  out.reserve(data.size() + permissions.size() + 32);
  out += "{\"data\":";
  out += data;
  out += ",\"permissions\":";
  out += permissions;
  out += '}';
  return out;
}

/// A comma-separated list of names (`_fields`), blanks trimmed.
std::vector<std::string> names_of(std::string_view text) {
  std::vector<std::string> names;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string name(text.substr(start, comma - start));
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (!name.empty()) names.push_back(std::move(name));
    start = comma + 1;
  }
  return names;
}

// ---- one object --------------------------------------------------------------

void answer_read(const call_ptr& c, core::result<core::object_found> r) {
  if (auto* f = std::get_if<core::failure>(&r)) return c->send(failure_response(c->cfg(), *f));
  auto& found = std::get<core::object_found>(r);
  if (found.not_modified) return c->send(not_modified(found.last_modified));
  response res = json_response(200, object_body(found.data, found.permissions));
  add_timestamp_headers(res, found.last_modified);
  add_cache_headers(found.cache_seconds, res);
  c->send(std::move(res));
}

void answer_write(const call_ptr& c, core::result<core::object_written> r, bool changes_account,
                  const std::string& id) {
  if (auto* f = std::get_if<core::failure>(&r)) return c->send(failure_response(c->cfg(), *f));
  auto& written = std::get<core::object_written>(r);
  if (changes_account) c->a.accounts_cache->forget_account(id);
  response res = written.removed ? json_response(200, "{\"data\":" + written.data + "}")
                                 : json_response(written.created ? 201 : 200, object_body(written.data, written.permissions));
  add_timestamp_headers(res, written.last_modified);
  c->send(std::move(res));
}

/// Hashes an account's clear passwords off the I/O threads, then continues;
/// refused (503) when too many wait.
void with_hashed_passwords(const call_ptr& c, std::shared_ptr<core::object_write> w, std::function<void()> next) {
  std::vector<json::value*> clear = w->invalid ? std::vector<json::value*>{} : core::clear_passwords(w->cmd);
  if (clear.empty()) return next();
  const bool queued = c->a.direct->offload([c, w, clear, next = std::move(next)] {
    for (json::value* slot : clear) {
      auto hash = crypto::bcrypt_hash(slot->as_string(), c->cfg().bcrypt_cost);
      if (!hash) return c->fail(invalid_parameter("body", "data.password", "Password cannot be hashed"));
      *slot = json::value(*hash);
    }
    c->resume(next);
  });
  if (!queued) c->fail(backend_unavailable());
}

void run_write(const call_ptr& c, core::object_write w) {
  const bool is_account = w.list.of == kind::account;
  const bool changes_account =
    is_account && (w.cmd.op == core::write_op::remove || (w.cmd.data && w.cmd.data->find("password")) || w.cmd.patch);
  const std::string id = w.cmd.id;
  auto shared = std::make_shared<core::object_write>(std::move(w));
  with_hashed_passwords(c, shared, [c, shared, changes_account, id] {
    perform(c, core::op_write, std::move(*shared),
            std::function<void(const call_ptr&, core::result<core::object_written>)>(
              [changes_account, id](const call_ptr& c, core::result<core::object_written> r) {
                answer_write(c, std::move(r), changes_account, id);
              }));
  });
}

/// Fills the write's body part for PUT and PATCH; or what is wrong with it.
std::optional<error> read_body(const call& c, core::object_write& w) {
  const kind k = c.r.list.of;
  core::write_command& cmd = w.cmd;
  // The router let only JSON and, for PATCH, the patch formats through.
  const auto type = parse_media_type(c.req.header("content-type").value_or(""));
  auto is = [&](std::string_view essence) { return type && type->is(essence); };
  if (c.is("PATCH") && is("application/json-patch+json")) {
    auto ops = parse_json_patch(c.req.body);
    if (auto* e = std::get_if<error>(&ops)) return std::move(*e);
    cmd.format = core::patch_format::json_patch;
    cmd.patch = std::move(std::get<json::value>(ops));
    return std::nullopt;
  }
  auto env = parse_envelope(c.req.body, k);
  if (auto* e = std::get_if<error>(&env)) return std::move(*e);
  auto& body = std::get<envelope>(env);
  if (c.is("PATCH")) {
    cmd.format = is("application/merge-patch+json") ? core::patch_format::merge_patch : core::patch_format::merge;
    if (!body.data && !body.permissions) return invalid_parameter("body", "data", "Provide at least one of data or permissions");
    w.sent = body.data;
  }
  cmd.data = std::move(body.data);
  cmd.permissions = std::move(body.permissions);
  return std::nullopt;
}

} // namespace

void handle_object(const call_ptr& c) {
  if (c->is("GET") || c->is("HEAD")) {
    core::object_read r;
    r.user_id = c->who.user_id;
    r.list = c->r.list;
    r.id = c->r.id;
    r.implicit = c->implicit;
    auto pre = parse_preconditions(c->req, &r.if_none_match);
    if (auto* e = std::get_if<error>(&pre)) r.invalid = *e;
    else r.pre = std::get<core::preconditions>(pre);
    if (auto fields = c->query_value("_fields")) r.fields = names_of(*fields);
    return perform(c, core::op_get, std::move(r),
                   std::function<void(const call_ptr&, core::result<core::object_found>)>(answer_read));
  }
  core::object_write w;
  w.user_id = c->who.user_id;
  w.list = c->r.list;
  w.implicit = c->implicit;
  core::write_command& cmd = w.cmd;
  cmd.id = c->r.id;
  // Malformed parts are answered by the operation, in upstream's order
  // (a missing collection first).
  auto pre = parse_preconditions(c->req, nullptr);
  if (auto* e = std::get_if<error>(&pre)) return w.invalid = *e, run_write(c, std::move(w));
  cmd.pre = std::get<core::preconditions>(pre);
  if (c->is("DELETE")) {
    cmd.op = core::write_op::remove;
    if (auto ts = c->query_value("last_modified")) {
      std::uint64_t v = 0;
      auto [ptr, ec] = std::from_chars(ts->data(), ts->data() + ts->size(), v);
      if (ec == std::errc() && ptr == ts->data() + ts->size()) cmd.tombstone_timestamp = v;
    }
    return run_write(c, std::move(w));
  }
  cmd.op = c->is("PUT") ? core::write_op::put : core::write_op::patch;
  w.invalid = read_body(*c, w);
  if (!w.invalid && cmd.data) {
    if (const json::value* id = cmd.data->find("id"); id && id->as_string() != c->r.id)
      w.invalid = invalid_parameter("body", "id", "Object id does not match existing object");
  }
  if (!w.invalid && c->is("PATCH")) {
    w.behaviour = std::string(c->req.header("response-behavior").value_or("full"));
    if (w.behaviour != "full" && w.behaviour != "light" && w.behaviour != "diff")
      w.invalid = invalid_parameter("header", "Response-Behavior", "'" + w.behaviour + "' is not one of full, light, diff");
  }
  run_write(c, std::move(w));
}

// ---- plural endpoints --------------------------------------------------------

/// The same request with `_limit` and `_token` replaced: the Next-Page URL.
std::string next_page_url(const call& c, std::size_t limit, const query::token& next) {
  std::string query;
  std::string_view raw = c.raw_query;
  while (!raw.empty()) {
    std::size_t amp = raw.find('&');
    std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    std::string_view name = pair.substr(0, pair.find('='));
    if (pair.empty() || name == "_limit" || name == "_token") continue;
    query += query.empty() ? "" : "&";
    query += pair;
  }
  std::string encoded;
  for (char ch : query::encode_token(next)) {
    if (ch == '+') encoded += "%2B";
    else if (ch == '/') encoded += "%2F";
    else if (ch == '=') encoded += "%3D";
    else encoded += ch;
  }
  query += query.empty() ? "" : "&";
  query += "_limit=" + std::to_string(limit) + "&_token=" + encoded;
  return c.absolute_url("/v1" + c.path + "?" + query);
}

void send_page(const call_ptr& c, response res, const core::list_page& page, std::size_t limit) {
  if (c->is("HEAD")) {
    const std::string total = std::to_string(page.total);
    res.set("Total-Objects", total);
    res.set("Total-Records", total);
    return c->send(std::move(res));
  }
  std::string body = "{\"data\":[";
  for (std::size_t i = 0; i < page.objects.size(); ++i) {
    if (i) body += ',';
    body += page.objects[i];
  }
  body += "]}";
  if (page.next) res.set("Next-Page", next_page_url(*c, limit, *page.next));
  res.body = std::move(body);
  c->send(std::move(res));
}

namespace {

std::variant<query::request, error> parse_query(const call& c) {
  if (c.r.list.of != kind::history) return query::parse(c.query, core::now_ms());
  // History entries accept filters on their own fields only; their ids are
  // strings even when they look like numbers.
  query::field_policy policy;
  policy.any = false;
  policy.known_roots = {"id", "last_modified", "action", "uri", "user_id", "resource_name", "bucket_id",
                        "group_id", "collection_id", "record_id", "date", "target"};
  auto parsed = query::parse(c.query, core::now_ms(), policy);
  if (auto* q = std::get_if<query::request>(&parsed)) {
    for (auto& f : q->filters) {
      if (f.field != "bucket_id" && f.field != "group_id" && f.field != "collection_id" && f.field != "record_id")
        continue;
      auto as_text = [](json::value& v) {
        if (v.is_number()) v = json::value(v.as_string());
      };
      if (f.value.is_array())
        for (auto& v : f.value.as_array()) as_text(v);
      else
        as_text(f.value);
      query::prepare(f);
    }
  }
  return parsed;
}

/// Fills what list reads and deletions take from the request alike: the
/// caller, the list, the query, the page size, the token, the
/// preconditions. The first malformed part is kept in `invalid`, to be
/// answered once the caller may use the list. Returns If-None-Match.
std::optional<std::uint64_t> select_list(const call& c, core::list_selection& out) {
  out.user_id = c.who.user_id;
  out.list = c.r.list;
  out.implicit = c.implicit;
  std::optional<std::uint64_t> if_none_match;
  auto parsed = parse_query(c);
  if (auto* e = std::get_if<error>(&parsed)) {
    out.invalid = std::move(*e);
    return if_none_match;
  }
  out.q = std::move(std::get<query::request>(parsed));
  auto pre = parse_preconditions(c.req, &if_none_match);
  if (auto* e = std::get_if<error>(&pre)) {
    out.invalid = std::move(*e);
    return if_none_match;
  }
  out.pre = std::get<core::preconditions>(pre);
  out.limit = core::page_size(c.cfg(), out.q);
  if (out.q.token) {
    auto decoded = query::decode_token(*out.q.token);
    if (auto* e = std::get_if<error>(&decoded)) out.invalid = std::move(*e);
    else out.after = std::move(std::get<query::token>(decoded));
  }
  return if_none_match;
}

void add_deprecation_alert(const call& c, response& res) {
  json::value alert = json::value::object();
  alert.set("code", json::value("soft-eol"));
  alert.set("message", json::value("_to is now deprecated, you should use _before instead"));
  alert.set("url", json::value(c.cfg().project_docs));
  res.set("Alert", json::serialize(alert));
}

/// The events of one subscriber, written on its response's stream as
/// Server-Sent Events.
class stream_sink final : public core::feed_sink {
public:
  bool send(const core::feed_event& e) override {
    const std::string_view name = e.what == core::feed_event::action::remove ? "delete" : "change";
    return stream_ && stream_->write(core::sse_event(e.timestamp, name, e.data));
  }
  bool heartbeat() override { return stream_ && stream_->write(": heartbeat\n\n"); }
  std::size_t queued() const override { return stream_ ? stream_->queued() : 0; }
  void end(std::string_view reason) override {
    if (!stream_) return;
    if (!reason.empty()) stream_->write(core::sse_event(0, "end", reason));
    stream_->end();
  }
  bool open() const override { return stream_ && stream_->open(); }
  /// Set once, before the sink is subscribed.
  void attach(std::shared_ptr<body_stream> s) { stream_ = std::move(s); }

private:
  std::shared_ptr<body_stream> stream_;
};

/// A plural GET asking for `text/event-stream`: the list's changes as
/// Server-Sent Events (core::feed), from `_since` or `Last-Event-ID` (which
/// a reconnecting client sends, and which wins), after the same checks as a
/// read of the list.
void list_follow(const call_ptr& c) {
  core::list_selection r;
  select_list(*c, r);
  std::optional<std::uint64_t> since = r.q.since;
  if (auto last = c->req.header("last-event-id"); last && !last->empty()) {
    std::uint64_t id = 0;
    auto [end, ec] = std::from_chars(last->data(), last->data() + last->size(), id);
    if (ec != std::errc() || end != last->data() + last->size()) {
      if (!r.invalid) r.invalid = invalid_parameter("header", "Last-Event-ID", "Invalid value for Last-Event-ID");
    } else {
      since = id;
    }
  }
  core::subscription sub{c->who.user_id, r.list, r.q, since, c->who.user_id + '\n' + c->path + '\n' + c->raw_query};
  // The position replaces `_since`, which the query turned into a filter.
  std::erase_if(sub.q.filters, [](const query::filter& f) { return f.param == "_since"; });
  perform(c, core::op_watch, std::move(r),
          std::function<void(const call_ptr&, core::result<std::uint64_t>)>(
            [sub = std::move(sub)](const call_ptr& c, core::result<std::uint64_t> result) mutable {
              if (auto* f = std::get_if<core::failure>(&result)) return c->send(failure_response(c->cfg(), *f));
              core::feed& feed = *c->a.feed;
              if (feed.subscribers() >= feed.options().max_subscribers) return c->fail(backend_unavailable());
              if (c->req.follower) {
                c->req.follower->follow(std::move(sub));
                return c->send_json(200, "{}");
              }
              auto sink = std::make_shared<stream_sink>();
              auto handler = std::make_shared<stream_handler>();
              handler->high_water = feed.options().max_buffer_bytes;
              handler->opened = [&feed, sink, sub = std::move(sub)](std::shared_ptr<body_stream> stream) mutable {
                sink->attach(std::move(stream));
                if (!feed.subscribe(std::move(sub), sink)) {
                  sink->end(render(backend_unavailable()));
                }
              };
              handler->drained = [&feed, weak = std::weak_ptr<stream_sink>(sink)] {
                if (auto s = weak.lock()) feed.drained(s);
              };
              handler->closed = handler->drained;
              response res;
              res.status = 200;
              res.set("Content-Type", "text/event-stream");
              res.set("Cache-Control", "no-cache");
              res.set("X-Accel-Buffering", "no");
              res.stream = std::move(handler);
              c->send(std::move(res));
            }));
}

void list_read(const call_ptr& c) {
  if (c->is("GET") && !c->collect && accepts_any(c->req.header("accept").value_or(""), {"text/event-stream"}))
    return list_follow(c);
  core::list_read r;
  r.if_none_match = select_list(*c, r);
  r.count_only = c->is("HEAD");
  const bool deprecated_to = r.q.deprecated_to;
  const std::size_t limit = r.limit;
  perform(c, core::op_list, std::move(r),
          std::function<void(const call_ptr&, core::result<core::list_page>)>(
            [deprecated_to, limit](const call_ptr& c, core::result<core::list_page> result) {
              if (auto* f = std::get_if<core::failure>(&result)) return c->send(failure_response(c->cfg(), *f));
              auto& page = std::get<core::list_page>(result);
              if (page.not_modified) return c->send(not_modified(page.list_timestamp));
              response res = json_response(200, "");
              add_timestamp_headers(res, page.list_timestamp);
              add_cache_headers(page.cache_seconds, res);
              if (deprecated_to) add_deprecation_alert(*c, res);
              send_page(c, std::move(res), page, limit);
            }));
}

void list_create(const call_ptr& c) {
  const kind k = c->r.list.of;
  core::object_write w;
  w.user_id = c->who.user_id;
  w.list = c->r.list;
  w.implicit = c->implicit;
  core::write_command& cmd = w.cmd;
  cmd.op = core::write_op::create;
  // Malformed parts are answered by the operation, in upstream's order
  // (a missing collection first).
  auto env = parse_envelope(c->req.body, k);
  if (auto* e = std::get_if<error>(&env)) return w.invalid = *e, run_write(c, std::move(w));
  auto& body = std::get<envelope>(env);
  auto pre = parse_preconditions(c->req, nullptr);
  if (auto* e = std::get_if<error>(&pre)) return w.invalid = *e, run_write(c, std::move(w));
  cmd.pre = std::get<core::preconditions>(pre);
  if (const json::value* id = body.data ? body.data->find("id") : nullptr) {
    if (!id->is_string() || !valid_id(k, id->as_string()))
      return w.invalid = invalid_parameter("path", std::nullopt, "Invalid object id"), run_write(c, std::move(w));
    cmd.id = id->as_string();
  } else if (k == kind::account) {
    return w.invalid = invalid_parameter("body", "data.id", "Required"), run_write(c, std::move(w));
  } else {
    cmd.id = k == kind::record ? crypto::uuid4() : crypto::random_name_id();
    cmd.id_generated = true;
  }
  cmd.data = std::move(body.data);
  cmd.permissions = std::move(body.permissions);
  run_write(c, std::move(w));
}

void list_delete(const call_ptr& c) {
  core::list_removal r;
  select_list(*c, r);
  const std::size_t limit = r.limit;
  perform(c, core::op_delete_list, std::move(r),
          std::function<void(const call_ptr&, core::result<core::list_removed>)>(
            [limit](const call_ptr& c, core::result<core::list_removed> result) {
              if (auto* f = std::get_if<core::failure>(&result)) return c->send(failure_response(c->cfg(), *f));
              auto& removed = std::get<core::list_removed>(result);
              std::string body = "{\"data\":[";
              for (std::size_t i = 0; i < removed.tombstones.size(); ++i) {
                if (i) body += ',';
                body += removed.tombstones[i];
              }
              body += "]}";
              response res = json_response(200, std::move(body));
              add_timestamp_headers(res, removed.last_modified);
              if (removed.next) res.set("Next-Page", next_page_url(*c, limit, *removed.next));
              c->send(std::move(res));
            }));
}

} // namespace

void handle_plural(const call_ptr& c) {
  if (c->is("POST")) return list_create(c);
  if (c->is("DELETE")) return list_delete(c);
  list_read(c);
}

} // namespace kinto::http
