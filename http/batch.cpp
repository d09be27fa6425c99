// POST /v1/batch (batch-and-plugins.md §1): several requests in one call,
// answered together in request order. Each is routed and parsed as a direct
// request is, up to its core operation; then core::op_batch runs the
// operations, in one transaction when some request writes (its requests see
// each other's writes, a 409 drops what came before it, a 5xx drops
// everything, what is kept is committed together); then each result is
// rendered.
#include "http/call.hpp"
#include "http/routes.hpp"

#include "base/json.hpp"

#include <map>

namespace kinto::http {

namespace {

const std::vector<std::string> methods{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"};

error batch_error(std::string description) { return invalid_parameter("body", "requests", std::move(description)); }

/// Checks one request (or the defaults) of the payload.
std::optional<error> check_shape(const json::value& r, bool is_default) {
  if (!r.is_object()) return batch_error(json::serialize(r) + " is not a mapping type");
  for (const auto& [key, value] : r.as_object()) {
    if (key == "path") {
      if (!value.is_string() || value.as_string().empty() || value.as_string()[0] != '/')
        return batch_error("path should be a string starting with /");
    } else if (key == "method") {
      if (!value.is_string() || std::find(methods.begin(), methods.end(), value.as_string()) == methods.end())
        return batch_error(json::serialize(value) + " is not one of " + "GET, HEAD, POST, PUT, PATCH, DELETE, TRACE");
    } else if (key == "headers") {
      if (!value.is_object()) return batch_error("headers should be a mapping");
      for (const auto& h : value.as_object())
        if (!h.val.is_string()) return batch_error("header " + h.key + " should be a string");
    } else if (key == "body") {
      if (!value.is_object()) return batch_error("body should be a mapping");
    } else {
      return batch_error("Unrecognized keys in mapping: '" + key + "'");
    }
  }
  if (!is_default && !r.find("path")) return invalid_parameter("body", "path", "Required");
  return std::nullopt;
}

/// `defaults` merged under `r`: the request's own values win; headers and
/// bodies merge key by key, recursively.
void merge_under(json::value& r, const json::value& defaults) {
  for (const auto& [key, value] : defaults.as_object()) {
    json::value* own = r.find(key);
    if (!own) {
      r.set(key, value);
    } else if (own->is_object() && value.is_object()) {
      merge_under(*own, value);
    }
  }
}

/// One request of the batch once parsed: its answer when routing or
/// parsing gave one, otherwise its operation and how to render it.
struct entry {
  std::string method;
  std::optional<response> answered;
  std::string served_path;
  bool has_operation = false;
  std::function<void()> answer;
};

struct batch_state {
  std::vector<json::value> requests;
  bool writes = false; ///< some request writes: one transaction
  std::vector<entry> entries;
  std::vector<core::operation> operations;
  std::vector<std::string> responses;
  /// Caller identities by Authorization header value ("" when none).
  std::map<std::string, std::string> identities;
  /// A 5xx: the answer to the whole batch, of which nothing is kept.
  std::optional<response> failure;
};

/// Whether a request's path (as sent: percent-encoded, with or without the
/// /v1 prefix, a trailing slash or a query string) is where routing would
/// serve this endpoint: a batch within a batch. Paths that merely contain
/// "batch" (`/buckets/batch-jobs`) are served as any other.
bool is_batch_endpoint(const config& cfg, std::string_view path) {
  std::string decoded;
  if (!percent_decode(path.substr(0, path.find('?')), decoded, false)) return false; // routing answers 400
  std::string_view p = decoded;
  if (p == "/v1" || p.starts_with("/v1/")) p.remove_prefix(3);
  // A trailing slash is served through a redirect, which is followed.
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  const auto matched = match(cfg, p);
  return matched && matched->handle == handle_batch;
}

bool writes(const json::value& r) {
  const json::value* method = r.find("method");
  const std::string m = method ? method->as_string() : "GET";
  return m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
}

/// The request's own headers override the outer request's.
std::vector<std::pair<std::string, std::string>> headers_of(const call& c, const json::value& r) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : c.req.headers)
    if (name != "content-length" && name != "content-type") headers.emplace_back(name, value);
  if (const json::value* own = r.find("headers")) {
    for (const auto& [name, value] : own->as_object()) {
      std::string lower = name;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::erase_if(headers, [&](const auto& h) { return h.first == lower; });
      headers.emplace_back(lower, value.as_string());
    }
  }
  return headers;
}

std::string authorization_of(const std::vector<std::pair<std::string, std::string>>& headers) {
  for (const auto& [name, value] : headers)
    if (name == "authorization") return value;
  return {};
}

request sub_request(const call& c, const batch_state& state, const json::value& r) {
  request sub;
  const json::value* method = r.find("method");
  sub.method = method ? method->as_string() : "GET";
  std::string path = r.find("path")->as_string();
  if (path.rfind("/v1/", 0) != 0 && path != "/v1") path = "/v1" + path;
  sub.target = path;
  sub.host = c.req.host;
  sub.headers = headers_of(c, r);
  if (const json::value* body = r.find("body")) {
    sub.body = json::serialize(*body);
    if (std::none_of(sub.headers.begin(), sub.headers.end(), [](const auto& h) { return h.first == "content-type"; }))
      sub.headers.emplace_back("content-type", "application/json; charset=utf-8");
  }
  if (auto it = state.identities.find(authorization_of(sub.headers)); it != state.identities.end())
    sub.authenticated_as = it->second;
  // A transaction runs its operations on its own thread, inline: they
  // must not continue elsewhere.
  if (!state.writes) sub.post = c.req.post;
  return sub;
}

/// Adds the response's entry; a 5xx is the answer to the whole batch.
void record(batch_state& state, const std::string& method, response res, const std::string& served_path) {
  json::value item = json::value::object();
  item.set("status", json::value(res.status));
  item.set("path", json::value(served_path));
  json::value headers = json::value::object();
  for (const auto& [name, value] : res.headers) headers.set(name, json::value(value));
  item.set("headers", std::move(headers));
  std::string err;
  if (method == "HEAD") item.set("body", json::value(""));
  else if (auto parsed = json::parse(res.body, err)) item.set("body", std::move(*parsed));
  else item.set("body", json::value(res.body));
  state.responses.push_back(json::serialize(item));
  if (res.status >= 500) state.failure = std::move(res);
}

/// Parses one request into its entry: routed and handled up to its
/// operation, which is kept, or to its answer. A redirect (trailing
/// slash...) is followed once. `done` runs once the entry is complete.
void parse(const call_ptr& c, const std::shared_ptr<batch_state>& state, std::size_t index, request sub, bool may_follow,
           std::function<void()> done) {
  state->entries[index].served_path = sub.target.substr(0, sub.target.find('?'));
  request again = sub; // kept for a redirect
  auto answered = [c, state, index, may_follow, again = std::move(again), done](response res) mutable {
    entry& e = state->entries[index];
    // The rendering of its operation's result (finish()).
    if (e.has_operation) return record(*state, e.method, std::move(res), e.served_path);
    if (may_follow && res.status == 307) {
      if (auto location = res.get("Location")) {
        // An absolute URL: keep its path and query.
        std::string_view target = *location;
        if (auto scheme = target.find("://"); scheme != std::string_view::npos) {
          auto slash = target.find('/', scheme + 3);
          target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        }
        again.target = std::string(target);
        return parse(c, state, index, std::move(again), false, std::move(done));
      }
    }
    e.answered = std::move(res);
    done();
  };
  auto collect = [state, index, done](core::operation op, std::function<void()> answer) {
    entry& e = state->entries[index];
    e.has_operation = true;
    e.answer = std::move(answer);
    state->operations.push_back(std::move(op));
    done();
  };
  handle(c->a, std::move(sub), std::move(answered), std::move(collect));
}

/// Renders the entries in order, those whose operation ran (`ran` of them).
void finish(const call_ptr& c, batch_state& state, std::size_t ran) {
  std::size_t operation = 0;
  for (entry& e : state.entries) {
    if (state.failure) break;
    if (e.has_operation) {
      if (operation++ >= ran) break;
      // The answer sends its call's response, which records it (below).
      e.answer();
    } else if (e.answered) {
      record(state, e.method, std::move(*e.answered), e.served_path);
    }
  }
  // The answers hold their calls, whose responders hold this state.
  state.entries.clear();
  state.operations.clear();
  if (state.failure) return c->send(std::move(*state.failure));
  std::string body = "{\"responses\":[";
  for (std::size_t i = 0; i < state.responses.size(); ++i) {
    if (i) body += ',';
    body += state.responses[i];
  }
  body += "]}";
  c->send_json(200, std::move(body));
}

/// Runs the operations once every request is parsed (core::op_batch).
void run(const call_ptr& c, const std::shared_ptr<batch_state>& state) {
  core::op_batch(*c->a.direct, std::move(state->operations), state->writes,
                 [c, state](std::size_t ran, core::storage_status s) {
                   c->resume([c, state, ran, s] {
                     if (s != core::storage_status::ok) {
                       state->entries.clear();
                       return c->fail(s == core::storage_status::full ? insufficient_storage() : backend_unavailable());
                     }
                     finish(c, *state, ran);
                   });
                 });
}

/// Parses the requests from `index` on, in order; a request may be parsed
/// later, on another thread (a password to hash): the next one starts from
/// there. A 5xx met while parsing answers the batch, which runs nothing.
void parse_from(const call_ptr& c, const std::shared_ptr<batch_state>& state, std::size_t index) {
  if (index == state->requests.size()) return run(c, state);
  const json::value& r = state->requests[index];
  state->entries[index].method = r.find("method") ? r.find("method")->as_string() : "GET";
  parse(c, state, index, sub_request(*c, *state, r), true, [c, state, index] {
    const entry& e = state->entries[index];
    if (e.answered && e.answered->status >= 500) {
      response failure = std::move(*state->entries[index].answered);
      state->entries.clear();
      state->operations.clear();
      return c->resume([c, failure = std::move(failure)]() mutable { c->send(std::move(failure)); });
    }
    c->resume([c, state, index] { parse_from(c, state, index + 1); });
  });
}

/// Establishes, once per distinct Authorization header, who the requests'
/// caller is, so that requests inside a session never wait on password checks.
void resolve_identities(const call_ptr& c, std::shared_ptr<batch_state> state, std::vector<std::string> pending,
                        std::function<void()> next) {
  if (pending.empty()) return next();
  std::string header = std::move(pending.back());
  pending.pop_back();
  request probe;
  probe.method = "GET";
  probe.target = "/v1/";
  probe.host = c->req.host;
  if (!header.empty()) probe.headers.emplace_back("authorization", header);
  auto who = std::make_shared<call>(call{c->a, std::move(probe), {}, {}, {}, {}, {}, [](response) {}, {}, {}});
  authenticate(who, [c, state, who, header, pending = std::move(pending), next = std::move(next)]() mutable {
    state->identities[header] = who->who.user_id;
    c->resume([c, state, pending = std::move(pending), next = std::move(next)]() mutable {
      resolve_identities(c, state, std::move(pending), std::move(next));
    });
  });
}

} // namespace

