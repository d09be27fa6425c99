// The changes plugin's endpoints (batch-and-plugins.md §10), as Remote
// Settings clients poll them: GET /buckets/monitor/collections/changes/records,
// GET /buckets/{bid}/collections/{cid}/changeset and GET /__broadcasts__.
// Besides the operations (core/changes_ops.cpp), the plugin's HTTP rules:
// `_since` and `_expected` as it reads them, the redirects that keep CDN
// caches few, and its cache lifetimes.
#include "http/body.hpp"
#include "http/call.hpp"

#include "base/json.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

namespace kinto::http {

namespace {

constexpr std::uint64_t january_1st_2100 = 4102444800000;

/// A timestamp parameter as the plugin reads it before validating anything:
/// an integer once its double quotes are stripped, else nullopt.
std::optional<std::int64_t> loose_integer(const std::optional<std::string>& raw) {
  if (!raw) return std::nullopt;
  std::string_view v = *raw;
  while (!v.empty() && v.front() == '"') v.remove_prefix(1);
  while (!v.empty() && v.back() == '"') v.remove_suffix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

/// Cache-Control and Expires for `seconds` (Pyramid's cache_expires).
void cache_for(response& res, std::int64_t seconds) {
  res.set("Cache-Control", "max-age=" + std::to_string(seconds));
  res.set("Expires", http_date((static_cast<std::uint64_t>(std::time(nullptr)) + static_cast<std::uint64_t>(seconds)) * 1000));
}

std::optional<std::int64_t> cache_setting(const config& cfg, std::string name) {
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const auto it = cfg.cache_expires.find(name);
  return it == cfg.cache_expires.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
}

/// The plugin's cache lifetime of a collection's changes: the collection's
/// own, its shortest one when `_expected` busts caches (`0`, or `9999...`
/// from tools), its longest one for other `_expected` values; else the
/// bucket's, else every record's. Nullopt when none is set.
std::optional<std::int64_t> changes_cache_seconds(const call& c, const std::string& bid, const std::string& cid) {
  const config& cfg = c.cfg();
  const std::string prefix = bid + "." + cid + ".record_cache";
  const auto fallback = cache_setting(cfg, prefix + "_expires_seconds");
  std::optional<std::int64_t> seconds = fallback;
  if (auto expected = c.query_value("_expected"); expected && !expected->empty()) {
    const bool busting = *expected == "0" || expected->rfind("9999", 0) == 0;
    const auto bound = cache_setting(cfg, prefix + (busting ? "_minimum" : "_maximum") + "_expires_seconds");
    if (bound) seconds = bound;
  }
  if (seconds) return seconds;
  for (const std::string& name : {bid + ".record_cache_expires_seconds", std::string("record_cache_expires_seconds")})
    if (auto s = cache_setting(cfg, name); s && *s != 0) return s;
  return std::nullopt;
}

/// Form encoding of the query parameters (Python's urlencode).
std::string form_encoded(const query_params& params) {
  std::string out;
  auto encode = [&out](std::string_view text) {
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned char ch : text) {
      if (std::isalnum(ch) || ch == '_' || ch == '.' || ch == '-' || ch == '~') {
        out += static_cast<char>(ch);
      } else if (ch == ' ') {
        out += '+';
      } else {
        out += '%';
        out += hex[ch >> 4];
        out += hex[ch & 15];
      }
    }
  };
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    encode(name);
    out += '=';
    encode(value);
  }
  return out;
}

/// A 307 to this endpoint with other parameters, on the host the plugin's
/// redirects name (`changes.http_host`, else `http_host`, else the
/// request's own), cacheable for `changes.since_max_age_redirect_ttl_seconds`.
void redirect_with(const call_ptr& c, const query_params& params) {
  const config& cfg = c->cfg();
  std::string path = "/v1" + c->path;
  if (!params.empty()) path += "?" + form_encoded(params);
  const std::string location = cfg.changes_redirect_host.empty()
    ? c->absolute_url(path)
    : (cfg.http_scheme.empty() ? "https" : cfg.http_scheme) + "://" + cfg.changes_redirect_host + path;
  response res;
  res.status = 307;
  res.set("Location", location);
  res.set("Content-Type", "application/json");
  res.body = "{}";
  if (cfg.changes_redirect_ttl >= 0) cache_for(res, cfg.changes_redirect_ttl);
  c->send(std::move(res));
}

/// `_expected` older than `_since`: the client asks to go back in time,
/// answered 204 (and cacheable) without reading anything.
bool answered_stale_expected(const call_ptr& c) {
  const auto since = loose_integer(c->query_value("_since"));
  const auto expected = loose_integer(std::optional<std::string>(c->query_value("_expected").value_or("0")));
  if (!since || !expected || !(*expected > 0 && *expected < *since)) return false;
  response res;
  res.status = 204;
  if (c->cfg().changes_redirect_ttl >= 0) cache_for(res, c->cfg().changes_redirect_ttl);
  c->send(std::move(res));
  return true;
}

/// A `_since` older than `changes.since_max_age_days`: redirected to the
/// same request without it, so that old clients share one cached answer.
bool answered_old_since(const call_ptr& c) {
  const auto since = loose_integer(c->query_value("_since"));
  const std::int64_t days = c->cfg().changes_since_max_age_days;
  if (!since || days < 0) return false;
  const std::int64_t oldest = static_cast<std::int64_t>(core::now_ms()) - days * 24 * 3600 * 1000;
  if (*since >= oldest) return false;
  query_params rest;
  for (const auto& p : c->query)
    if (p.first != "_since") rest.push_back(p);
  redirect_with(c, rest);
  return true;
}

/// A quoted `_expected` on monitor/changes' changeset: redirected to the
/// unquoted value, so that caches hold one answer.
bool answered_quoted_expected(const call_ptr& c) {
  const auto expected = c->query_value("_expected");
  if (!expected || expected->find('"') == std::string::npos) return false;
  query_params rest;
  for (const auto& p : c->query)
    if (p.first != "_expected") rest.push_back(p);
  std::string unquoted = *expected;
  unquoted.erase(std::remove(unquoted.begin(), unquoted.end(), '"'), unquoted.end());
  rest.emplace_back("_expected", std::move(unquoted));
  redirect_with(c, rest);
  return true;
}

std::string bucket_of(const list_key& records) {
  // "/buckets/{bid}/collections/{cid}"
  const std::string_view uri = records.parent;
  const std::size_t start = std::string_view("/buckets/").size();
  return std::string(uri.substr(start, uri.find('/', start) - start));
}

std::string collection_of(const list_key& records) {
  const std::string_view uri = records.parent;
  return std::string(uri.substr(uri.rfind('/') + 1));
}

/// `_since` of a changeset: digits, optionally between double quotes, up to
/// the year 2100.
std::variant<std::optional<std::uint64_t>, error> changeset_since(const call& c) {
  const auto raw = c.query_value("_since");
  if (!raw) return std::optional<std::uint64_t>();
  std::string_view digits = *raw;
  if (digits.size() >= 2 && digits.front() == '"' && digits.back() == '"') digits = digits.substr(1, digits.size() - 2);
  const bool well_formed = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char ch) {
    return ch >= '0' && ch <= '9';
  });
  if (!well_formed)
    return invalid_parameter("querystring", "_since", "The value should be integer, optionally between double quotes.");
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value > january_1st_2100) {
    std::string shown(digits.substr(std::min(digits.find_first_not_of('0'), digits.size() - 1)));
    return invalid_parameter("querystring", "_since",
                             shown + " is greater than maximum value " + std::to_string(january_1st_2100));
  }
  return std::optional<std::uint64_t>(value);
}

