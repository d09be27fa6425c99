// Application set-up: settings resolved into a config, the blocking pool, and
// the response helpers shared by every handler.
#include "http/app.hpp"

#include "http/auth.hpp"
#include "http/build_info.hpp"
#include "http/call.hpp"
#include "base/json.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>


namespace kinto::http {

namespace {

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

/// Where the Debian package puts Kinto Admin.
constexpr const char* default_admin_assets_path = "/usr/share/kintod/admin";

/// Plugin names kintod provides, by their upstream names.
const std::vector<std::string>& provided_plugins() {
  static const std::vector<std::string> names{"kinto.plugins.accounts", "kinto.plugins.flush", "kinto.plugins.prometheus",
                                              "kinto.plugins.default_bucket", "kinto.plugins.history",
                                              "kinto_changes", "kinto_remote_settings.changes"};
  return names;
}

} // namespace

void use_userid_secret(config& c, std::string secret) {
  c.userid_hmac_secret = std::move(secret);
  // Upstream falls back on userid_hmac_secret only when the setting is absent.
  c.default_bucket_secret = c.default_bucket_hmac_secret.value_or(c.userid_hmac_secret);
}

namespace {

/// The implementations upstream accepts in `multiauth.policy.<name>.use`,
/// by their dotted names (pyramid also resolves `module:attribute`).
enum class policy_kind { account, basicauth, other };

policy_kind policy_of(std::string_view name, std::string_view use) {
  if (use.empty()) {
    // Upstream's default: `multiauth.policy.basicauth.use` is preset; kintod
    // also takes a bare `account`.
    if (name == "basicauth") return policy_kind::basicauth;
    if (name == "account") return policy_kind::account;
    return policy_kind::other;
  }
  std::string dotted(use);
  std::replace(dotted.begin(), dotted.end(), ':', '.');
  if (dotted == "kinto.plugins.accounts.AccountsPolicy" ||
      dotted == "kinto.plugins.accounts.authentication.AccountsAuthenticationPolicy")
    return policy_kind::account;
  if (dotted == "kinto.core.authentication.BasicAuthAuthenticationPolicy") return policy_kind::basicauth;
  return policy_kind::other;
}

/// `eos` as upstream's date parser reads the usual forms: `YYYY-MM-DD`,
/// optionally followed by a time. Returns the date part.
std::optional<std::string> eos_date(std::string_view text) {
  if (text.size() < 10) return std::nullopt;
  for (std::size_t i = 0; i < 10; ++i) {
    const bool dash = i == 4 || i == 7;
    if (dash ? text[i] != '-' : !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  if (text.size() > 10 && text[10] != 'T' && text[10] != ' ') return std::nullopt;
  return std::string(text.substr(0, 10));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// Resource names of the endpoint switches, as upstream names its resources.
constexpr std::array<std::string_view, 6> resource_names{"bucket", "group", "collection", "record", "account", "history"};

/// `<type>_<resource>_<method>_enabled` (service-endpoints.md §8): the
/// endpoint key ("plural_bucket") and method ("POST") it names, if it is one.
std::optional<std::pair<std::string, std::string>> endpoint_switch(std::string_view name) {
  if (!ends_with(name, "_enabled")) return std::nullopt;
  name.remove_suffix(8);
  for (std::string_view type : {"plural_", "object_"}) {
    if (!name.starts_with(type)) continue;
    const std::size_t last = name.rfind('_');
    if (last == std::string_view::npos || last < type.size()) return std::nullopt;
    const std::string_view resource = name.substr(type.size(), last - type.size());
    std::string method(name.substr(last + 1));
    if (std::find(resource_names.begin(), resource_names.end(), resource) == resource_names.end()) return std::nullopt;
    for (auto& ch : method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
      if (method == known) return std::make_pair(std::string(name.substr(0, last)), method);
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

std::string build_version_json() { return build_info::version_json; }

std::optional<std::string> load_config(const kinto::settings& s, config& c) {
  setting_reader reader(s);
  return load_config(reader, c);
}

std::optional<std::string> load_config(setting_reader& s, config& c) {
  constexpr std::int64_t any = INT64_MAX;
  c.project_name = s.text("project_name", "kinto");
  c.project_version = s.text("project_version", build_info::version);
  c.project_docs = s.text("project_docs", "https://kinto.readthedocs.io/");
  c.readonly = s.flag("readonly", false);
  c.permissions_endpoint = s.flag("experimental_permissions_endpoint", false);
  c.schema_validation = s.flag("experimental_collection_schema_validation", false);
  c.user_data_delete_principals = s.words("user-data_delete_principals");
  if (s.value("permissions_read_principals")) c.permissions_read_principals = s.words("permissions_read_principals");
  c.explicit_permissions = s.flag("explicit_permissions", true);
  c.batch_max_requests = s.integer("batch_max_requests", 25, 0, any);
  c.paginate_by = s.optional_integer("paginate_by", 0, any);
  if (c.paginate_by == 0) c.paginate_by.reset();
  c.storage_max_fetch_size = s.integer("storage_max_fetch_size", 10000, 1, any);
  c.pagination_token_validity = s.integer("pagination_token_validity_seconds", 600, 1, any);
  c.retry_after = s.integer("retry_after_seconds", 3, 0, any);
  if (auto backoff = s.optional_integer("backoff", 0, any)) c.backoff = std::to_string(*backoff);
  c.backoff_percentage = s.optional_number("backoff_percentage", 0, 100);
  c.eos = s.text("eos", "");
  if (!c.eos.empty()) {
    if (auto date = eos_date(c.eos)) c.eos_date = *date;
    else s.reject("eos", "not a date (YYYY-MM-DD)");
  }
  c.eos_message = s.text("eos_message", "");
  c.eos_url = s.text("eos_url", "");
  c.error_info_link = s.text("error_info_link", c.error_info_link);
  c.version_json_path = s.text("version_json_path", "version.json");
  c.bcrypt_cost = static_cast<int>(s.integer("bcrypt_cost", 10, 4, 31));
  c.account_cache_ttl = s.integer("account_cache_ttl_seconds", 30, 0, any);
  c.bcrypt_max_queue = static_cast<std::size_t>(s.integer("bcrypt_max_queue", 256, 1, any));
  // Stored documents are read back with the parser's own limit, a few
  // levels deeper than the deepest body (history entries wrap data): a body
  // may not nest deeper than default_max_depth.
  c.max_json_depth = static_cast<std::size_t>(s.integer("max_json_depth", json::default_max_depth, 1,
                                                        static_cast<std::int64_t>(json::default_max_depth)));
  c.http_scheme = s.text("http_scheme", "");
  c.http_host = s.text("http_host", "");
  c.version_prefix_redirect = s.flag("version_prefix_redirect_enabled", true);
  c.version_prefix_redirect_ttl = s.integer("version_prefix_redirect_ttl_seconds", -1, -1, any);
  c.trailing_slash_redirect = s.flag("trailing_slash_redirect_enabled", true);
  c.trailing_slash_redirect_ttl = s.integer("trailing_slash_redirect_ttl_seconds", 3600, -1, any);
  c.root_cache_expires = s.integer("root_cache_expires_seconds", 86400, 0, any);
  if (s.value("cors_origins")) c.cors_origins = s.words("cors_origins");
  if (auto v = s.value("cors_max_age_seconds")) {
    if (v->empty()) c.cors_max_age.reset();
    else c.cors_max_age = s.integer("cors_max_age_seconds", 3600, 0, any);
  }
  c.default_bucket_hmac_secret = s.value("default_bucket_hmac_secret");

  // Settings named after resources: permissions, cache lifetimes and
  // endpoint switches, for every stored name of their shape and for the
  // fixed ones (which the environment may also set).
  std::vector<std::string> names;
  for (const auto& [name, value] : s.source().stored()) names.push_back(name);
  for (const char* type : {"bucket", "group", "collection", "record", "account", "history"}) {
    for (const char* perm : {"read", "write", "create"}) names.push_back(std::string(type) + "_" + perm + "_principals");
    names.push_back(std::string(type) + "_cache_expires_seconds");
  }
  for (const auto& name : names) {
    if (ends_with(name, "_principals") && name != "permissions_read_principals" &&
        name != "user-data_delete_principals") {
      auto principals = s.words(name);
      if (!principals.empty()) c.principal_settings.by_name[name] = std::move(principals);
    } else if (ends_with(name, "_cache_expires_seconds") || ends_with(name, "_cache_minimum_expires_seconds") ||
               ends_with(name, "_cache_maximum_expires_seconds")) {
      if (auto seconds = s.optional_integer(name, 0, any)) c.cache_expires[name] = *seconds;
    } else if (auto which = endpoint_switch(name)) {
      if (!s.flag(name, true)) c.disabled_methods.insert(which->first + " " + which->second);
    }
  }
  if (!s.value("bucket_create_principals")) c.principal_settings.by_name["bucket_create_principals"] = {std::string(authenticated)};

  // Authentication policies, in order.
  const auto policies = s.words("multiauth.policies");
  const auto includes = s.words("includes");
  for (const auto& name : policies) {
    const std::string use = s.text("multiauth.policy." + name + ".use", "");
    switch (policy_of(name, use)) {
      case policy_kind::account: c.policies.push_back("account"); break;
      case policy_kind::basicauth: c.policies.push_back("basicauth"); break;
      case policy_kind::other:
        // Other policies (OpenID...) are not provided: requests are just not
        // authenticated by them.
        s.warn("authentication policy " + name + (use.empty() ? "" : " (" + use + ")") +
               " is not provided by kintod; ignored");
        break;
    }
    c.realms.push_back(s.text("multiauth.policy." + name + ".realm", "Realm"));
  }
  if (c.realms.empty()) c.realms.emplace_back("Realm");
  for (const auto& plugin : includes) {
    if (contains(provided_plugins(), plugin)) {
      if (!contains(c.plugins, plugin)) c.plugins.push_back(plugin);
    } else if (plugin != "kinto.plugins.admin") {
      s.warn("plugin " + plugin + " is not provided by kintod; ignored");
    }
  }
  c.accounts = contains(c.plugins, "kinto.plugins.accounts");
  // Kinto Admin, which relies on /permissions: upstream's admin plugin
  // turns that on too.
  c.admin = contains(includes, "kinto.plugins.admin");
  c.admin_assets_path = s.text("admin_assets_path", default_admin_assets_path);
  if (c.admin) {
    c.permissions_endpoint = true;
    std::string error;
    if (auto assets = admin_assets::load(c.admin_assets_path, error))
      c.admin_ui = std::make_shared<const admin_assets>(std::move(*assets));
    else
      s.warn("plugin kinto.plugins.admin: " + error + "; /v1/admin/ answers 404 (set kinto.admin_assets_path)");
  }
  c.prometheus = contains(c.plugins, "kinto.plugins.prometheus");
  {
    // Upstream's clean-up: separators become underscores, which are then
    // dropped, and one underscore ends it ("remote-settings" -> "remotesettings_").
    std::string prefix = s.text("prometheus_prefix", c.project_name);
    std::string cleaned;
    for (char ch : prefix)
      if (ch != '-' && ch != '.' && ch != ' ' && ch != '_') cleaned += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    c.prometheus_prefix = cleaned.empty() ? std::string() : cleaned + "_";
  }
  c.default_bucket = contains(c.plugins, "kinto.plugins.default_bucket");
  c.history.enabled = contains(c.plugins, "kinto.plugins.history");
  c.history.exclude_resources = s.words("history.exclude_resources");
  c.history.exclude_user_ids = s.words("history.exclude_user_ids");
  c.history.auto_trim_user_ids = s.words("history.auto_trim_user_ids");
  c.history.auto_trim_max_count = s.integer("history.auto_trim_max_count", -1, -1, any);
  c.history.auto_trim_threshold = s.integer("history.auto_trim_threshold", 100, 0, any);
  // The changes plugin: included under either of its upstream names, or
  // by naming what it monitors.
  c.changes.resources = s.words("changes.resources");
  c.changes.excluded = s.words("changes.excluded_collections");
  c.changes.enabled = contains(c.plugins, "kinto_changes") || contains(c.plugins, "kinto_remote_settings.changes") ||
                      !c.changes.resources.empty();
  c.changes.host = c.http_host;
  c.changes_redirect_host = s.text("changes.http_host", c.http_host);
  c.changes_since_max_age_days = s.integer("changes.since_max_age_days", 21, -1, any);
  c.changes_redirect_ttl = s.integer("changes.since_max_age_redirect_ttl_seconds", 86400, -1, any);
  c.broadcast_debounce_seconds = s.integer("push_broadcast_min_debounce_interval_seconds", 300, 0, any);
  c.push.heartbeat = std::chrono::seconds(s.integer("push_heartbeat_seconds", 30, 1, 86400));
  c.push.max_buffer_bytes = static_cast<std::size_t>(s.integer("push_max_buffer_bytes", 1024 * 1024, 1024, any));
  c.push.max_subscribers = static_cast<std::size_t>(s.integer("push_max_subscribers", 10000, 0, any));
  c.push.poll_interval = std::chrono::milliseconds(s.integer("push_poll_milliseconds", 1000, 0, 3600 * 1000));
  use_userid_secret(c, s.text("userid_hmac_secret", ""));
  // Since upstream 6.0, including the plugin is enough; the older switch is
  // still read (and checked) for configurations that set it.
  const bool flush_switch = s.flag("flush_endpoint_enabled", true);
  c.flush_endpoint = contains(c.plugins, "kinto.plugins.flush") && flush_switch;
  if (c.accounts) {
    c.account_create_principals = s.words("account_create_principals");
    c.account_read_principals = s.words("account_read_principals");
    c.account_write_principals = s.words("account_write_principals");
    if (!contains(c.policies, "account"))
      s.reject("multiauth.policies", "kinto.plugins.accounts is included but no account policy is listed");
    auto account = std::find(c.policies.begin(), c.policies.end(), "account");
    auto basic = std::find(c.policies.begin(), c.policies.end(), "basicauth");
    // As upstream, the order is honoured; basicauth first takes every Basic
    // credential, so no account ever authenticates.
    if (account != c.policies.end() && basic < account)
      s.warn("multiauth.policies lists basicauth before account: basicauth accepts any credentials, so accounts "
             "never authenticate (list account first)");
    for (const auto& p : c.account_create_principals)
      if (p != everyone && !contains(c.account_write_principals, p))
        s.reject("account_create_principals", "lists " + p + " which is not in account_write_principals");
  } else {
    // Without the plugin, an account policy authenticates nobody.
    c.policies.erase(std::remove(c.policies.begin(), c.policies.end(), "account"), c.policies.end());
  }
  if (s.problems().empty()) return std::nullopt;
  std::string all;
  for (const auto& problem : s.problems()) all += (all.empty() ? "" : "\n") + problem;
  return all;
}

/// A few threads for slow work (bcrypt), so io threads never wait on it.
struct app::pool {
  explicit pool(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) threads.emplace_back([this] { loop(); });
  }
  ~pool() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    for (auto& t : threads) t.join();
  }
  void push(std::function<void()> work) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      queue.push_back(std::move(work));
    }
    wake.notify_one();
  }
  /// Jobs waiting for a thread.
  std::size_t queued() {
    std::lock_guard<std::mutex> lock(mutex);
    return queue.size();
  }
  void loop() {
    for (;;) {
      std::function<void()> work;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [this] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        work = std::move(queue.front());
        queue.pop_front();
      }
      work();
    }
  }
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> queue;
  bool stopping = false;
  std::vector<std::thread> threads;
};

app::app(config c, storage::engine& store, actors::write_service& writes)
    : cfg(std::move(c)), accounts_cache(std::make_unique<auth_cache>()),
      deletion_tokens(std::chrono::seconds(cfg.pagination_token_validity)),
      broadcasts(std::chrono::seconds(cfg.broadcast_debounce_seconds)), schemas(std::make_shared<core::schema_cache>()),
      blocking(std::make_unique<pool>(2)) {
  direct = std::make_unique<core::direct_port>(store, writes, [this](std::function<void()> work) {
    if (blocking_queue_full()) return false;
    run_blocking(std::move(work));
    return true;
  });
  feed = std::make_unique<core::feed>(cfg, store, writes, cfg.push);
  if (cfg.prometheus) {
    stats = std::make_unique<metrics>(cfg.prometheus_prefix);
    stats->gauge("push_subscribers", "Subscribers of the change feed (Server-Sent Events and WebSocket).",
                 [f = feed.get()] { return static_cast<double>(f->subscribers()); });
  }
}

app::~app() { feed->stop(); }

void app::run_blocking(std::function<void()> work) { blocking->push(std::move(work)); }

bool app::blocking_queue_full() const { return blocking->queued() >= cfg.bcrypt_max_queue; }

std::string http_date(std::uint64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

response error_response(const config& cfg, const error& e) {
  response res;
  res.status = e.status;
  res.body = render(e);
  res.error_number = static_cast<int>(e.code);
  if (e.status == 503) res.unavailable_cause = cause_name(e.cause);
  res.set("Content-Type", "application/json");
  if (e.status == 503 || e.status == 409) res.set("Retry-After", std::to_string(cfg.retry_after));
  // One challenge per authentication policy, as upstream does.
  if (e.status == 401)
    for (const auto& realm : cfg.realms) res.headers.emplace_back("WWW-Authenticate", "Basic realm=\"" + realm + "\"");
  return res;
}

response server_error_response(const app& a, int status) {
  error e;
  switch (status) {
    case 413: e = request_too_large(); break;
    case 431: e = error{431, errnum::invalid_parameters, "Request Header Fields Too Large", "Request headers too large.", std::nullopt, std::nullopt}; break;
    case 414: e = error{414, errnum::invalid_parameters, "Request-URI Too Long", "Request URL too long.", std::nullopt, std::nullopt}; break;
    case 503: e = backend_unavailable(unavailable::connections); break;
    default: e = bad_request("Invalid HTTP request."); break;
  }
  response res = error_response(a.cfg, e);
  res.set("X-Content-Type-Options", "nosniff");
  if (status == 503 && a.stats) a.stats->count_unavailable(res.unavailable_cause);
  return res;
}

} // namespace kinto::http
