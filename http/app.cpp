// Application set-up: settings resolved into a config, the blocking pool, and
// the response helpers shared by every handler.
#include "http/app.hpp"

#include "http/auth.hpp"
#include "http/call.hpp"
#include "schema/json.hpp"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

#ifndef KINTOD_VERSION
#define KINTOD_VERSION "0.1.0"
#endif

namespace kinto::http {

namespace {

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

/// Plugin names kintod provides, by their upstream names.
const std::vector<std::string>& provided_plugins() {
  static const std::vector<std::string> names{"kinto.plugins.accounts", "kinto.plugins.flush",
                                              "kinto.plugins.default_bucket", "kinto.plugins.history"};
  return names;
}

} // namespace

void use_userid_secret(config& c, std::string secret) {
  c.userid_hmac_secret = std::move(secret);
  // Upstream falls back on userid_hmac_secret only when the setting is absent.
  c.default_bucket_secret = c.raw.get("default_bucket_hmac_secret").value_or(c.userid_hmac_secret);
}

std::optional<std::string> load_config(const kinto::settings& s, config& c) {
  c.raw = s;
  c.project_name = s.get_string("project_name", "kinto");
  c.project_version = s.get_string("project_version", KINTOD_VERSION);
  c.project_docs = s.get_string("project_docs", "https://kinto.readthedocs.io/");
  bool bad = false;
  c.readonly = s.get_bool("readonly", false, &bad);
  c.permissions_endpoint = s.get_bool("experimental_permissions_endpoint", false, &bad);
  c.schema_validation = s.get_bool("experimental_collection_schema_validation", false, &bad);
  c.user_data_delete_principals = s.get_list("user-data_delete_principals");
  if (auto v = s.get("permissions_read_principals")) c.permissions_read_principals = split_words(*v);
  c.explicit_permissions = s.get_bool("explicit_permissions", true, &bad);
  c.batch_max_requests = s.get_int("batch_max_requests", 25, &bad);
  if (auto v = s.get("paginate_by"); v && !v->empty()) c.paginate_by = s.get_int("paginate_by", 0, &bad);
  c.storage_max_fetch_size = s.get_int("storage_max_fetch_size", 10000, &bad);
  c.pagination_token_validity = s.get_int("pagination_token_validity_seconds", 600, &bad);
  c.retry_after = s.get_int("retry_after_seconds", 3, &bad);
  if (auto v = s.get("backoff"); v && !v->empty()) c.backoff = *v;
  c.eos = s.get_string("eos", "");
  c.eos_message = s.get_string("eos_message", "");
  c.eos_url = s.get_string("eos_url", "");
  c.error_info_link = s.get_string("error_info_link", c.error_info_link);
  c.version_json_path = s.get_string("version_json_path", "version.json");
  c.bcrypt_cost = static_cast<int>(s.get_int("bcrypt_cost", 10, &bad));
  c.account_cache_ttl = s.get_int("account_cache_ttl_seconds", 30, &bad);
  const std::int64_t bcrypt_queue = s.get_int("bcrypt_max_queue", 256, &bad);
  const std::int64_t json_depth = s.get_int("max_json_depth", json::default_max_depth, &bad);
  c.http_scheme = s.get_string("http_scheme", "");
  c.http_host = s.get_string("http_host", "");
  c.version_prefix_redirect = s.get_bool("version_prefix_redirect_enabled", true, &bad);
  c.version_prefix_redirect_ttl = s.get_int("version_prefix_redirect_ttl_seconds", -1, &bad);
  c.trailing_slash_redirect = s.get_bool("trailing_slash_redirect_enabled", true, &bad);
  c.trailing_slash_redirect_ttl = s.get_int("trailing_slash_redirect_ttl_seconds", 3600, &bad);
  if (auto v = s.get("cors_origins")) c.cors_origins = split_words(*v);
  if (auto v = s.get("cors_max_age_seconds")) {
    if (v->empty()) c.cors_max_age.reset();
    else c.cors_max_age = s.get_int("cors_max_age_seconds", 3600, &bad);
  }
  if (bad) return "a setting has a value of the wrong type (booleans: true/false, numbers: integers)";
  if (c.bcrypt_cost < 4 || c.bcrypt_cost > 31) return "bcrypt_cost must be between 4 and 31";
  if (bcrypt_queue < 1) return "bcrypt_max_queue must be a positive integer";
  c.bcrypt_max_queue = static_cast<std::size_t>(bcrypt_queue);
  // Stored documents are read back with the parser's own limit, so a body
  // may not nest deeper than that.
  if (json_depth < 1 || json_depth > static_cast<std::int64_t>(json::default_max_depth))
    return "max_json_depth must be between 1 and " + std::to_string(json::default_max_depth);
  c.max_json_depth = static_cast<std::size_t>(json_depth);

  // Permission settings: every stored `*_principals` name, and every
  // `<type>_<perm>_principals` (which the environment may also set).
  std::vector<std::string> names;
  for (const auto& [name, value] : s.stored())
    if (name.size() > 11 && name.compare(name.size() - 11, 11, "_principals") == 0) names.push_back(name);
  for (const char* type : {"bucket", "group", "collection", "record", "account"})
    for (const char* perm : {"read", "write", "create"}) names.push_back(std::string(type) + "_" + perm + "_principals");
  for (const auto& name : names) {
    auto principals = s.get_list(name);
    if (!principals.empty()) c.principal_settings[name] = std::move(principals);
  }
  if (!s.get("bucket_create_principals")) c.principal_settings["bucket_create_principals"] = {std::string(authenticated)};

  // Authentication policies, in order.
  const auto policies = s.get_list("multiauth.policies");
  const auto includes = s.get_list("includes");
  for (const auto& name : policies) {
    std::string use = s.get_string("multiauth.policy." + name + ".use", "");
    if (use.find("AccountsPolicy") != std::string::npos || (use.empty() && name == "account"))
      c.policies.push_back("account");
    else if (use.find("BasicAuth") != std::string::npos || (use.empty() && name == "basicauth"))
      c.policies.push_back("basicauth");
    // Other policies (OpenID...) are not provided: requests are just not
    // authenticated by them.
  }
  for (const auto& name : policies)
    c.realms.push_back(s.get_string("multiauth.policy." + name + ".realm", "Realm"));
  if (c.realms.empty()) c.realms.emplace_back("Realm");
  for (const auto& plugin : includes) {
    if (contains(provided_plugins(), plugin)) {
      if (!contains(c.plugins, plugin)) c.plugins.push_back(plugin);
    }
  }
  c.accounts = contains(c.plugins, "kinto.plugins.accounts");
  // Kinto Admin relies on /permissions: upstream's admin plugin turns it on,
  // and so does naming it here, although kintod does not serve the admin UI.
  if (contains(includes, "kinto.plugins.admin")) c.permissions_endpoint = true;
  c.default_bucket = contains(c.plugins, "kinto.plugins.default_bucket");
  c.history = contains(c.plugins, "kinto.plugins.history");
  c.history_exclude_resources = s.get_list("history.exclude_resources");
  c.history_exclude_user_ids = s.get_list("history.exclude_user_ids");
  c.history_trim_user_ids = s.get_list("history.auto_trim_user_ids");
  c.history_trim_max_count = s.get_int("history.auto_trim_max_count", -1, &bad);
  c.history_trim_threshold = s.get_int("history.auto_trim_threshold", 100, &bad);
  use_userid_secret(c, s.get_string("userid_hmac_secret", ""));
  c.flush_endpoint = contains(c.plugins, "kinto.plugins.flush") && s.get_bool("flush_endpoint_enabled", false, &bad);
  if (c.accounts) {
    if (!contains(c.policies, "account"))
      return "kinto.plugins.accounts is included but no account policy is in multiauth.policies";
    auto account = std::find(c.policies.begin(), c.policies.end(), "account");
    auto basic = std::find(c.policies.begin(), c.policies.end(), "basicauth");
    if (basic < account) return "the basicauth policy must come after the account policy";
    c.account_create_principals = s.get_list("account_create_principals");
    c.account_read_principals = s.get_list("account_read_principals");
    c.account_write_principals = s.get_list("account_write_principals");
    for (const auto& p : c.account_create_principals)
      if (p != everyone && !contains(c.account_write_principals, p))
        return "account_create_principals lists " + p + " which is not in account_write_principals";
  } else {
    // Without the plugin, an account policy authenticates nobody.
    c.policies.erase(std::remove(c.policies.begin(), c.policies.end(), "account"), c.policies.end());
  }
  return std::nullopt;
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

app::app(config c, storage::store& s, actors::write_service& w)
    : cfg(std::move(c)), store(s), writes(w), accounts_cache(std::make_unique<auth_cache>()),
      deletion_tokens(std::chrono::seconds(cfg.pagination_token_validity)), schemas(make_schema_cache()),
      blocking(std::make_unique<pool>(2)) {}

app::~app() = default;

void token_registry::remember(const std::string& nonce) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  if (expiry_.size() >= 100000) {
    // Bounded: drop what has expired, and if still full, the whole set.
    for (auto it = expiry_.begin(); it != expiry_.end();) it = it->second < now ? expiry_.erase(it) : std::next(it);
    if (expiry_.size() >= 100000) expiry_.clear();
  }
  expiry_[nonce] = now + validity_;
}

bool token_registry::consume(const std::string& nonce) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = expiry_.find(nonce);
  if (it == expiry_.end()) return false;
  const bool valid = it->second >= std::chrono::steady_clock::now();
  expiry_.erase(it);
  return valid;
}

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

bool identity::holds_any(const std::vector<std::string>& allowed) const {
  for (const auto& p : principals)
    if (contains(allowed, p)) return true;
  return false;
}

const std::vector<std::string>& config::principals_of(const std::string& setting) const {
  static const std::vector<std::string> none;
  auto it = principal_settings.find(setting);
  return it == principal_settings.end() ? none : it->second;
}

response error_response(const config& cfg, const error& e) {
  response res;
  res.status = e.status;
  res.body = render(e);
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
    case 503: e = backend_unavailable(); break;
    default: e = bad_request("Invalid HTTP request."); break;
  }
  response res = error_response(a.cfg, e);
  res.set("X-Content-Type-Options", "nosniff");
  return res;
}

} // namespace kinto::http
