// The way every request goes: read-only mode, the /v1 prefix and redirects,
// the route table, allowed methods, CORS pre-flight, content negotiation,
// authentication, then the endpoint's handler. Headers every response
// carries are added in call::send, the one exit.
#include "http/app.hpp"
#include "http/call.hpp"
#include "http/routes.hpp"

#include "base/json.hpp"
#include "base/log.hpp"

#include <algorithm>
#include <random>
#include <ctime>

namespace kinto::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

} // namespace

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

namespace {

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

bool origin_allowed(const config& cfg, std::string_view origin) {
  for (const auto& pattern : cfg.cors_origins) {
    if (pattern == "*" || pattern == origin) return true;
    if (pattern.size() > 1 && pattern[0] == '*') {
      std::string_view suffix = std::string_view(pattern).substr(1);
      if (origin.size() >= suffix.size() && origin.substr(origin.size() - suffix.size()) == suffix) return true;
    }
  }
  return false;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

/// Headers a browser may read (service-endpoints.md §5): a base set, plus
/// caching headers on reads of resources, plus paging and counts on lists.
std::vector<std::string> exposed_headers(const call& c) {
  std::vector<std::string> h{"Retry-After", "Content-Length", "Content-Type", "Alert", "Backoff"};
  const bool read = c.is("GET") || c.is("HEAD") || c.is("OPTIONS");
  const bool plural = c.r.ep == endpoint::plural, object = c.r.ep == endpoint::object;
  if (read && (plural || object)) {
    for (const char* name : {"Expires", "Last-Modified", "Cache-Control", "ETag", "Pragma"}) h.emplace_back(name);
  }
  if (read && plural) h.emplace_back("Next-Page");
  if (plural && (c.is("HEAD") || c.is("OPTIONS"))) {
    h.emplace_back("Total-Objects");
    h.emplace_back("Total-Records");
  }
  return h;
}

void redirect(const call_ptr& c, std::string location, std::int64_t ttl) {
  response res;
  res.status = 307;
  res.set("Location", std::move(location));
  if (ttl > 0) {
    res.set("Cache-Control", "max-age=" + std::to_string(ttl));
    res.set("Expires", http_date(static_cast<std::uint64_t>(std::time(nullptr) + ttl) * 1000));
  } else if (ttl == 0) {
    res.set("Cache-Control", "no-cache");
  }
  res.set("Content-Type", "application/json");
  res.body = "{}";
  c->send(std::move(res));
}

/// Kinto Admin (kinto.plugins.admin): `/v1/admin` redirects to `/v1/admin/`,
/// which serves the UI's files, read at start. No authentication: the UI
/// signs in itself.
void serve_admin(const call_ptr& c, const std::string& suffix) {
  if (!c->is("GET") && !c->is("HEAD")) {
    response res = error_response(c->cfg(), method_not_allowed());
    res.set("Allow", "GET, HEAD");
    return c->send(std::move(res));
  }
  if (c->path == "/admin") return redirect(c, c->absolute_url("/v1/admin/" + suffix), -1);
  const auto& assets = c->cfg().admin_ui;
  std::optional<response> res = assets ? admin_response(*assets, c->path, c->req.header("if-none-match")) : std::nullopt;
  if (!res) return c->fail(route_not_found());
  // The UI's own scripts, styles and images, and requests to this server.
  // It compiles JSON schemas into functions at run time (ajv): eval.
  res->set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-eval'; img-src 'self' data:; "
                                      "style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; "
                                      "base-uri 'none'");
  c->send(std::move(*res));
}

bool accepts_json(std::string_view accept) {
  return accept.empty() || accepts_any(accept, {"*/*", "application/*", "application/json"});
}

/// Whether the request's Content-Type (when it has one) is one the method
/// takes: JSON, and for PATCH the two patch formats.
bool content_type_allowed(const call& c) {
  const auto ct = c.req.header("content-type");
  if (!ct) return true;
  const auto type = parse_media_type(*ct);
  if (!type) return false;
  return type->is("application/json") ||
         (c.is("PATCH") && (type->is("application/merge-patch+json") || type->is("application/json-patch+json")));
}

void preflight(const call_ptr& c) {
  auto origin = c->req.header("origin");
  auto method = c->req.header("access-control-request-method");
  std::vector<error_detail> problems;
  if (!origin) problems.push_back({"header", "Origin", "Origin header is missing"});
  if (!method) problems.push_back({"header", "Access-Control-Request-Method", "Access-Control-Request-Method header is missing"});
  if (!problems.empty()) return c->fail(invalid_parameters(std::move(problems)));
  if (!origin_allowed(c->cfg(), *origin)) return c->fail(invalid_parameter("header", "Origin", std::string(*origin) + " not allowed"));
  if (std::find(c->r.methods.begin(), c->r.methods.end(), *method) == c->r.methods.end())
    return c->fail(invalid_parameter("header", "Access-Control-Request-Method", "Method not allowed"));
  response res;
  res.status = 200;
  res.body = "null";
  res.set("Content-Type", "application/json");
  res.set("Access-Control-Allow-Methods", join({c->r.methods.begin(), c->r.methods.end()}, ",") + ",OPTIONS");
  std::string allowed_headers = std::string(c->req.header("access-control-request-headers").value_or(""));
  for (const auto& h : exposed_headers(*c)) allowed_headers += (allowed_headers.empty() ? "" : ",") + h;
  res.set("Access-Control-Allow-Headers", allowed_headers);
  if (c->cfg().cors_max_age) res.set("Access-Control-Max-Age", std::to_string(*c->cfg().cors_max_age));
  c->send(std::move(res));
}

/// True when the JSON text nests arrays and objects deeper than `max_depth`,
/// counted as the parser does (the outermost container is level 1).
/// Brackets inside strings do not count; any other error is the parser's.
bool nests_deeper_than(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (ch == '\\') {
        ++i; // an escaped character, perhaps a quote
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > max_depth) return true;
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

void dispatch(const call_ptr& c) {
  // The parser stops at json::max_depth, which leaves room for what kintod
  // wraps around stored data; bodies stop at max_json_depth, checked here,
  // where the setting is known, before any handler parses the body.
  const std::size_t max_depth = c->cfg().max_json_depth;
  if (max_depth < json::max_depth && nests_deeper_than(c->req.body, max_depth))
    return c->fail(invalid_parameter("body", "", "Invalid JSON: Nesting too deep"));
  c->r.handle(c);
}

/// Today's date as YYYY-MM-DD (UTC), to compare with the `eos` setting.
std::string today() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

bool service_ended(const config& cfg) { return !cfg.eos.empty() && today() >= cfg.eos_date; }

/// A uniform draw in [0, 100), for settings that apply to a share of
/// responses (backoff_percentage).
double chance_percent() {
  thread_local std::minstd_rand generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 100.0)(generator);
}

std::string eos_alert(const config& cfg, bool ended) {
  json::value alert = json::value::object();
  alert.set("code", json::value(ended ? "hard-eol" : "soft-eol"));
  alert.set("message", cfg.eos_message.empty() ? json::value() : json::value(cfg.eos_message));
  alert.set("url", json::value(cfg.eos_url.empty() ? cfg.project_docs : cfg.eos_url));
  return json::serialize(alert);
}

void route_request(const call_ptr& c) {
  const config& cfg = c->cfg();
  if (service_ended(cfg)) {
    error gone{410, errnum::service_deprecated, "Gone",
               "The service you are trying to connect no longer exists at this location.", std::nullopt, std::nullopt};
    return c->fail(gone);
  }
  const std::string& target = c->req.target;
  const std::size_t qpos = target.find('?');
  const std::string_view raw_path = std::string_view(target).substr(0, qpos);
  if (qpos != std::string::npos) c->raw_query = target.substr(qpos + 1);

  if (cfg.readonly && !(c->is("GET") || c->is("HEAD") || c->is("OPTIONS"))) return c->fail(method_not_allowed());

  std::string path;
  if (raw_path.empty() || raw_path.front() != '/' || !percent_decode(raw_path, path, false) || !valid_utf8(path))
    return c->fail(bad_request("Invalid URL path."));

  // Query string: decoded pairs; invalid UTF-8 is a Bad Request.
  std::string_view q = c->raw_query;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string name, value;
    if (!percent_decode(pair.substr(0, eq), name, true) ||
        !percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), value, true) ||
        !valid_utf8(name) || !valid_utf8(value))
      return c->fail(bad_request("A request with an incorrect encoding in the querystring was received. Please make sure your requests are encoded in UTF-8: " + std::string(pair)));
    c->query.emplace_back(std::move(name), std::move(value));
  }

  // The version prefix.
  const std::string suffix = c->raw_query.empty() ? "" : "?" + c->raw_query;
  if (path.rfind("/v1", 0) != 0 || (path.size() > 3 && path[3] != '/')) {
    const bool other_version = path.size() > 2 && path[1] == 'v' && std::isdigit(static_cast<unsigned char>(path[2]));
    if (other_version || path.find_first_of("\r\n") != std::string::npos || !cfg.version_prefix_redirect)
      return c->fail(version_not_available());
    if (c->is("OPTIONS")) return c->send(response{});
    return redirect(c, c->absolute_url("/v1" + std::string(raw_path) + suffix), cfg.version_prefix_redirect_ttl);
  }
  if (path == "/v1") return redirect(c, c->absolute_url("/v1/" + suffix), cfg.trailing_slash_redirect_ttl);
  c->path = path.substr(3);
  if (is_default_bucket_path(cfg, c->path) && !c->is("OPTIONS"))
    return serve_default_bucket(c, [](const call_ptr& c) {
      // The rewritten request from the start, as a fresh request that keeps
      // what it must create first.
      auto again = std::make_shared<call>(call{c->a, std::move(c->req), {}, {}, {}, {}, {}, std::move(c->reply),
                                               std::move(c->collect), std::move(c->implicit)});
      route_request(again);
    });

  if (cfg.admin && (c->path == "/admin" || c->path.rfind("/admin/", 0) == 0)) return serve_admin(c, suffix);

  auto matched = match(cfg, c->path);
  if (!matched) {
    if (c->path.size() > 1 && c->path.back() == '/' && cfg.trailing_slash_redirect) {
      std::string_view trimmed = raw_path;
      while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.remove_suffix(1);
      return redirect(c, c->absolute_url(std::string(trimmed) + suffix), cfg.trailing_slash_redirect_ttl);
    }
    return c->fail(route_not_found());
  }
  c->r = std::move(*matched);
  const bool resource = c->r.ep == endpoint::plural || c->r.ep == endpoint::object || c->r.ep == endpoint::permissions;

  if (c->is("OPTIONS")) return preflight(c);
  const std::optional<kind> of = resource && c->r.ep != endpoint::permissions ? std::optional<kind>(c->r.list.of) : std::nullopt;
  if (std::find(c->r.methods.begin(), c->r.methods.end(), c->req.method) == c->r.methods.end() ||
      !method_enabled(cfg, c->r.ep, of, c->req.method)) {
    response res = error_response(cfg, method_not_allowed());
    std::vector<std::string> allowed;
    for (const auto& m : c->r.methods)
      if (method_enabled(cfg, c->r.ep, of, m)) allowed.push_back(m);
    allowed.emplace_back("OPTIONS");
    res.set("Allow", join(allowed, ", "));
    return c->send(std::move(res));
  }
  if (auto origin = c->req.header("origin"); origin && !origin_allowed(cfg, *origin))
    return c->fail(invalid_parameter("header", "Origin", std::string(*origin) + " not allowed"));
  if (resource) {
    const std::string_view accept = c->req.header("accept").value_or("");
    // Plural reads may also be followed as a stream of changes.
    const bool follows = c->r.ep == endpoint::plural && c->is("GET") && accepts_any(accept, {"text/event-stream"});
    if (!accepts_json(accept) && !follows)
      return c->fail(invalid_parameters({{"header", "Accept", "Accept header should be one of ['application/json']"}}, 406));
    if (c->is("POST") || c->is("PUT") || c->is("PATCH")) {
      if (!content_type_allowed(*c)) {
        const std::string allowed = c->is("PATCH")
          ? "['application/json', 'application/merge-patch+json', 'application/json-patch+json']"
          : "['application/json']";
        return c->fail(invalid_parameters({{"header", "Content-Type", "Content-Type header should be one of " + allowed}}, 415));
      }
    }
  }
  authenticate(c, [c] {
    if (c->r.needs_principals) resolve_principals(*c);
    dispatch(c);
  });
}

