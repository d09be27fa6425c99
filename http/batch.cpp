// POST /v1/batch (batch-and-plugins.md §1): several requests in one call,
// run one after the other through the same routing and handlers as direct
// requests, answered together in request order.
#include "http/call.hpp"

#include "schema/json.hpp"

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
};

void run_next(const call_ptr& c, std::shared_ptr<batch_state> state);
void run_one(const call_ptr& c, std::shared_ptr<batch_state> state, request sub, bool may_follow);

void answer(const call_ptr& c, const batch_state& state) {
  std::string body = "{\"responses\":[";
  for (std::size_t i = 0; i < state.responses.size(); ++i) {
    if (i) body += ',';
    body += state.responses[i];
  }
  body += "]}";
  c->send_json(200, std::move(body));
}

void run_next(const call_ptr& c, std::shared_ptr<batch_state> state) {
  if (state->next == state->requests.size()) return answer(c, *state);
  const json::value& r = state->requests[state->next++];
  request sub;
  const json::value* method = r.find("method");
  sub.method = method ? method->as_string() : "GET";
  std::string path = r.find("path")->as_string();
  if (path.rfind("/v1/", 0) != 0 && path != "/v1") path = "/v1" + path;
  sub.target = path;
  sub.host = c->req.host;
  sub.post = c->req.post;
  // The outer request's headers, overridden by the sub-request's own.
  for (const auto& [name, value] : c->req.headers)
    if (name != "content-length" && name != "content-type") sub.headers.emplace_back(name, value);
  if (const json::value* headers = r.find("headers")) {
    for (const auto& [name, value] : headers->as_object()) {
      std::string lower = name;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::erase_if(sub.headers, [&](const auto& h) { return h.first == lower; });
      sub.headers.emplace_back(lower, value.as_string());
    }
  }
  if (const json::value* body = r.find("body")) {
    sub.body = json::serialize(*body);
    if (std::none_of(sub.headers.begin(), sub.headers.end(), [](const auto& h) { return h.first == "content-type"; }))
      sub.headers.emplace_back("content-type", "application/json; charset=utf-8");
  }
  run_one(c, state, std::move(sub), true);
}

/// Runs one sub-request; a redirect (trailing slash...) is followed once.
void run_one(const call_ptr& c, std::shared_ptr<batch_state> state, request sub, bool may_follow) {
  const std::string served_path = sub.target.substr(0, sub.target.find('?'));
  const bool head = sub.method == "HEAD";
  request again = sub; // kept for a redirect
  handle(c->a, std::move(sub), [c, state, served_path, head, may_follow, again = std::move(again)](response res) mutable {
    if (may_follow && res.status == 307) {
      if (auto location = res.get("Location")) {
        // An absolute URL: keep its path and query.
        std::string_view target = *location;
        if (auto scheme = target.find("://"); scheme != std::string_view::npos) {
          auto slash = target.find('/', scheme + 3);
          target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        }
        again.target = std::string(target);
        return c->resume([c, state, again = std::move(again)]() mutable { run_one(c, state, std::move(again), false); });
      }
    }
    json::value entry = json::value::object();
    entry.set("status", json::value(res.status));
    entry.set("path", json::value(served_path));
    json::value headers = json::value::object();
    for (const auto& [name, value] : res.headers) headers.set(name, json::value(value));
    entry.set("headers", std::move(headers));
    std::string err;
    if (head) entry.set("body", json::value(""));
    else if (auto parsed = json::parse(res.body, err)) entry.set("body", std::move(*parsed));
    else entry.set("body", json::value(res.body));
    state->responses.push_back(json::serialize(entry));
    c->resume([c, state] { run_next(c, state); });
  });
}

} // namespace

void handle_batch(const call_ptr& c) {
  if (auto type = c->req.header("content-type")) {
    std::string_view t = type->substr(0, type->find(';'));
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (t != "application/json")
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
    if (merged.find("path")->as_string().find("/batch") != std::string::npos)
      return c->fail(batch_error("Recursive call on /batch endpoint is forbidden."));
    state->requests.push_back(std::move(merged));
  }
  run_next(c, state);
}

} // namespace kinto::http
