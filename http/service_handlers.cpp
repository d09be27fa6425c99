// Service endpoints: the root "hello" view, heartbeats, __version__,
// __api__ and contribute.json (service-endpoints.md §1–§2).
#include "http/auth.hpp"
#include "http/call.hpp"
#include "http/routes.hpp"

#include "base/json.hpp"

#include <chrono>
#include <fstream>
#include <sstream>

namespace kinto::http {

namespace {

json::value capability(std::string_view description, std::string_view url) {
  json::value cap = json::value::object();
  cap.set("description", json::value(description));
  cap.set("url", json::value(url));
  return cap;
}

} // namespace

void handle_hello(const call_ptr& c) {
  const config& cfg = c->cfg();
  json::value hello = json::value::object();
  hello.set("project_name", json::value(cfg.project_name));
  hello.set("project_version", json::value(cfg.project_version));
  hello.set("http_api_version", json::value(cfg.http_api_version));
  hello.set("project_docs", json::value(cfg.project_docs));
  hello.set("url", json::value(c->absolute_url("/v1/")));
  if (cfg.ini_path) {
    json::value file = json::value::object();
    file.set("path", json::value(*cfg.ini_path));
    file.set("hash", json::value(cfg.ini_hash.value_or("")));
    file.set("modified", json::value(cfg.ini_modified.value_or("")));
    hello.set("config", std::move(file));
  } else {
    hello.set("config", json::value());
  }
  if (!cfg.eos.empty()) hello.set("eos", json::value(cfg.eos));
  json::value settings = json::value::object();
  settings.set("batch_max_requests", json::value(cfg.batch_max_requests));
  settings.set("readonly", json::value(cfg.readonly));
  settings.set("explicit_permissions", json::value(cfg.explicit_permissions));
  hello.set("settings", std::move(settings));
  if (c->who.authenticated()) {
    json::value user = json::value::object();
    user.set("id", json::value(c->who.user_id));
    json::value principals = json::value::array();
    for (const auto& p : c->who.principals) principals.as_array().emplace_back(p);
    user.set("principals", std::move(principals));
    if (cfg.default_bucket) user.set("bucket", json::value(personal_bucket_id(cfg, c->who.user_id)));
    hello.set("user", std::move(user));
  }
  json::value caps = json::value::object();
  if (std::find(cfg.policies.begin(), cfg.policies.end(), "basicauth") != cfg.policies.end())
    caps.set("basicauth", capability("Very basic authentication sessions. Not for production use.",
                                     "http://kinto.readthedocs.io/en/stable/api/1.x/authentication.html"));
  if (cfg.accounts) {
    json::value accounts = capability("Manage user accounts.", "https://kinto.readthedocs.io/en/latest/api/1.x/accounts.html");
    accounts.set("validation_enabled", json::value(false));
    caps.set("accounts", std::move(accounts));
  }
  if (cfg.history.enabled) {
    json::value history = capability("Track changes on data.", "http://kinto.readthedocs.io/en/latest/api/1.x/history.html");
    if (!cfg.history.exclude_resources.empty()) {
      json::value excluded = json::value::array();
      for (const auto& uri : cfg.history.exclude_resources) {
        json::value e = json::value::object();
        // "/buckets/b/collections/c" -> {"bucket": "b", "collection": "c"}
        std::vector<std::string> parts;
        for (std::size_t i = 1; i <= uri.size();) {
          std::size_t j = uri.find('/', i);
          if (j == std::string::npos) j = uri.size();
          parts.push_back(uri.substr(i, j - i));
          i = j + 1;
        }
        for (std::size_t i = 0; i + 1 < parts.size(); i += 2) {
          std::string name = parts[i];
          if (!name.empty() && name.back() == 's') name.pop_back();
          e.set(name, json::value(parts[i + 1]));
        }
        excluded.as_array().push_back(std::move(e));
      }
      history.set("excluded_resources", std::move(excluded));
    }
    if (cfg.history.auto_trim_max_count > 0) {
      history.set("auto_trim_max_count", json::value(cfg.history.auto_trim_max_count));
      json::value users = json::value::array();
      for (const auto& u : cfg.history.auto_trim_user_ids) users.as_array().emplace_back(u);
      history.set("auto_trim_user_ids", std::move(users));
    }
    caps.set("history", std::move(history));
  }
  if (cfg.default_bucket)
    caps.set("default_bucket",
             capability("The default bucket is an alias for a personal bucket where collections are created implicitly.",
                        "https://kinto.readthedocs.io/en/latest/api/1.x/buckets.html#personal-bucket-default"));
  if (cfg.schema_validation)
    caps.set("schema", capability("Validates collection records with JSON schemas.",
                                  "https://kinto.readthedocs.io/en/latest/api/1.x/collections.html#collection-json-schema"));
  if (cfg.flush_endpoint)
    caps.set("flush_endpoint", capability("The __flush__ endpoint can be used to remove all data from all backends.",
                                          "https://kinto.readthedocs.io/en/latest/api/1.x/flush.html"));
  if (cfg.prometheus) {
    json::value prometheus = capability("Prometheus metrics.", "https://github.com/Kinto/kinto/");
    prometheus.set("prefix", json::value(cfg.prometheus_prefix));
    prometheus.set("disabled_metrics", json::value::array());
    caps.set("prometheus", std::move(prometheus));
  }
  if (cfg.admin_ui) {
    json::value admin = capability("Serves the admin console.", "https://github.com/Kinto/kinto-admin/");
    admin.set("version", json::value(cfg.admin_ui->version()));
    caps.set("admin", std::move(admin));
  }
  if (cfg.permissions_endpoint)
    caps.set("permissions_endpoint",
             capability("The permissions endpoint can be used to list all user objects permissions.",
                        "https://kinto.readthedocs.io/en/latest/configuration/settings.html#activating-the-permissions-endpoint"));
  {
    json::value push = capability("Live changes of plural endpoints as Server-Sent Events: GET with "
                                  "Accept: text/event-stream, resumable with _since or Last-Event-ID; "
                                  "or many subscriptions on one WebSocket at /v1/changes.",
                                  "https://html.spec.whatwg.org/multipage/server-sent-events.html");
    push.set("heartbeat_seconds", json::value(static_cast<std::int64_t>(cfg.push.heartbeat.count())));
    // ws:// or wss://, as the server's own URL is http:// or https://.
    const std::string socket_url = c->absolute_url("/v1/changes");
    push.set("websocket", json::value("ws" + socket_url.substr(socket_url.rfind("http", 0) == 0 ? 4 : 0)));
    caps.set("push", std::move(push));
  }
  if (cfg.changes.enabled) {
    json::value changes = capability("Track modifications of records in Kinto and store the collection timestamps into "
                                     "a specific bucket and collection.",
                                     "http://kinto.readthedocs.io/en/latest/tutorials/"
                                     "synchronisation.html#polling-for-remote-changes");
    changes.set("version", json::value(cfg.project_version));
    json::value monitored = json::value::array();
    for (const auto& uri : cfg.changes.resources) monitored.as_array().emplace_back(uri);
    changes.set("collections", std::move(monitored));
    caps.set("changes", std::move(changes));
  }
  hello.set("capabilities", std::move(caps));
  std::vector<std::pair<std::string, std::string>> headers;
  if (cfg.readonly) {
    // Read-only: the root view is cacheable (service-endpoints.md §1).
    const std::int64_t seconds = cfg.root_cache_expires;
    headers.emplace_back("Cache-Control", "max-age=" + std::to_string(seconds));
    headers.emplace_back("Expires", http_date(static_cast<std::uint64_t>(std::time(nullptr) + seconds) * 1000));
  }
  c->send_json(200, json::serialize(hello), std::move(headers));
}

/// The account verification cache keeps and returns an entry (a key no
/// account id can have).
bool cache_works(auth_cache& cache) {
  const std::string probe("\0heartbeat", 10);
  const auto now = std::chrono::steady_clock::now();
  cache.remember(probe, "probe", now + std::chrono::seconds(1));
  const bool kept = cache.valid(probe, "probe", now);
  cache.forget_account(probe);
  return kept;
}

void handle_heartbeat(const call_ptr& c) {
  // Each check does what its backend is for (core::op_heartbeat): storage
  // reads, and, unless the server is read-only, durably writes. Objects and
  // permissions live in one storage engine: what reads one reads both.
  const bool cache = cache_works(*c->a.accounts_cache);
  const std::string now = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch()).count());
  struct beat {
    bool readable = false, writable = false;
  };
  auto found = std::make_shared<beat>();
  const bool write = !c->cfg().readonly;
  core::operation run = [found, write, now, resume = c->context().resume](core::port& p, std::function<void(int)> settled) {
    core::op_heartbeat(p, write, now, [found, resume, settled](bool readable, bool writable) {
      found->readable = readable;
      found->writable = writable;
      resume([settled] { settled(200); });
    });
  };
  c->perform(std::move(run), [c, found, cache] {
    json::value beat = json::value::object();
    beat.set("storage", json::value(found->writable));
    beat.set("permission", json::value(found->readable));
    beat.set("cache", json::value(cache));
    c->send_json(found->writable && found->readable && cache ? 200 : 503, json::serialize(beat));
  });
}