/// `_limit` of a changeset (an integer from 0 to 2^63), bounded by the
/// page size settings; the largest page when absent.
std::variant<std::size_t, error> changeset_limit(const call& c) {
  const config& cfg = c.cfg();
  const std::int64_t max_fetch = std::max<std::int64_t>(cfg.storage_max_fetch_size, 1);
  const std::int64_t most = std::min(cfg.paginate_by && *cfg.paginate_by > 0 ? *cfg.paginate_by : max_fetch, max_fetch);
  const auto raw = c.query_value("_limit");
  if (!raw) return static_cast<std::size_t>(most);
  std::string_view v = *raw;
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  bool negative = false;
  if (!v.empty() && (v.front() == '+' || v.front() == '-')) {
    negative = v.front() == '-';
    v.remove_prefix(1);
  }
  if (v.empty() || !std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return invalid_parameter("querystring", "_limit", "\"" + *raw + "\" is not a number");
  std::string shown(v.substr(std::min(v.find_first_not_of('0'), v.size() - 1)));
  if (negative && shown != "0") return invalid_parameter("querystring", "_limit", "-" + shown + " is less than minimum value 0");
  const std::string max_text = "9223372036854775808"; // 2^63
  if (shown.size() > max_text.size() || (shown.size() == max_text.size() && shown > max_text))
    return invalid_parameter("querystring", "_limit", shown + " is greater than maximum value " + max_text);
  std::uint64_t value = 0;
  std::from_chars(shown.data(), shown.data() + shown.size(), value);
  return static_cast<std::size_t>(std::min<std::uint64_t>(value, static_cast<std::uint64_t>(most)));
}

response json_answer(std::string body) {
  response res;
  res.status = 200;
  res.body = std::move(body);
  res.set("Content-Type", "application/json");
  return res;
}

} // namespace

