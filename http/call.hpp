// One request on its way through the application: the parsed path and query,
// the caller's identity, the matched route, and the one way to answer.
// Internal to http/.
#pragma once

#include "core/access.hpp"
#include "core/port.hpp"
#include "http/app.hpp"
#include "schema/error.hpp"
#include "schema/query.hpp"
#include "schema/resource.hpp"

#include <array>
#include <functional>
#include <variant>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kinto::http {

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
};

using query_params = std::vector<std::pair<std::string, std::string>>;

struct call {
  app& a;
  /// Where the request reads and writes: on its own, the store and the
  /// write path; inside a batch that writes, the batch's transaction.
  core::port& port;
  request req;
  std::string path; ///< decoded, without the /v1 prefix
  std::string raw_query;
  query_params query;
  route r;
  core::caller who;
  responder reply;

  const config& cfg() const { return a.cfg; }
  bool is(std::string_view method) const { return req.method == method; }
  /// Answers with `res` after adding the headers every response carries.
  void send(response res);
  void fail(const error& e);
  /// Continues the request on its connection's executor (after an actor
  /// answered), or inline when there is none.
  void resume(std::function<void()> work) const;
  storage::snapshot read() const { return port.read(); }
  /// `read`: what the request read of the target, from its snapshot.
  void submit(const list_key& list, actors::write_command cmd, std::function<void(actors::write_outcome)> done,
              const core::target_read* read = nullptr) const {
    port.write(list, std::move(cmd), std::move(done), read);
  }
  /// Permission decisions over `v` for this request's caller.
  core::decider decider(const storage::view& v) const { return core::decider(v, who, cfg().principal_settings); }
  void run_exclusive(std::function<storage::status(storage::writer&)> apply,
                     std::function<void(storage::status)> done) const {
    port.apply(std::move(apply), std::move(done));
  }
  /// A JSON response with the given status.
  void send_json(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {});
  /// Absolute URL of `path_and_query` (which starts with /v1...).
  std::string absolute_url(std::string_view path_and_query) const;
  std::optional<std::string> query_value(std::string_view name) const;
};

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
void handle_batch(const call_ptr& c);
void handle_history_snapshot(const call_ptr& c);

/// Authenticates the request (Authorization header) and continues with the
/// user id set; account password checks may run on the blocking pool.
void authenticate(const call_ptr& c, std::function<void()> next);
/// Reads the caller's principals (its groups) from the request's view.
void resolve_principals(call& c);
/// 401 for anonymous callers, 403 for authenticated ones.
error denied(const call& c);

/// Page size of a plural request (querying.md §4.2).
std::size_t page_size(const config& cfg, const query::request& q);
/// The request's URL with `_limit` and `_token` replaced (the Next-Page header).
std::string next_page_url(const call& c, std::size_t limit, const query::token& next);


/// The default bucket plugin: the caller's personal bucket id, whether a
/// path addresses it, and serving such a request (creating what it needs,
/// then running `rerun` on the rewritten request).
std::string personal_bucket_id(const config& cfg, std::string_view user_id);
bool is_default_bucket_path(const config& cfg, std::string_view path);
void serve_default_bucket(const call_ptr& c, std::function<void(const call_ptr&)> rerun);

/// HTTP-date of a millisecond timestamp ("Fri, 31 May 2024 16:13:20 GMT").
std::string http_date(std::uint64_t ms);

} // namespace kinto::http