void handle_lbheartbeat(const call_ptr& c) { c->send_json(200, "{}"); }

void handle_version(const call_ptr& c) {
  // A version file, when there is one, as upstream serves it; otherwise
  // what this build is.
  std::ifstream in(c->cfg().version_json_path);
  std::string err;
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    if (auto doc = json::parse(text.str(), err)) return c->send_json(200, json::serialize(*doc));
  }
  c->send_json(200, build_version_json());
}

void handle_api(const call_ptr& c) {
  // Described from the route table itself, so it lists exactly what is served.
  const config& cfg = c->cfg();
  json::value api = json::value::object();
  api.set("swagger", json::value("2.0"));
  json::value info = json::value::object();
  info.set("title", json::value(cfg.project_name));
  info.set("version", json::value(cfg.http_api_version));
  api.set("info", std::move(info));
  api.set("host", json::value(cfg.http_host.empty() ? c->req.host : cfg.http_host));
  api.set("basePath", json::value("/v1"));
  json::value schemes = json::value::array();
  schemes.as_array().emplace_back(cfg.http_scheme.empty() ? "http" : cfg.http_scheme);
  api.set("schemes", std::move(schemes));
  json::value security = json::value::object();
  json::value basic = json::value::object();
  basic.set("type", json::value("basic"));
  security.set("basicAuth", std::move(basic));
  api.set("securityDefinitions", std::move(security));

  json::value paths = json::value::object();
  json::value tags = json::value::array();
  for (const auto& spec : route_table()) {
    if (!spec.enabled(cfg)) continue;
    // OpenAPI path templates have no "rest of the path" form.
    std::string path(spec.pattern);
    if (auto plus = path.find("+}"); plus != std::string::npos) path.erase(plus, 1);
    json::value parameters = json::value::array();
    for (std::size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
      json::value p = json::value::object();
      p.set("name", json::value(path.substr(open + 1, path.find('}', open) - open - 1)));
      p.set("in", json::value("path"));
      p.set("required", json::value(true));
      p.set("type", json::value("string"));
      parameters.as_array().push_back(std::move(p));
    }
    json::value operations = json::value::object();
    for (const auto& method : spec.methods) {
      if (!method_enabled(cfg, spec.ep, spec.of, method)) continue;
      json::value op = json::value::object();
      json::value op_tags = json::value::array();
      op_tags.as_array().emplace_back(spec.tag);
      op.set("tags", std::move(op_tags));
      op.set("summary", json::value(spec.summary));
      json::value op_parameters = parameters;
      if (method == "POST" || method == "PUT" || method == "PATCH") {
        json::value body = json::value::object();
        body.set("name", json::value("body"));
        body.set("in", json::value("body"));
        json::value schema = json::value::object();
        schema.set("type", json::value("object"));
        body.set("schema", std::move(schema));
        op_parameters.as_array().push_back(std::move(body));
      }
      if (!op_parameters.as_array().empty()) op.set("parameters", std::move(op_parameters));
      json::value responses = json::value::object();
      for (const char* status : {"200", "400", "401", "403", "404"}) {
        json::value r = json::value::object();
        r.set("description", json::value(reason_phrase(std::stoi(status))));
        responses.set(status, std::move(r));
      }
      op.set("responses", std::move(responses));
      std::string lower = method;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      operations.set(lower, std::move(op));
    }
    paths.set(path, std::move(operations));
    bool known = false;
    for (const auto& t : tags.as_array()) known = known || t.find("name")->as_string() == spec.tag;
    if (!known) {
      json::value t = json::value::object();
      t.set("name", json::value(spec.tag));
      tags.as_array().push_back(std::move(t));
    }
  }
  api.set("paths", std::move(paths));
  api.set("tags", std::move(tags));
  c->send_json(200, json::serialize(api));
}

