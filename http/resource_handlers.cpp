// Object and plural endpoints of every resource (buckets, groups,
// collections, records, accounts): reads straight from an LMDB snapshot,
// writes through the write service. resources.md, concurrency.md.
#include "http/body.hpp"
#include "http/call.hpp"

#include "core/objects.hpp"
#include "http/auth.hpp"
#include "schema/crypto.hpp"
#include "schema/json.hpp"
#include "schema/query.hpp"
#include "storage/listing.hpp"
#include "core/write_rules.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

namespace kinto::http {

namespace {

std::string etag(std::uint64_t ts) { return "\"" + std::to_string(ts) + "\""; }

void add_timestamp_headers(response& res, std::uint64_t ts) {
  res.set("ETag", etag(ts));
  res.set("Last-Modified", http_date(ts));
}

/// `{"data": ..., "permissions": ...}`: permissions only for explicit writers.
std::string render_object(const core::caller& who, std::string_view data, std::string_view permissions_text) {
  const bool writer = core::acl::decode(permissions_text).grants("write", who.principals);
  std::string out;
  out.reserve(data.size() + permissions_text.size() + 32);
  out += "{\"data\":";
  out += data;
  out += ",\"permissions\":";
  out += writer ? permissions_text : std::string_view("{}");
  out += '}';
  return out;
}

/// The caching headers of a successful read (core::cache_seconds).
void add_cache_headers(const call& c, const storage::view& snap, response& res) {
  const std::optional<std::int64_t> expires = core::cache_seconds(c.cfg(), c.who, snap, c.r.list);
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

void send_object(const call_ptr& c, int status, std::uint64_t ts, std::string body) {
  response res;
  res.status = status;
  res.body = std::move(body);
  res.set("Content-Type", "application/json");
  add_timestamp_headers(res, ts);
  c->send(std::move(res));
}

/// Hashes an account's passwords off the io threads, then continues.
void with_hashed_password(const call_ptr& c, actors::write_command& cmd, std::function<void()> next) {
  std::vector<json::value*> clear = core::clear_passwords(cmd);
  if (clear.empty()) return next();
  // Off the I/O threads, on the bounded blocking pool (inline in a batch's
  // transaction); refused when too many wait.
  const bool queued = c->port.offload([c, clear, next = std::move(next)] {
    for (json::value* slot : clear) {
      auto hash = crypto::bcrypt_hash(slot->as_string(), c->cfg().bcrypt_cost);
      if (!hash) return c->fail(invalid_parameter("body", "data.password", "Password cannot be hashed"));
      *slot = json::value(*hash);
    }
    next();
  });
  if (!queued) c->fail(backend_unavailable());
}

/// `read`: what the handler read of the target, from its snapshot (the
/// write is planned on it), when the write is submitted before it returns.
void submit_write(const call_ptr& c, const list_key& list, actors::write_command cmd, std::optional<json::value> sent,
                  std::string behaviour, const core::target_read* read = nullptr) {
  const bool is_account = list.of == kind::account;
  const std::string id = cmd.id;
  const bool removes = cmd.op == actors::write_op::remove;
  const bool changes_account = is_account && (removes || (cmd.data && cmd.data->find("password")) || cmd.patch);
  auto on_outcome = [c, sent = std::move(sent), behaviour, removes, changes_account, is_account,
                     id](actors::write_outcome out) {
    if (out.failure) {
      response res = error_response(c->cfg(), *out.failure);
      if (out.failure->status == 412 && out.last_modified) add_timestamp_headers(res, out.last_modified);
      return c->send(std::move(res));
    }
    if (changes_account) c->a.accounts_cache->forget_account(id);
    if (removes) return send_object(c, 200, out.last_modified, "{\"data\":" + out.data + "}");
    std::string data = sent ? core::shape_patch_response(behaviour, *sent, out.previous, out.data) : out.data;
    // An account's write is made in its own name, also when an administrator
    // or an anonymous sign-up makes it: it sees the account's permissions.
    core::caller viewer = c->who;
    if (is_account) viewer.principals.push_back("account:" + id);
    send_object(c, out.created ? 201 : 200, out.last_modified, render_object(viewer, data, out.permissions));
  };
  c->submit(
    list, std::move(cmd),
    [c, on_outcome = std::move(on_outcome)](actors::write_outcome out) mutable {
      c->resume([on_outcome = std::move(on_outcome), out = std::move(out)]() mutable { on_outcome(std::move(out)); });
    },
    read);
}

void object_read(const call_ptr& c, const storage::view& snap) {
  const list_key& list = c->r.list;
  auto obj = snap.get(list, c->r.id);
  if (!obj || obj->deleted) return c->fail(object_not_found(c->r.id, kind_name(list.of)));
  std::optional<std::uint64_t> none_match;
  auto pre = parse_preconditions(c->req, &none_match);
  if (auto* e = std::get_if<error>(&pre)) return c->fail(*e);
  auto& p = std::get<actors::preconditions>(pre);
  if (none_match && *none_match == obj->last_modified) {
    response res;
    res.status = 304;
    add_timestamp_headers(res, obj->last_modified);
    return c->send(std::move(res));
  }
  if (p.if_none_match_any || (p.if_match && *p.if_match != obj->last_modified)) {
    std::string err;
    auto existing = json::parse(obj->data, err);
    response res = error_response(c->cfg(), precondition_failed(std::move(existing)));
    add_timestamp_headers(res, obj->last_modified);
    return c->send(std::move(res));
  }
  const std::string perms = snap.permissions(list.object_uri(c->r.id)).value_or("{}");
  std::string data = obj->data;
  if (auto fields = c->query_value("_fields")) {
    // Partial response (querying.md §6), as on lists.
    std::vector<std::string> names;
    for (std::size_t start = 0; start <= fields->size();) {
      std::size_t comma = fields->find(',', start);
      if (comma == std::string::npos) comma = fields->size();
      std::string name = fields->substr(start, comma - start);
      name.erase(0, name.find_first_not_of(' '));
      name.erase(name.find_last_not_of(' ') + 1);
      if (!name.empty()) names.push_back(std::move(name));
      start = comma + 1;
    }
    std::string err;
    if (auto full = json::parse(obj->data, err)) data = json::serialize(query::project(*full, names));
  }
  response res;
  res.status = 200;
  res.body = render_object(c->who, data, perms);
  res.set("Content-Type", "application/json");
  add_timestamp_headers(res, obj->last_modified);
  add_cache_headers(*c, snap, res);
  c->send(std::move(res));
}

/// Fills the command's body part for PUT/PATCH/POST; false when it failed (answered).
bool read_body(const call_ptr& c, actors::write_command& cmd, std::optional<json::value>& sent) {
  const kind k = c->r.list.of;
  // The router let only JSON and, for PATCH, the patch formats through.
  const auto type = parse_media_type(c->req.header("content-type").value_or(""));
  auto is = [&](std::string_view essence) { return type && type->is(essence); };
  if (c->is("PATCH") && is("application/json-patch+json")) {
    auto ops = parse_json_patch(c->req.body);
    if (auto* e = std::get_if<error>(&ops)) return c->fail(*e), false;
    cmd.format = actors::patch_format::json_patch;
    cmd.patch = std::move(std::get<json::value>(ops));
    return true;
  }
  auto env = parse_envelope(c->req.body, k);
  if (auto* e = std::get_if<error>(&env)) return c->fail(*e), false;
  auto& body = std::get<envelope>(env);
  if (c->is("PATCH")) {
    cmd.format = is("application/merge-patch+json") ? actors::patch_format::merge_patch : actors::patch_format::merge;
    if (!body.data && !body.permissions)
      return c->fail(invalid_parameter("body", "data", "Provide at least one of data or permissions")), false;
    sent = body.data;
  }
  cmd.data = std::move(body.data);
  cmd.permissions = std::move(body.permissions);
  return true;
}

} // namespace

void handle_object(const call_ptr& c) {
  const list_key& list = c->r.list;
  const kind k = list.of;
  storage::snapshot snap = c->read();
  if (!snap.valid()) return c->fail(backend_unavailable());
  const bool is_account = k == kind::account;
  const std::optional<error> owner_missing = core::missing_owner(snap, list);
  const error invalid_id = invalid_parameter("path", std::nullopt, "Invalid object id");
  if (is_account && !valid_id(k, c->r.id)) return c->fail(invalid_id);

  if (c->is("GET") || c->is("HEAD")) {
    if (is_account) {
      if (auto e = core::account_access(c->cfg(), c->who, c->r.id, false)) return c->fail(*e);
    } else if (!c->decider(snap).may(list, c->r.id, permissions::action::read)) {
      return c->fail(denied(*c));
    }
    if (owner_missing) return c->fail(*owner_missing);
    if (!valid_id(k, c->r.id)) return c->fail(invalid_id);
    return object_read(c, snap);
  }
  // Writes of records in a missing collection are refused before
  // authorization (resources.md §8).
  if (k == kind::record && owner_missing) return c->fail(*owner_missing);

  actors::write_command cmd;
  cmd.id = c->r.id;
  cmd.author = c->who.author();
  cmd.explicit_permissions = c->cfg().explicit_permissions;
  auto pre = parse_preconditions(c->req, nullptr);
  if (auto* e = std::get_if<error>(&pre)) return c->fail(*e);
  cmd.pre = std::get<actors::preconditions>(pre);
  std::optional<json::value> sent;
  std::string behaviour;

  if (c->is("DELETE")) {
    cmd.op = actors::write_op::remove;
    if (auto ts = c->query_value("last_modified")) {
      std::uint64_t v = 0;
      auto [ptr, ec] = std::from_chars(ts->data(), ts->data() + ts->size(), v);
      if (ec == std::errc() && ptr == ts->data() + ts->size()) cmd.tombstone_timestamp = v;
    }
  } else {
    cmd.op = c->is("PUT") ? actors::write_op::put : actors::write_op::patch;
    if (!read_body(c, cmd, sent)) return;
    if (cmd.data) {
      if (const json::value* id = cmd.data->find("id"); id && id->as_string() != c->r.id)
        return c->fail(invalid_parameter("body", "id", "Object id does not match existing object"));
    }
    if (c->is("PATCH")) {
      behaviour = std::string(c->req.header("response-behavior").value_or("full"));
      if (behaviour != "full" && behaviour != "light" && behaviour != "diff")
        return c->fail(invalid_parameter("header", "Response-Behavior", "'" + behaviour + "' is not one of full, light, diff"));
    }
  }

  if (is_account) {
    const bool exists = [&] {
      auto obj = snap.get(list, c->r.id);
      return obj && !obj->deleted;
    }();
    if (exists || !c->is("PUT")) {
      if (auto e = core::account_access(c->cfg(), c->who, c->r.id, true)) return c->fail(*e);
    } else if (auto e = core::account_creation(c->cfg(), c->who, c->r.id)) {
      return c->fail(*e);
    }
    if (c->is("PUT") || cmd.data)
      if (auto e = core::account_password(c->is("PUT"), cmd.data)) return c->fail(*e);
    cmd.author = "account:" + c->r.id;
    auto shared_cmd = std::make_shared<actors::write_command>(std::move(cmd));
    return with_hashed_password(c, *shared_cmd, [c, shared_cmd, sent, behaviour] {
      submit_write(c, c->r.list, std::move(*shared_cmd), sent, behaviour);
    });
  }

  // auth-permissions.md §5.1–§5.2. The target is read once: for this
  // decision, then to plan the write on.
  const core::current_state target = core::read_current(snap, list, c->r.id);
  const bool exists = target.exists();
  core::decider access = c->decider(snap);
  if (exists) access.know(list.object_uri(c->r.id), core::acl::from(target.permissions));
  if (!access.may(list, c->r.id, core::needed_for_write(cmd.op, exists, cmd.pre))) return c->fail(denied(*c));
  if (owner_missing) return c->fail(*owner_missing);
  if (!valid_id(k, c->r.id)) return c->fail(invalid_id);
  if (cmd.op != actors::write_op::remove) {
    auto validator = core::schema_validator(c->cfg(), *c->a.schemas, snap, list);
    if (auto* e = std::get_if<error>(&validator)) return c->fail(*e);
    cmd.validate = std::move(std::get<core::write_validator>(validator));
  }
  const core::target_read read{snap, target};
  submit_write(c, list, std::move(cmd), std::move(sent), std::move(behaviour), &read);
}

// ---- plural endpoints --------------------------------------------------------

/// Page size (querying.md §4.2).
std::size_t page_size(const config& cfg, const query::request& q) {
  const std::int64_t max_fetch = std::max<std::int64_t>(cfg.storage_max_fetch_size, 1);
  std::optional<std::int64_t> size = q.limit;
  if (size && *size == 0) return static_cast<std::size_t>(max_fetch);
  if (cfg.paginate_by && *cfg.paginate_by > 0) size = size ? std::min(*size, *cfg.paginate_by) : *cfg.paginate_by;
  return static_cast<std::size_t>(size ? std::min(*size, max_fetch) : max_fetch);
}

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

namespace {

/// Which objects of a list the caller may see (or delete): empty = all.
using access_rule = std::function<storage::visibility(const storage::view&)>;

/// Accounts: non-administrators only see their own.
access_rule account_rule(const call_ptr& c, bool write) {
  if (core::is_account_admin(c->cfg(), c->who, write)) return {};
  return [c](const storage::view&) -> storage::visibility {
    return [c](std::string_view id) { return c->who.user_id == "account:" + std::string(id); };
  };
}

/// auth-permissions.md §6: the whole list, the objects the caller holds a
/// permission on, or nothing (when the caller may only create); nullopt
/// when the caller may not use the list at all.
std::optional<access_rule> list_access(const call_ptr& c, const storage::view& v, bool write) {
  const list_key& list = c->r.list;
  if (list.of == kind::account) return account_rule(c, write);
  core::decider access = c->decider(v);
  if (access.may(list, "", write ? permissions::action::write_all : permissions::action::read_all)) return access_rule{};
  std::vector<std::string_view> names = write ? std::vector<std::string_view>{"write"} : permissions::listing_names(list.of);
  if (access.holds_on_some(list, names))
    return access_rule{[c, list, names](const storage::view& snap) {
      return core::holding(snap, std::shared_ptr<const core::caller>(c, &c->who), list, names);
    }};
  if (access.may(list, "", permissions::action::create))
    return access_rule{[](const storage::view&) -> storage::visibility { return [](std::string_view) { return false; }; }};
  return std::nullopt;
}

std::variant<query::request, error> parse_query(const call& c) {
  if (c.r.list.of != kind::history) return query::parse(c.query, actors::now_ms());
  // History entries accept filters on their own fields only; their ids are
  // strings even when they look like numbers.
  query::field_policy policy;
  policy.any = false;
  policy.known_roots = {"id", "last_modified", "action", "uri", "user_id", "resource_name", "bucket_id",
                        "group_id", "collection_id", "record_id", "date", "target"};
  auto parsed = query::parse(c.query, actors::now_ms(), policy);
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

void add_deprecation_alert(const call& c, const query::request& q, response& res) {
  if (!q.deprecated_to) return;
  json::value alert = json::value::object();
  alert.set("code", json::value("soft-eol"));
  alert.set("message", json::value("_to is now deprecated, you should use _before instead"));
  alert.set("url", json::value(c.cfg().project_docs));
  res.set("Alert", json::serialize(alert));
}

void list_objects(const call_ptr& c, std::uint64_t list_ts, const access_rule& rule) {
  storage::snapshot snap = c->read();
  if (!snap.valid()) return c->fail(backend_unavailable());
  auto parsed = parse_query(*c);
  if (auto* e = std::get_if<error>(&parsed)) return c->fail(*e);
  const query::request& q = std::get<query::request>(parsed);
  std::optional<std::uint64_t> none_match;
  auto pre = parse_preconditions(c->req, &none_match);
  if (auto* e = std::get_if<error>(&pre)) return c->fail(*e);
  auto& p = std::get<actors::preconditions>(pre);
  if (none_match && *none_match == list_ts) {
    response res;
    res.status = 304;
    add_timestamp_headers(res, list_ts);
    return c->send(std::move(res));
  }
  if (p.if_none_match_any || (p.if_match && *p.if_match != list_ts)) {
    response res = error_response(c->cfg(), precondition_failed(std::nullopt));
    add_timestamp_headers(res, list_ts);
    return c->send(std::move(res));
  }
  response res;
  res.status = 200;
  res.set("Content-Type", "application/json");
  add_timestamp_headers(res, list_ts);
  add_cache_headers(*c, snap, res);
  add_deprecation_alert(*c, q, res);
  const storage::visibility visible = rule ? rule(snap) : storage::visibility{};

  if (c->is("HEAD")) {
    const std::string total = std::to_string(storage::count(snap, c->r.list, q, visible));
    res.set("Total-Objects", total);
    res.set("Total-Records", total);
    return c->send(std::move(res));
  }

  storage::page_request wanted;
  wanted.limit = page_size(c->cfg(), q);
  wanted.visible = visible;
  std::int64_t offset = 0;
  if (q.token) {
    auto decoded = query::decode_token(*q.token);
    if (auto* e = std::get_if<error>(&decoded)) return c->fail(*e);
    auto& t = std::get<query::token>(decoded);
    wanted.after = std::move(t.last_object);
    offset = t.offset;
  }
  storage::page page = storage::read_page(snap, c->r.list, q, wanted);
  std::string body = "{\"data\":[";
  for (std::size_t i = 0; i < page.objects.size(); ++i) {
    if (i) body += ',';
    if (q.fields) {
      std::string err;
      auto object = json::parse(page.objects[i], err);
      body += object ? json::serialize(query::project(*object, *q.fields)) : page.objects[i];
    } else {
      body += page.objects[i];
    }
  }
  body += "]}";
  if (page.more) {
    auto next = query::token_after(q.sort, page.last, offset + static_cast<std::int64_t>(wanted.limit) + 1);
    res.set("Next-Page", next_page_url(*c, wanted.limit, next));
  }
  res.body = std::move(body);
  c->send(std::move(res));
}

void list_read(const call_ptr& c, access_rule rule) {
  storage::snapshot snap = c->read();
  if (!snap.valid()) return c->fail(backend_unavailable());
  if (auto ts = snap.list_timestamp(c->r.list)) return list_objects(c, *ts, rule);
  if (c->cfg().readonly) {
    error e = backend_unavailable();
    e.message = "Resource timestamp cannot be written. Plural endpoint must be hit at least once from a writable instance.";
    return c->fail(e);
  }
  // The first read of a list gives it a timestamp, which later reads keep.
  actors::write_command touch;
  touch.op = actors::write_op::touch;
  c->submit(c->r.list, std::move(touch), [c, rule = std::move(rule)](actors::write_outcome out) {
    c->resume([c, rule, out = std::move(out)] {
      if (out.failure) return c->fail(*out.failure);
      // Read back what is stored: a concurrent write may have set it first.
      auto ts = c->read().list_timestamp(c->r.list);
      if (!ts) return c->fail(backend_unavailable());
      list_objects(c, *ts, rule);
    });
  });
}

void list_create(const call_ptr& c) {
  const kind k = c->r.list.of;
  auto env = parse_envelope(c->req.body, k);
  if (auto* e = std::get_if<error>(&env)) return c->fail(*e);
  auto& body = std::get<envelope>(env);
  actors::write_command cmd;
  cmd.op = actors::write_op::create;
  cmd.author = c->who.author();
  cmd.explicit_permissions = c->cfg().explicit_permissions;
  auto pre = parse_preconditions(c->req, nullptr);
  if (auto* e = std::get_if<error>(&pre)) return c->fail(*e);
  cmd.pre = std::get<actors::preconditions>(pre);
  if (const json::value* id = body.data ? body.data->find("id") : nullptr) {
    if (!id->is_string() || !valid_id(k, id->as_string()))
      return c->fail(invalid_parameter("path", std::nullopt, "Invalid object id"));
    cmd.id = id->as_string();
  } else if (k == kind::account) {
    return c->fail(invalid_parameter("body", "data.id", "Required"));
  } else {
    cmd.id = k == kind::record ? crypto::uuid4() : crypto::random_name_id();
    cmd.id_generated = true;
  }
  cmd.data = std::move(body.data);
  cmd.permissions = std::move(body.permissions);
  storage::snapshot snap = c->read();
  if (!snap.valid()) return c->fail(backend_unavailable());
  if (k != kind::account) {
    // Posting an existing id reads it; otherwise it creates (§5.1). The
    // target is read once, for this decision and to plan the write on.
    const core::current_state target = core::read_current(snap, c->r.list, cmd.id);
    const bool exists = target.exists();
    core::decider access = c->decider(snap);
    if (exists) access.know(c->r.list.object_uri(cmd.id), core::acl::from(target.permissions));
    if (!access.may(c->r.list, cmd.id, exists ? permissions::action::read : permissions::action::create))
      return c->fail(denied(*c));
    if (auto e = core::missing_owner(snap, c->r.list)) return c->fail(*e);
    auto validator = core::schema_validator(c->cfg(), *c->a.schemas, snap, c->r.list);
    if (auto* e = std::get_if<error>(&validator)) return c->fail(*e);
    cmd.validate = std::move(std::get<core::write_validator>(validator));
    const core::target_read read{snap, target};
    return submit_write(c, c->r.list, std::move(cmd), std::nullopt, {}, &read);
  }

  auto existing = snap.get(c->r.list, cmd.id);
  if (existing && !existing->deleted) {
    if (auto e = core::account_access(c->cfg(), c->who, cmd.id, false)) return c->fail(*e);
  } else {
    if (auto e = core::account_creation(c->cfg(), c->who, cmd.id)) return c->fail(*e);
    if (auto e = core::account_password(true, cmd.data)) return c->fail(*e);
  }
  cmd.author = "account:" + cmd.id;
  auto shared_cmd = std::make_shared<actors::write_command>(std::move(cmd));
  with_hashed_password(c, *shared_cmd, [c, shared_cmd] {
    submit_write(c, c->r.list, std::move(*shared_cmd), std::nullopt, {});
  });
}

/// One page of a plural DELETE (querying.md §8), chosen on a view: the ids
/// to remove in sort order, the Next-Page link, the list timestamp.
struct deletion_page {
  std::vector<std::string> ids;
  std::optional<std::string> next_page;
  std::uint64_t list_ts = 0;
};

/// The page of matching live objects the caller may delete, read from `v`;
/// or the answer when the request removes nothing (400, 412).
std::variant<deletion_page, response> choose_deletions(const call& c, const access_rule& rule, const storage::view& v) {
  auto parsed = parse_query(c);
  if (auto* e = std::get_if<error>(&parsed)) return error_response(c.cfg(), *e);
  const query::request& q = std::get<query::request>(parsed);
  deletion_page chosen;
  chosen.list_ts = v.list_timestamp(c.r.list).value_or(0);
  auto pre = parse_preconditions(c.req, nullptr);
  if (auto* e = std::get_if<error>(&pre)) return error_response(c.cfg(), *e);
  auto& p = std::get<actors::preconditions>(pre);
  if (p.if_none_match_any || (p.if_match && *p.if_match != chosen.list_ts)) {
    response res = error_response(c.cfg(), precondition_failed(std::nullopt));
    add_timestamp_headers(res, chosen.list_ts);
    return res;
  }
  storage::page_request wanted;
  wanted.limit = page_size(c.cfg(), q);
  if (rule) wanted.visible = rule(v);
  wanted.live_only = true;
  std::int64_t offset = 0;
  if (q.token) {
    auto decoded = query::decode_token(*q.token);
    if (auto* e = std::get_if<error>(&decoded)) return error_response(c.cfg(), *e);
    auto& t = std::get<query::token>(decoded);
    // Deletion tokens are single use.
    if (!c.a.deletion_tokens.consume(t.nonce))
      return error_response(c.cfg(), invalid_parameter("querystring", std::nullopt, "_token was already used or has expired."));
    wanted.after = std::move(t.last_object);
    offset = t.offset;
  }
  storage::page page = storage::read_page(v, c.r.list, q, wanted);
  for (const auto& text : page.objects) {
    std::string err;
    auto object = json::parse(text, err);
    const json::value* id = object ? object->find("id") : nullptr;
    if (id && id->is_string()) chosen.ids.push_back(id->as_string());
  }
  if (page.more) {
    auto next = query::token_after(q.sort, page.last, offset + static_cast<std::int64_t>(chosen.ids.size()));
    c.a.deletion_tokens.remember(next.nonce);
    chosen.next_page = next_page_url(c, wanted.limit, next);
  }
  return chosen;
}

/// What a plural DELETE answers: the tombstones of the removals that took
/// place, in the page's order.
response deletion_response(const deletion_page& page, const std::vector<std::optional<std::string>>& tombstones,
                           std::uint64_t newest) {
  std::string body = "{\"data\":[";
  bool first = true;
  for (const auto& t : tombstones) {
    if (!t) continue;
    body += first ? "" : ",";
    body += *t;
    first = false;
  }
  body += "]}";
  response res;
  res.status = 200;
  res.body = std::move(body);
  res.set("Content-Type", "application/json");
  add_timestamp_headers(res, newest);
  if (page.next_page) res.set("Next-Page", *page.next_page);
  return res;
}

actors::write_command removal(const call& c, const std::string& id) {
  actors::write_command cmd;
  cmd.op = actors::write_op::remove;
  cmd.id = id;
  cmd.author = c.who.author();
  return cmd;
}

/// Plural DELETE of a history: one session of the write path chooses the
/// entries and removes them. History entries are appended by the committer,
/// inside the transactions of the changes they describe, not by the
/// history's list actor; so only a writer reads every entry acknowledged so
/// far and the history's true timestamp. Removals planned elsewhere (by the
/// list actor, against a snapshot) could take a timestamp that an earlier
/// removal of the same purge, or a new entry, already held, and be refused.
void purge_history(const call_ptr& c, const access_rule& rule) {
  struct purge {
    std::variant<deletion_page, response> chosen = response{};
    std::vector<std::optional<std::string>> tombstones;
    std::uint64_t newest = 0;
  };
  auto out = std::make_shared<purge>();
  auto run = [c, rule, out](core::transaction& transaction) {
    const storage::snapshot current = transaction.read();
    if (!current.valid()) return transaction.abort();
    out->chosen = choose_deletions(*c, rule, current);
    auto* page = std::get_if<deletion_page>(&out->chosen);
    if (!page) return;
    out->newest = page->list_ts;
    for (const auto& id : page->ids) {
      // Writes in a transaction are answered before write() returns.
      transaction.write(c->r.list, removal(*c, id), [out](actors::write_outcome removed) {
        if (removed.failure) {
          out->tombstones.emplace_back();
          return;
        }
        out->tombstones.emplace_back(std::move(removed.data));
        out->newest = std::max(out->newest, removed.last_modified);
      }, nullptr);
    }
  };
  auto answer = [c](purge& out) {
    if (auto* refused = std::get_if<response>(&out.chosen)) return c->send(std::move(*refused));
    c->send(deletion_response(std::get<deletion_page>(out.chosen), out.tombstones, out.newest));
  };
  c->port.transact(run, [c, out, answer](storage::status s) {
    c->resume([c, out, answer, s] {
      if (s != storage::status::ok)
        return c->fail(s == storage::status::full ? insufficient_storage() : backend_unavailable());
      answer(*out);
    });
  });
}

/// Plural DELETE (querying.md §8): the matching live objects of one page,
/// each deleted by its own write, in sort order.
void list_delete(const call_ptr& c, const access_rule& rule) {
  if (c->r.list.of == kind::history) return purge_history(c, rule);
  storage::snapshot snap = c->read();
  if (!snap.valid()) return c->fail(backend_unavailable());
  auto chosen = choose_deletions(*c, rule, snap);
  if (auto* refused = std::get_if<response>(&chosen)) return c->send(std::move(*refused));
  const deletion_page page = std::move(std::get<deletion_page>(chosen));

  struct progress {
    std::mutex mutex;
    std::vector<std::optional<std::string>> tombstones;
    std::size_t remaining = 0;
    std::uint64_t newest = 0;
  };
  auto state = std::make_shared<progress>();
  state->tombstones.resize(page.ids.size());
  state->remaining = page.ids.size();
  state->newest = page.list_ts;
  auto finish = [c, state, page] { c->send(deletion_response(page, state->tombstones, state->newest)); };
  if (page.ids.empty()) return finish();
  for (std::size_t i = 0; i < page.ids.size(); ++i) {
    c->submit(c->r.list, removal(*c, page.ids[i]), [c, state, finish, i](actors::write_outcome out) {
      bool last = false;
      {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (!out.failure) {
          state->tombstones[i] = out.data;
          state->newest = std::max(state->newest, out.last_modified);
        }
        last = --state->remaining == 0;
      }
      if (last) c->resume(finish);
    });
  }
}

} // namespace

void handle_plural(const call_ptr& c) {
  storage::snapshot snap = c->read();
  if (!snap.valid()) return c->fail(backend_unavailable());
  const auto owner_missing = core::missing_owner(snap, c->r.list);
  if (c->is("POST")) {
    // Records in a missing collection: 404 before authorization (resources.md §8).
    if (c->r.list.of == kind::record && owner_missing) return c->fail(*owner_missing);
    return list_create(c);
  }
  if (c->r.list.of == kind::account && !c->who.authenticated()) return c->fail(unauthorized());
  auto rule = list_access(c, snap, c->is("DELETE"));
  if (!rule) return c->fail(denied(*c));
  if (owner_missing) return c->fail(*owner_missing);
  if (c->is("DELETE")) return list_delete(c, *rule);
  list_read(c, std::move(*rule));
}

} // namespace kinto::http
