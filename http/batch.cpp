// POST /v1/batch (batch-and-plugins.md §1): several requests in one call,
// run one after the other through the same routing and handlers as direct
// requests, answered together in request order. A batch that writes runs in
// one session of the write path: its requests see each other's writes, a
// 409 drops what came before it, a 5xx drops everything, and what is kept
// is committed together.
#include "http/call.hpp"
#include "http/routes.hpp"

#include "schema/json.hpp"

#include <condition_variable>
#include <map>
#include <mutex>

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

struct batch_state {
  std::vector<json::value> requests;
  std::vector<std::string> responses;
  std::size_t next = 0;
  /// Caller identities by Authorization header value ("" when none).
  std::map<std::string, std::string> identities;
  /// The transaction of a batch that writes, while it runs.
  core::transaction* transaction = nullptr;
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
  // Inside a transaction everything runs on its thread, inline.
  if (!state.transaction) sub.post = c.req.post;
  return sub;
}

/// Serves one request; a redirect (trailing slash...) is followed once.
void serve(const call_ptr& c, core::port& port, request sub, bool may_follow,
           std::function<void(response, std::string)> done) {
  std::string served_path = sub.target.substr(0, sub.target.find('?'));
  request again = sub; // kept for a redirect
  handle(c->a, port, std::move(sub),
         [c, &port, may_follow, again = std::move(again), served_path = std::move(served_path),
          done = std::move(done)](response res) mutable {
           if (may_follow && res.status == 307) {
             if (auto location = res.get("Location")) {
               // An absolute URL: keep its path and query.
               std::string_view target = *location;
               if (auto scheme = target.find("://"); scheme != std::string_view::npos) {
                 auto slash = target.find('/', scheme + 3);
                 target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
               }
               again.target = std::string(target);
               auto follow = [c, &port, again = std::move(again), done = std::move(done)]() mutable {
                 serve(c, port, std::move(again), false, std::move(done));
               };
               // Inside a transaction (no executor to post to) it goes on inline.
               if (!again.post) return follow();
               return c->resume(std::move(follow));
             }
           }
           done(std::move(res), std::move(served_path));
         });
}

/// Adds the response's entry; applies the transaction rules (§1.4).
void record(batch_state& state, const std::string& method, response res, const std::string& served_path) {
  json::value entry = json::value::object();
  entry.set("status", json::value(res.status));
  entry.set("path", json::value(served_path));
  json::value headers = json::value::object();
  for (const auto& [name, value] : res.headers) headers.set(name, json::value(value));
  entry.set("headers", std::move(headers));
  std::string err;
  if (method == "HEAD") entry.set("body", json::value(""));
  else if (auto parsed = json::parse(res.body, err)) entry.set("body", std::move(*parsed));
  else entry.set("body", json::value(res.body));
  state.responses.push_back(json::serialize(entry));
  if (res.status >= 500) {
    if (state.transaction) state.transaction->abort();
    state.failure = std::move(res);
  } else if (res.status == 409 && state.transaction) {
    state.transaction->roll_back();
  }
}

void finish(const call_ptr& c, batch_state& state) {
  if (state.failure) return c->send(std::move(*state.failure));
  std::string body = "{\"responses\":[";
  for (std::size_t i = 0; i < state.responses.size(); ++i) {
    if (i) body += ',';
    body += state.responses[i];
  }
  body += "]}";
  c->send_json(200, std::move(body));
}

/// Serves the requests from the next one on, in order. Outside a session a
/// request may be answered later, on another thread: the loop stops and the
/// answer resumes it. Inside a session every request is answered before the
/// next one starts (the session's thread waits if one is not answered inline).
void run_from(const call_ptr& c, const std::shared_ptr<batch_state>& state) {
  struct progress {
    std::mutex mutex;
    std::condition_variable answered_cv;
    bool answered = false;
    bool loop_left = false;
  };
  while (state->next < state->requests.size() && !state->failure) {
    const json::value& r = state->requests[state->next++];
    const std::string method = r.find("method") ? r.find("method")->as_string() : "GET";
    auto p = std::make_shared<progress>();
    core::port& port = state->transaction ? *state->transaction : c->port;
    serve(c, port, sub_request(*c, *state, r), true, [c, state, p, method](response res, std::string served_path) {
      record(*state, method, std::move(res), served_path);
      std::unique_lock<std::mutex> lock(p->mutex);
      p->answered = true;
      if (state->transaction) return p->answered_cv.notify_one();
      if (p->loop_left) {
        lock.unlock();
        c->resume([c, state] { run_from(c, state); });
      }
    });
    std::unique_lock<std::mutex> lock(p->mutex);
    if (!p->answered) {
      if (!state->transaction) {
        p->loop_left = true;
        return;
      }
      p->answered_cv.wait(lock, [&] { return p->answered; });
    }
  }
  if (!state->transaction) finish(c, *state);
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
  auto who = std::make_shared<call>(call{c->a, c->port, std::move(probe), {}, {}, {}, {}, {}, [](response) {}});
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
  const bool in_session = std::any_of(state->requests.begin(), state->requests.end(), writes);
  resolve_identities(c, state, std::move(others), [c, state, in_session] {
    if (!in_session) return run_from(c, state);
    // A batch that writes is one transaction (batch-and-plugins.md §1.4).
    c->port.transact(
      [c, state](core::transaction& transaction) {
        state->transaction = &transaction;
        run_from(c, state);
        state->transaction = nullptr;
      },
      [c, state](storage::status s) {
        c->resume([c, state, s] {
          if (s == storage::status::ok) return finish(c, *state);
          c->fail(s == storage::status::full ? insufficient_storage() : backend_unavailable());
        });
      });
  });
}

} // namespace kinto::http