void handle_monitor_changes(const call_ptr& c) {
  if (answered_stale_expected(c) || answered_old_since(c)) return;
  core::monitor_read r;
  query::field_policy policy;
  policy.any = false;
  policy.known_roots = {"id", "last_modified", "bucket", "collection", "host"};
  auto parsed = query::parse(c->query, core::now_ms(), policy);
  if (auto* e = std::get_if<error>(&parsed)) {
    r.invalid = std::move(*e);
  } else {
    r.q = std::move(std::get<query::request>(parsed));
    r.limit = core::page_size(c->cfg(), r.q);
    if (r.q.token) {
      auto decoded = query::decode_token(*r.q.token);
      if (auto* e = std::get_if<error>(&decoded)) r.invalid = std::move(*e);
      else r.after = std::move(std::get<query::token>(decoded));
    }
  }
  auto pre = parse_preconditions(c->req, &r.if_none_match);
  if (auto* e = std::get_if<error>(&pre)) {
    if (!r.invalid) r.invalid = std::move(*e);
  } else {
    r.pre = std::get<core::preconditions>(pre);
  }
  r.count_only = c->is("HEAD");
  const std::size_t limit = r.limit;
  perform(c, core::op_monitor_changes, std::move(r),
          std::function<void(const call_ptr&, core::result<core::list_page>)>(
            [limit](const call_ptr& c, core::result<core::list_page> result) {
              if (auto* f = std::get_if<core::failure>(&result)) return c->send(failure_response(c->cfg(), *f));
              auto& page = std::get<core::list_page>(result);
              response res = json_answer("");
              res.set("ETag", "\"" + std::to_string(page.list_timestamp) + "\"");
              res.set("Last-Modified", http_date(page.list_timestamp));
              if (auto seconds = changes_cache_seconds(*c, "monitor", "changes")) cache_for(res, *seconds);
              else res.set("Cache-Control", "no-cache, no-store");
              send_page(c, std::move(res), page, limit);
            }));
}

void handle_changeset(const call_ptr& c) {
  core::changeset_read r;
  r.user_id = c->who.user_id;
  r.bucket_id = bucket_of(c->r.list);
  r.collection_id = collection_of(c->r.list);
  r.implicit = c->implicit;
  r.bucket_filter = c->query_value("bucket");
  r.collection_filter = c->query_value("collection");
  auto since = changeset_since(*c);
  auto limit = changeset_limit(*c);
  if (!c->query_value("_expected")) r.invalid = invalid_parameter("querystring", "_expected", "Required");
  else if (auto* e = std::get_if<error>(&since)) r.invalid = std::move(*e);
  else if (auto* e = std::get_if<error>(&limit)) r.invalid = std::move(*e);
  if (!r.invalid) {
    r.since = std::get<std::optional<std::uint64_t>>(since);
    r.limit = std::get<std::size_t>(limit);
    if (r.bucket_id == "monitor" && r.collection_id == "changes" &&
        (answered_quoted_expected(c) || answered_stale_expected(c) || answered_old_since(c)))
      return;
  }
  perform(c, core::op_changeset, std::move(r),
          std::function<void(const call_ptr&, core::result<core::changeset>)>(
            [](const call_ptr& c, core::result<core::changeset> result) {
              if (auto* f = std::get_if<core::failure>(&result)) return c->send(failure_response(c->cfg(), *f));
              auto& set = std::get<core::changeset>(result);
              std::string body = "{\"metadata\":" + set.metadata + ",\"timestamp\":" + std::to_string(set.timestamp) +
                                 ",\"changes\":[";
              for (std::size_t i = 0; i < set.changes.size(); ++i) {
                if (i) body += ',';
                body += set.changes[i];
              }
              body += "]}";
              response res = json_answer(std::move(body));
              res.set("Last-Modified", http_date(set.last_modified));
              if (auto seconds = changes_cache_seconds(*c, bucket_of(c->r.list), collection_of(c->r.list)))
                cache_for(res, *seconds);
              c->send(std::move(res));
            }));
}

void handle_broadcasts(const call_ptr& c) {
  perform(c, core::op_broadcast, core::broadcast_read{&c->a.broadcasts},
          std::function<void(const call_ptr&, core::result<std::uint64_t>)>(
            [](const call_ptr& c, core::result<std::uint64_t> result) {
              if (auto* f = std::get_if<core::failure>(&result)) return c->send(failure_response(c->cfg(), *f));
              json::value channels = json::value::object();
              channels.set("remote-settings/monitor_changes",
                           json::value("\"" + std::to_string(std::get<std::uint64_t>(result)) + "\""));
              json::value body = json::value::object();
              body.set("broadcasts", std::move(channels));
              body.set("code", json::value(200));
              c->send(json_answer(json::serialize(body)));
            }));
}

} // namespace kinto::http
