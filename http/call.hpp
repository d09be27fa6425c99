// One request on its way through the application: the parsed path and query,
// the caller's identity, the matched route, and the one way to answer.
// Internal to http/.
#pragma once

#include "core/feed.hpp"
#include "core/ops.hpp"
#include "http/app.hpp"
#include "schema/error.hpp"
#include "schema/query.hpp"
#include "schema/resource.hpp"

#include <array>
#include <chrono>
#include <functional>
#include <variant>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kinto::http {

/// Where a read of a list that follows it (Accept: text/event-stream)
/// hands its subscription to the change feed, once the read's checks passed,
/// when the request has one (a WebSocket's subscription); the read then
/// answers 200 without a body.
struct list_follower {
  virtual ~list_follower() = default;
  virtual void follow(core::subscription s) = 0;
};

struct call;
using call_ptr = std::shared_ptr<call>;
/// What serves a route: the function its row of the route table names.
using endpoint_handler = void (*)(const call_ptr& c);

/// How routing treats an endpoint: resources get content negotiation,
/// permission decisions and their caching headers; services are served as
/// their handler decides.
enum class endpoint : std::uint8_t {
  service,     ///< root view, heartbeats, batch, flush, user data...
  plural,      ///< the objects of a list
  object,      ///< one object
  permissions, ///< GET /permissions
};

/// The row of the route table a request matched, with its path parameters.
struct route {
  endpoint ep = endpoint::service;
  endpoint_handler handle = nullptr;
  bool needs_principals = false; ///< the handler reads the caller's principals
  list_key list; ///< plural and object endpoints; the collection of a snapshot
  std::string id; ///< object endpoints (the principal for user data, `{cid}@{ts}` of a snapshot)
  std::span<const std::string> methods; ///< allowed methods (without OPTIONS), from the route table
  std::string_view name;                ///< in metrics (route_name()); empty until routed
};

using query_params = std::vector<std::pair<std::string, std::string>>;

struct call {
  app& a;
  request req;
  std::string path; ///< decoded, without the /v1 prefix
  std::string raw_query;
  query_params query;
  route r;
  /// The caller: its user id once authenticated; its principals only when
  /// the route asks for them (operations find their own, on their view).
  core::caller who;
  responder reply;
  /// Inside a batch: where the operation goes instead of running at once.
  operation_sink collect;
  /// Objects the request uses without naming them (the personal bucket).
  std::vector<core::implicit_object> implicit;
  /// When the request arrived here (request_duration_seconds).
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();

  const config& cfg() const { return a.cfg; }
  bool is(std::string_view method) const { return req.method == method; }
  /// Answers with `res` after adding the headers every response carries.
  void send(response res);
  void fail(const error& e);
  /// Continues the request on its connection's executor (after an actor
  /// answered), or inline when there is none.
  void resume(std::function<void()> work) const;
  /// What the request's operations share: the rules, and its executor.
  core::context context() const;
  /// Runs `op`, then `answer`: at once on the app's direct port, or, inside
  /// a batch, when the batch runs its operations.
  void perform(core::operation op, std::function<void()> answer);
  /// A JSON response with the given status.
  void send_json(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {});
  /// Absolute URL of `path_and_query` (which starts with /v1...).
  std::string absolute_url(std::string_view path_and_query) const;
  std::optional<std::string> query_value(std::string_view name) const;
};

/// The HTTP status a result will be answered with, for a batch's rules.
template <class T>
int status_of(const core::result<T>& r) {
  if (auto* f = std::get_if<core::failure>(&r)) return f->e.status;
  return 200;
}

/// Runs the core operation `op` on `req` for the call (call::perform), then
/// `answer` with its result, on the request's executor.
template <class Request, class Value>
void perform(const call_ptr& c,
             void (*op)(const core::context&, core::port&, Request, std::function<void(core::result<Value>)>),
             Request req, std::function<void(const call_ptr&, core::result<Value>)> answer) {
  auto outcome = std::make_shared<std::optional<core::result<Value>>>();
  auto request = std::make_shared<Request>(std::move(req));
  core::operation run = [ctx = c->context(), op, request, outcome](core::port& p, std::function<void(int)> settled) {
    op(ctx, p, std::move(*request), [outcome, settled = std::move(settled)](core::result<Value> r) {
      const int status = status_of(r);
      *outcome = std::move(r);
      settled(status);
    });
  };
  c->perform(std::move(run), [c, outcome, answer = std::move(answer)] { answer(c, std::move(**outcome)); });
}

/// Error responses with their status-specific headers (Retry-After, WWW-Authenticate).
response error_response(const config& cfg, const error& e);

// Endpoint handlers, named in the route table (resource_handlers.cpp,
// service_handlers.cpp, batch.cpp, ...).
void handle_object(const call_ptr& c);
void handle_plural(const call_ptr& c);
void handle_hello(const call_ptr& c);
void handle_heartbeat(const call_ptr& c);
void handle_lbheartbeat(const call_ptr& c);
void handle_version(const call_ptr& c);
void handle_api(const call_ptr& c);
void handle_contribute(const call_ptr& c);
void handle_permissions(const call_ptr& c);
void handle_user_data(const call_ptr& c);
void handle_flush(const call_ptr& c);
void handle_metrics(const call_ptr& c);
void handle_batch(const call_ptr& c);
void handle_history_snapshot(const call_ptr& c);
void handle_monitor_changes(const call_ptr& c);
void handle_changeset(const call_ptr& c);
void handle_broadcasts(const call_ptr& c);
void handle_changes_socket(const call_ptr& c);

/// Authenticates the request (Authorization header) and continues with the
/// user id set; account password checks may run on the blocking pool.
void authenticate(const call_ptr& c, std::function<void()> next);
/// Reads the caller's principals (its groups) as stored now.
void resolve_principals(call& c);
/// 401 for anonymous callers, 403 for authenticated ones.
error denied(const call& c);
/// The answer to a refused operation (a 412 carries the target's ETag).
response failure_response(const config& cfg, const core::failure& f);
/// The request's URL with `_limit` and `_token` replaced (the Next-Page header).
std::string next_page_url(const call& c, std::size_t limit, const query::token& next);
/// Completes and sends the answer to a read of a list, `res` holding its
/// other headers: for HEAD the count (Total-Objects, Total-Records), else
/// `{"data": [...]}` and Next-Page when there is more.
void send_page(const call_ptr& c, response res, const core::list_page& page, std::size_t limit);


/// The default bucket plugin: the caller's personal bucket id, whether a
/// path addresses it, and serving such a request: `rerun` gets it on its
/// real path, with the objects to create first when missing.
std::string personal_bucket_id(const config& cfg, std::string_view user_id);
bool is_default_bucket_path(const config& cfg, std::string_view path);
void serve_default_bucket(const call_ptr& c, std::function<void(const call_ptr&)> rerun);

/// HTTP-date of a millisecond timestamp ("Fri, 31 May 2024 16:13:20 GMT").
std::string http_date(std::uint64_t ms);

} // namespace kinto::http