void handle_batch(const call_ptr& c) {
  if (auto type = c->req.header("content-type")) {
    const auto parsed = parse_media_type(*type);
    if (!parsed || !parsed->is("application/json"))
      return c->fail(invalid_parameters({{"header", "Content-Type", "Content-Type header should be one of ['application/json']"}}, 415));
  }
  std::string err;
  auto payload = json::parse(c->req.body.empty() ? std::string_view("{}") : std::string_view(c->req.body), err);
  if (!payload) return c->fail(invalid_parameter("body", "", "Invalid JSON: " + err));
  if (!payload->is_object()) return c->fail(invalid_parameter("body", "", "Should be a JSON object"));
  const json::value* defaults = nullptr;
  const json::value* requests = nullptr;
  for (const auto& [key, value] : payload->as_object()) {
    if (key == "defaults") defaults = &value;
    else if (key == "requests") requests = &value;
    else return c->fail(invalid_parameter("body", "", "Unrecognized keys in mapping: '" + key + "'"));
  }
  if (!requests) return c->fail(invalid_parameter("body", "requests", "Required"));
  if (!requests->is_array()) return c->fail(batch_error(json::serialize(*requests) + " is not iterable"));
  const auto limit = c->cfg().batch_max_requests;
  if (limit > 0 && requests->as_array().size() > static_cast<std::size_t>(limit))
    return c->fail(batch_error("Number of requests is limited to " + std::to_string(limit)));
  if (defaults)
    if (auto e = check_shape(*defaults, true)) return c->fail(*e);
  auto state = std::make_shared<batch_state>();
  for (const auto& r : requests->as_array()) {
    json::value merged = r.is_object() ? r : json::value::object();
    if (!r.is_object()) return c->fail(batch_error(json::serialize(r) + " is not a mapping type"));
    if (defaults) merge_under(merged, *defaults);
    if (auto e = check_shape(merged, false)) return c->fail(*e);
    if (is_batch_endpoint(c->cfg(), merged.find("path")->as_string()))
      return c->fail(batch_error("Recursive call on /batch endpoint is forbidden."));
    state->requests.push_back(std::move(merged));
  }
  state->identities[std::string(c->req.header("authorization").value_or(""))] = c->who.user_id;
  std::vector<std::string> others;
  for (const auto& r : state->requests) {
    std::string header = authorization_of(headers_of(*c, r));
    if (!state->identities.count(header) && std::find(others.begin(), others.end(), header) == others.end())
      others.push_back(std::move(header));
  }
  state->writes = std::any_of(state->requests.begin(), state->requests.end(), writes);
  state->entries.resize(state->requests.size());
  // A batch that writes is one transaction (batch-and-plugins.md §1.4).
  resolve_identities(c, state, std::move(others), [c, state] { parse_from(c, state, 0); });
}

} // namespace kinto::http