/// The request's summary line (upstream's `request.summary`, with its
/// fields): what was asked, by whom, how it was answered and how long it
/// took. Never a header's secret: no Authorization, no query string.
void log_request(const call& c, const response& res, std::chrono::steady_clock::duration elapsed) {
  if (!log::enabled(log::severity::info)) return;
  const std::string_view target = c.req.target;
  auto header = [&c](std::string_view name) -> log::value {
    if (auto v = c.req.header(name)) return std::string(*v);
    return {};
  };
  log::record r;
  r.type = "request.summary";
  r.fields.reserve(8);
  r.fields.emplace_back("method", c.req.method);
  r.fields.emplace_back("path", std::string(target.substr(0, target.find('?'))));
  r.fields.emplace_back("code", std::int64_t(res.status));
  r.fields.emplace_back("t", std::int64_t(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
  r.fields.emplace_back("uid", c.who.user_id.empty() ? log::value{} : log::value{c.who.user_id});
  r.fields.emplace_back("errno", std::int64_t(res.error_number));
  r.fields.emplace_back("agent", header("user-agent"));
  r.fields.emplace_back("lang", header("accept-language"));
  log::write(std::move(r));
}

} // namespace

void call::send(response res) {
  const config& cfg = a.cfg;
  res.set("X-Content-Type-Options", "nosniff");
  if (!res.get("Content-Security-Policy"))
    res.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; ");
  if (cfg.backoff && (!cfg.backoff_percentage || chance_percent() < *cfg.backoff_percentage))
    res.set("Backoff", *cfg.backoff);
  if (!cfg.eos.empty() && !res.get("Alert")) res.set("Alert", eos_alert(cfg, service_ended(cfg)));
  res.set("Access-Control-Expose-Headers", join(exposed_headers(*this), ", "));
  if (auto origin = req.header("origin"); origin && origin_allowed(cfg, *origin)) {
    const bool star = std::find(cfg.cors_origins.begin(), cfg.cors_origins.end(), "*") != cfg.cors_origins.end();
    res.set("Access-Control-Allow-Origin", star ? "*" : std::string(*origin));
  }
  const auto elapsed = std::chrono::steady_clock::now() - received;
  if (a.stats && !collect) {
    // Unrouted: a 404 is "unknown", other answers (redirects) "unnamed", as upstream.
    const std::string_view endpoint = !r.name.empty() ? r.name : res.status == 404 ? "unknown" : "unnamed";
    const double seconds = std::chrono::duration<double>(elapsed).count();
    a.stats->record_request(endpoint, metrics::method_label(req.method), res.status, seconds, res.body.size());
    if (res.status == 503)
      a.stats->count_unavailable(res.unavailable_cause.empty() ? cause_name(unavailable::storage) : res.unavailable_cause);
  }
  if (!collect) log_request(*this, res, elapsed);
  if (is("HEAD")) res.body.clear();
  reply(std::move(res));
}

void call::fail(const error& e) { send(error_response(a.cfg, e)); }

void call::resume(std::function<void()> work) const {
  if (req.post) req.post(std::move(work));
  else work();
}

void call::send_json(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers) {
  response res;
  res.status = status;
  res.body = std::move(body);
  res.headers = std::move(headers);
  res.set("Content-Type", "application/json");
  send(std::move(res));
}

std::string call::absolute_url(std::string_view path_and_query) const {
  std::string scheme = a.cfg.http_scheme.empty() ? "http" : a.cfg.http_scheme;
  std::string host = a.cfg.http_host.empty() ? req.host : a.cfg.http_host;
  return scheme + "://" + host + std::string(path_and_query);
}

std::optional<std::string> call::query_value(std::string_view name) const {
  for (const auto& [n, v] : query)
    if (n == name) return v;
  return std::nullopt;
}

namespace {

call_ptr new_call(app& a, request req, responder reply, operation_sink collect) {
  return std::make_shared<call>(call{a, std::move(req), {}, {}, {}, {}, {}, std::move(reply), std::move(collect), {}});
}

} // namespace

void handle(app& a, request req, responder reply, operation_sink collect) {
  route_request(new_call(a, std::move(req), std::move(reply), std::move(collect)));
}

handler make_handler(app& a) {
  return [&a](request req, responder reply) { handle(a, std::move(req), std::move(reply), {}); };
}

handler make_overload_handler(app& a) {
  return [&a](request req, responder reply) {
    // Through a call, for the headers every response carries (CORS...).
    new_call(a, std::move(req), std::move(reply), {})->fail(backend_unavailable(unavailable::requests));
  };
}

} // namespace kinto::http