void handle_metrics(const call_ptr& c) {
  response res;
  res.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  res.set("Cache-Control", "no-cache");
  res.body = c->a.stats->render();
  c->send(std::move(res));
}

void handle_flush(const call_ptr& c) {
  auto flushed = std::make_shared<bool>(false);
  core::operation run = [flushed, resume = c->context().resume](core::port& p, std::function<void(int)> settled) {
    core::op_flush(p, [flushed, resume, settled](core::result<bool> r) {
      *flushed = !std::holds_alternative<core::failure>(r);
      resume([settled, ok = *flushed] { settled(ok ? 202 : 503); });
    });
  };
  c->perform(std::move(run), [c, flushed] {
    if (!*flushed) return c->fail(backend_unavailable());
    c->send_json(202, "{}");
  });
}

void handle_contribute(const call_ptr& c) {
  c->send_json(200,
               "{\"name\":\"kintod\",\"description\":\"A fast server for the Kinto HTTP API: JSON storage with "
               "synchronisation and sharing.\",\"repository\":{\"url\":\"https://github.com/Kinto/kinto\",\"license\":"
               "\"Apache License (2.0)\",\"tests\":\"https://github.com/Kinto/kinto/actions\"},\"participate\":{\"home\":"
               "\"https://kinto.readthedocs.io/\",\"docs\":\"https://kinto.readthedocs.io/\"},\"bugs\":{\"list\":"
               "\"https://github.com/Kinto/kinto/issues\",\"report\":\"https://github.com/Kinto/kinto/issues/new\"},"
               "\"keywords\":[\"JSON\",\"C++\",\"REST\",\"API\",\"Database\",\"Sync\"]}");
}

} // namespace kinto::http
