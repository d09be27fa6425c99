// The application behind the HTTP server: settings resolved once at start,
// the port its requests' operations run on, and the handler that routes
// each request. Free of Beast and CAF.
#pragma once

#include "core/feed.hpp"
#include "core/ops.hpp"
#include "http/admin_ui.hpp"
#include "http/metrics.hpp"
#include "http/message.hpp"
#include "base/settings.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kinto::http {

/// Settings that change behaviour, read once (configuration.md): Kinto's
/// rules (core::rules) and what only the HTTP edge needs.
struct config : core::rules {
  std::string project_name = "kinto";
  std::string project_version;
  std::string http_api_version = "1.23";
  std::string project_docs = "https://kinto.readthedocs.io/";
  std::string userid_hmac_secret;
  std::vector<std::string> policies;        ///< authentication policies in order: "account", "basicauth"
  std::vector<std::string> plugins;         ///< enabled plugins (upstream names)
  bool flush_endpoint = false;       ///< kinto.plugins.flush, unless flush_endpoint_enabled = false
  /// kinto.plugins.admin: Kinto Admin, read from `admin_assets_path` (null
  /// when the plugin is off or no build was found there).
  bool admin = false;
  /// kinto.plugins.prometheus: GET /__metrics__, its names prefixed with
  /// `prometheus_prefix` (the project name) as upstream cleans it up.
  bool prometheus = false;
  std::string prometheus_prefix;
  std::string admin_assets_path;
  std::shared_ptr<const admin_assets> admin_ui;
  std::optional<std::string> default_bucket_hmac_secret; ///< the setting, when set
  bool permissions_endpoint = false;
  std::vector<std::string> cors_origins{"*"};
  std::optional<std::int64_t> cors_max_age = 3600;
  bool version_prefix_redirect = true;
  std::int64_t version_prefix_redirect_ttl = -1;
  bool trailing_slash_redirect = true;
  std::int64_t trailing_slash_redirect_ttl = 3600;
  std::string http_scheme, http_host;
  /// The changes plugin's redirects (core::changes_options has the rest):
  /// their host (`changes.http_host`, else `http_host`), the age of a
  /// `_since` redirected to the whole list (`changes.since_max_age_days`,
  /// -1 = never), how long they may be cached (-1 = no header), and the
  /// shortest interval between two published broadcasts.
  std::string changes_redirect_host;
  std::int64_t changes_since_max_age_days = 21;
  std::int64_t changes_redirect_ttl = 86400;
  std::int64_t broadcast_debounce_seconds = 300;
  /// The change feed (`push_heartbeat_seconds`, `push_max_buffer_bytes`,
  /// `push_max_subscribers`, `push_poll_milliseconds`).
  core::feed_options push;
  std::int64_t retry_after = 3;
  std::optional<std::string> backoff;
  std::optional<double> backoff_percentage; ///< Backoff on this share of responses only
  std::string eos, eos_message, eos_url; ///< end of service (errors.md §5); eos empty = none
  std::string eos_date;                  ///< YYYY-MM-DD part of eos
  std::int64_t root_cache_expires = 86400; ///< root view caching in read-only mode
  /// Methods turned off by `<type>_<resource>_<method>_enabled = false`,
  /// as "plural_bucket POST".
  std::set<std::string, std::less<>> disabled_methods;
  std::string error_info_link = "https://github.com/Kinto/kinto/issues/";
  std::string version_json_path = "version.json";
  std::int64_t account_cache_ttl = 30;
  std::size_t bcrypt_max_queue = 256; ///< password checks waiting for the blocking pool; beyond: 503
  std::size_t max_json_depth = 512;   ///< nesting allowed in request bodies (1..json::default_max_depth)
  std::vector<std::string> realms; ///< one per authentication policy (WWW-Authenticate)
  /// Root view `config`: path, hash and modification time of the ini file.
  std::optional<std::string> ini_path, ini_hash, ini_modified;
};

/// Builds the config from settings, checking each value as it reads it;
/// returns the problems found (a line per bad setting, invalid combinations
/// such as accounts included without an account policy), which `reader`
/// also holds, with its warnings.
std::optional<std::string> load_config(kinto::setting_reader& reader, config& out);
/// The same with a reader of its own (tests, tools).
std::optional<std::string> load_config(const kinto::settings& s, config& out);
/// Sets the HMAC key of user ids, and of personal bucket ids unless
/// `default_bucket_hmac_secret` is set (upstream's fallback). load_config
/// uses the setting; main uses the data directory's generated secret when
/// the setting is absent.
void use_userid_secret(config& c, std::string secret);

/// What this build is, in the Dockerflow shape of version.json:
/// `{"source", "version", "commit", "build"}` (GET /__version__, --version).
std::string build_version_json();

class auth_cache;

struct app {
  /// Serves requests on `store`, writing through `writes`.
  app(config c, storage::engine& store, actors::write_service& writes);
  ~app();
  config cfg;
  /// The port of requests on their own: the store, the write path, and
  /// the blocking pool for slow work.
  std::unique_ptr<core::direct_port> direct;
  std::unique_ptr<auth_cache> accounts_cache;
  core::token_registry deletion_tokens;
  core::broadcast_debounce broadcasts; ///< what GET /__broadcasts__ last published
  /// Pushes committed changes to subscribers (Server-Sent Events), told of
  /// every commit by the write path.
  std::unique_ptr<core::feed> feed;
  std::shared_ptr<core::schema_cache> schemas; ///< compiled JSON schemas
  /// What GET /__metrics__ shows (kinto.plugins.prometheus); null without it.
  /// Gauges are added before the server starts.
  std::unique_ptr<metrics> stats;
  /// Runs slow work (bcrypt) off the io threads, then `then` on that pool.
  void run_blocking(std::function<void()> work);
  /// True when `bcrypt_max_queue` jobs already wait for the blocking pool:
  /// a new password check is refused (503) rather than queued. Each request
  /// in flight has at most one job there, so max_requests_in_flight bounds
  /// the queue too.
  bool blocking_queue_full() const;
  struct pool;
  std::unique_ptr<pool> blocking;
};

/// The request handler over an app (routing, CORS, errors...).
handler make_handler(app& a);
/// Answers a request refused because too many are in flight: 503, errno 201,
/// with Retry-After and the headers every response carries.
handler make_overload_handler(app& a);
/// Where a request inside a batch leaves its operation: the batch runs it
/// among the others (core::op_batch), then `answer` renders its outcome.
using operation_sink = std::function<void(core::operation op, std::function<void()> answer)>;

/// Handles one request (make_handler's handler); inside a batch, `collect`
/// takes its operation instead of running it.
void handle(app& a, request req, responder reply, operation_sink collect);
/// The response for errors found by the server before routing (413, 431, 400, 503).
response server_error_response(const app& a, int status);

} // namespace kinto::http
