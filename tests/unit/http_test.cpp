// Unit tests of http/: body and header validation, Basic credentials, and
// requests routed in-process through the application (no sockets).
#include "actors/write_service.hpp"
#include "http/app.hpp"
#include "http/auth.hpp"
#include "http/body.hpp"
#include "http/routes.hpp"
#include "base/crypto.hpp"
#include "base/settings.hpp"
#include "storage/lmdb_engine.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <future>

using namespace kinto;
using namespace kinto::http;

namespace {

error error_of(const std::variant<envelope, error>& r) {
  REQUIRE(std::holds_alternative<error>(r));
  return std::get<error>(r);
}

} // namespace

TEST_CASE("envelopes accept data and permissions only") {
  auto ok = parse_envelope(R"({"data":{"a":1},"permissions":{"read":["x"]}})", kind::record);
  REQUIRE(std::holds_alternative<envelope>(ok));
  CHECK(std::get<envelope>(ok).data->find("a"));
  CHECK(std::holds_alternative<envelope>(parse_envelope("", kind::record)));
  SECTION("extra top-level keys") {
    auto e = error_of(parse_envelope(R"({"data":{},"datta":{}})", kind::record));
    CHECK(e.status == 400);
    CHECK(e.message->find("Unrecognized keys in mapping") != std::string::npos);
    CHECK(e.message->find("datta") != std::string::npos);
  }
  SECTION("invalid JSON") {
    auto e = error_of(parse_envelope("{\"data\":", kind::record));
    CHECK(e.message->rfind("Invalid JSON", 0) == 0);
  }
  SECTION("a scalar body") { CHECK(error_of(parse_envelope("42", kind::record)).status == 400); }
  SECTION("data that is not an object") { CHECK(*error_of(parse_envelope(R"({"data":"x"})", kind::record)).message == "data in body: \"x\" is not a mapping type"); }
  SECTION("unknown permission name") {
    auto e = error_of(parse_envelope(R"({"permissions":{"record:create":["x"]}})", kind::bucket));
    CHECK(*e.message == "permissions in body: \"record:create\" is not one of read, write, collection:create, group:create");
  }
  SECTION("permission that is not a list") {
    auto e = error_of(parse_envelope(R"({"permissions":{"read":"book"}})", kind::record));
    CHECK(*e.message == "permissions.read in body: \"book\" is not iterable");
  }
  SECTION("a numeric id") { CHECK(error_of(parse_envelope(R"({"data":{"id":3.14}})", kind::record)).status == 400); }
}

TEST_CASE("precondition headers must be quoted integers or a star") {
  request req;
  req.headers = {{"if-match", "\"123\""}, {"if-none-match", "*"}};
  auto ok = parse_preconditions(req, nullptr);
  REQUIRE(std::holds_alternative<actors::preconditions>(ok));
  CHECK(std::get<actors::preconditions>(ok).if_match == 123u);
  CHECK(std::get<actors::preconditions>(ok).if_none_match_any);
  for (const char* bad : {"123", "W/\"1\"", "\"1\", \"2\"", "\"abc\"", "\"\""}) {
    req.headers = {{"if-match", bad}};
    auto r = parse_preconditions(req, nullptr);
    REQUIRE(std::holds_alternative<error>(r));
    CHECK(*std::get<error>(r).message == "If-Match in header: The value should be integer between double quotes.");
  }
}

TEST_CASE("media types parse case-insensitively with their parameters") {
  auto m = parse_media_type("Application/JSON; Charset=UTF-8");
  REQUIRE(m);
  CHECK(m->type == "application");
  CHECK(m->subtype == "json");
  CHECK(m->is("application/json"));
  CHECK_FALSE(m->is("application/jsonx"));
  CHECK_FALSE(m->is("application/js"));
  CHECK(m->parameter("charset") == "UTF-8");
  CHECK_FALSE(m->parameter("q"));

  auto patch = parse_media_type(" APPLICATION/Merge-Patch+JSON ");
  REQUIRE(patch);
  CHECK(patch->is("application/merge-patch+json"));
  CHECK_FALSE(patch->is("application/json"));

  SECTION("quoted values, whitespace and empty parameters") {
    auto q = parse_media_type(R"(text/plain ;; a="x;y\"z" ;B = c;)");
    REQUIRE(q);
    REQUIRE(q->parameters.size() == 2);
    CHECK(q->parameter("a") == "x;y\"z");
    CHECK(q->parameter("b") == "c");
  }
  SECTION("ranges of Accept") {
    auto any = parse_media_type("*/*;q=0");
    REQUIRE(any);
    CHECK(any->is("*/*"));
    CHECK(any->parameter("q") == "0");
  }
  SECTION("a malformed parameter ends the parameters, not the media type") {
    for (std::string_view odd : {"application/json; charset", "application/json; =utf-8", "application/json; charset=",
                                 "application/json; a=\"open", "application/json; a=b c; d=e"}) {
      INFO(odd);
      auto parsed = parse_media_type(odd);
      REQUIRE(parsed);
      CHECK(parsed->is("application/json"));
      CHECK_FALSE(parsed->parameter("charset"));
      CHECK_FALSE(parsed->parameter("d"));
    }
  }
  SECTION("what is not a media type") {
    for (std::string_view bad : {"", " ", "json", "application", "application/", "/json", "application /json",
                                 "application/ json", "application/json x", "application/json, text/plain", "\xff/\xfe"}) {
      INFO(bad);
      CHECK_FALSE(parse_media_type(bad));
    }
  }
}

TEST_CASE("Basic credentials split at the first colon and need a user") {
  std::string user, password;
  CHECK(parse_basic("Basic " + crypto::base64_encode("mat:se:cret"), user, password));
  CHECK(user == "mat");
  CHECK(password == "se:cret");
  CHECK_FALSE(parse_basic("Basic " + crypto::base64_encode(":secret"), user, password));
  CHECK_FALSE(parse_basic("Bearer abc", user, password));
  CHECK_FALSE(parse_basic("Basic !!!", user, password));
}

// ---- requests through the application -----------------------------------------

namespace {

struct app_fixture {
  test::temp_dir dir;
  std::unique_ptr<storage::engine> store;
  std::unique_ptr<actors::write_service> writes;
  std::unique_ptr<app> application;
  handler handle;

  explicit app_fixture(std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::string error;
    store = storage::open_lmdb({dir.path(), std::size_t(1) << 28, 64}, error);
    REQUIRE(store);
    settings s;
    s.set("includes", "kinto.plugins.accounts");
    s.set("multiauth.policies", "account basicauth");
    s.set("bcrypt_cost", "4");
    for (auto& [k, v] : extra) s.set(k, v);
    config cfg;
    REQUIRE_FALSE(load_config(s, cfg));
    actors::write_service_options options;
    options.history = cfg.history;
    writes = std::make_unique<actors::write_service>(*store, options);
    application = std::make_unique<app>(std::move(cfg), *store, *writes);
    handle = make_handler(*application);
  }
  ~app_fixture() {
    handle = nullptr;
    application.reset();
    writes->shutdown();
  }
  response call(std::string method, std::string target, std::string body = {},
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.host = "localhost:8888";
    req.headers = std::move(headers);
    std::promise<response> done;
    auto result = done.get_future();
    handle(std::move(req), [&done](response r) { done.set_value(std::move(r)); });
    return result.get();
  }
};

json::value json_of(const response& r) {
  std::string err;
  auto v = json::parse(r.body, err);
  REQUIRE(v);
  return *v;
}

const std::pair<std::string, std::string> alice{"authorization", "Basic " + crypto::base64_encode("alice:secret")};

} // namespace

TEST_CASE("routing answers redirects, unknown paths and methods as upstream") {
  app_fixture f;
  auto redirect = f.call("GET", "/buckets?x=1");
  CHECK(redirect.status == 307);
  CHECK(*redirect.get("Location") == "http://localhost:8888/v1/buckets?x=1");
  CHECK(*f.call("GET", "/v1").get("Location") == "http://localhost:8888/v1/");
  auto slash = f.call("GET", "/v1/buckets/");
  CHECK(slash.status == 307);
  CHECK(*slash.get("Location") == "http://localhost:8888/v1/buckets");
  CHECK(*slash.get("Cache-Control") == "max-age=3600");
  CHECK(json_of(f.call("GET", "/v2/buckets")).find("errno")->as_int64() == 116);
  CHECK(json_of(f.call("GET", "/v1/unknown")).find("errno")->as_int64() == 111);
  auto not_allowed = f.call("PATCH", "/v1/buckets");
  CHECK(not_allowed.status == 405);
  CHECK(not_allowed.get("Allow")->find("PATCH") == std::string_view::npos);
  CHECK(f.call("GET", "/v1/%ff").status == 400);
}

TEST_CASE("every response carries the security headers") {
  app_fixture f;
  for (auto target : {"/v1/", "/v1/unknown", "/v1/__lbheartbeat__"}) {
    auto r = f.call("GET", target);
    CHECK(*r.get("X-Content-Type-Options") == "nosniff");
    CHECK(r.get("Content-Security-Policy"));
  }
}

TEST_CASE("a record goes in and comes out with its ETag") {
  app_fixture f;
  const std::pair<std::string, std::string> json_type{"content-type", "application/json"};
  REQUIRE(f.call("PUT", "/v1/buckets/b", "", {alice}).status == 201);
  REQUIRE(f.call("PUT", "/v1/buckets/b/collections/c", "", {alice}).status == 201);
  auto created = f.call("PUT", "/v1/buckets/b/collections/c/records/r", R"({"data":{"n":36893488147419103232}})", {alice, json_type});
  REQUIRE(created.status == 201);
  auto body = json_of(created);
  const auto ts = *body.find("data")->find("last_modified")->as_int64();
  CHECK(*created.get("ETag") == "\"" + std::to_string(ts) + "\"");
  auto got = f.call("GET", "/v1/buckets/b/collections/c/records/r", "", {alice});
  CHECK(got.status == 200);
  CHECK(got.body.find("36893488147419103232") != std::string::npos);
  auto not_modified = f.call("GET", "/v1/buckets/b/collections/c/records/r", "", {alice, {"if-none-match", "\"" + std::to_string(ts) + "\""}});
  CHECK(not_modified.status == 304);
  CHECK(not_modified.body.empty());
}

TEST_CASE("the hello view shows the user only when authenticated") {
  app_fixture f;
  CHECK_FALSE(json_of(f.call("GET", "/v1/")).find("user"));
  auto hello = json_of(f.call("GET", "/v1/", "", {{"authorization", "Basic " + crypto::base64_encode("mat:secret")}}));
  CHECK(hello.find("user")->find("id")->as_string() ==
        "basicauth:8a931a10fc88ab2f6d1cc02a07d3a81b5d4768f6f13e85c5d8d4180419acb1b4");
}

TEST_CASE("read-only mode refuses writes before routing") {
  app_fixture f(std::vector<std::pair<std::string, std::string>>{{"readonly", "true"}});
  auto r = f.call("PUT", "/v1/buckets/b", "", {alice});
  CHECK(r.status == 405);
  CHECK(json_of(r).find("errno")->as_int64() == 115);
  CHECK(f.call("POST", "/v1/nowhere", "", {alice}).status == 405);
}

TEST_CASE("load_config reads policies by their exact upstream names") {
  auto policies_for = [](const std::string& account_use) {
    kinto::settings s;
    s.set("includes", "kinto.plugins.accounts");
    s.set("multiauth.policies", "account basicauth");
    s.set("multiauth.policy.account.use", account_use);
    s.set("multiauth.policy.basicauth.use", "kinto.core.authentication.BasicAuthAuthenticationPolicy");
    kinto::setting_reader reader(s);
    config cfg;
    (void)load_config(reader, cfg);
    return std::make_pair(cfg.policies, reader.warnings());
  };
  using names = std::vector<std::string>;
  for (const char* use : {"kinto.plugins.accounts.AccountsPolicy",
                          "kinto.plugins.accounts.authentication.AccountsAuthenticationPolicy",
                          "kinto.plugins.accounts.authentication:AccountsAuthenticationPolicy"}) {
    INFO(use);
    auto [policies, warnings] = policies_for(use);
    CHECK(policies == names{"account", "basicauth"});
    CHECK(warnings.empty());
  }
  auto [policies, warnings] = policies_for("kinto.plugins.accounts.AccountsPolicyTwo");
  CHECK(policies == names{"basicauth"});
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("AccountsPolicyTwo") != std::string::npos);
}

TEST_CASE("load_config: the flush plugin alone enables the endpoint, the switch can still turn it off") {
  auto flush_for = [](std::optional<std::string> includes, std::optional<std::string> enabled) {
    kinto::settings s;
    if (includes) s.set("includes", *includes);
    if (enabled) s.set("flush_endpoint_enabled", *enabled);
    config cfg;
    CHECK_FALSE(load_config(s, cfg));
    return cfg.flush_endpoint;
  };
  CHECK(flush_for("kinto.plugins.flush", std::nullopt));
  CHECK(flush_for("kinto.plugins.flush", "true"));
  CHECK_FALSE(flush_for("kinto.plugins.flush", "false"));
  CHECK_FALSE(flush_for(std::nullopt, "true"));
}

TEST_CASE("load_config names every setting it cannot use") {
  kinto::settings s;
  s.set("flush_endpoint_enabled", "maybe");
  s.set("history.auto_trim_max_count", "abc");
  s.set("backoff_percentage", "-1");
  s.set("plural_bucket_post_enabled", "no way");
  s.set("eos", "soon");
  kinto::setting_reader reader(s);
  config cfg;
  CHECK(load_config(reader, cfg));
  std::string all;
  for (const auto& p : reader.problems()) all += p + "\n";
  INFO(all);
  CHECK(reader.problems().size() == 5);
  for (const char* name : {"flush_endpoint_enabled", "history.auto_trim_max_count", "backoff_percentage",
                           "plural_bucket_post_enabled", "eos"})
    CHECK(all.find(std::string("setting ") + name + " = ") != std::string::npos);
}

TEST_CASE("load_config turns endpoint methods off by their upstream switch names") {
  kinto::settings s;
  s.set("plural_bucket_post_enabled", "false");
  s.set("object_record_delete_enabled", "false");
  s.set("object_group_put_enabled", "true");
  config cfg;
  REQUIRE_FALSE(load_config(s, cfg));
  CHECK(cfg.disabled_methods == std::set<std::string, std::less<>>{"plural_bucket POST", "object_record DELETE"});
}

TEST_CASE("a history purge right after two writes removes and returns both entries") {
  app_fixture f(std::vector<std::pair<std::string, std::string>>{{"includes", "kinto.plugins.accounts kinto.plugins.history"}});
  // Several rounds: the purge used to lose one of two entries whenever both
  // removals were planned within the same millisecond.
  for (int round = 0; round < 5; ++round) {
    INFO("round " << round);
    const std::string bucket = "/v1/buckets/b" + std::to_string(round);
    REQUIRE(f.call("PUT", bucket, "", {alice}).status == 201);
    REQUIRE(f.call("PUT", bucket + "/collections/c", "", {alice}).status == 201);
    auto purged = f.call("DELETE", bucket + "/history", "", {alice});
    REQUIRE(purged.status == 200);
    const json::value body = json_of(purged);
    const auto& entries = body.find("data")->as_array();
    REQUIRE(entries.size() == 2);
    for (const auto& e : entries) CHECK(e.find("deleted")->as_bool());
    auto left = f.call("GET", bucket + "/history", "", {alice});
    REQUIRE(left.status == 200);
    CHECK(json_of(left).find("data")->as_array().empty());
    // The purge's timestamp is the history's new one.
    CHECK(*purged.get("ETag") == *left.get("ETag"));
  }
}

TEST_CASE("every check of a media type ignores its case") {
  app_fixture f;
  const std::pair<std::string, std::string> mixed{"content-type", "Application/JSON; Charset=UTF-8"};
  REQUIRE(f.call("PUT", "/v1/buckets/b", "", {alice}).status == 201);
  REQUIRE(f.call("PUT", "/v1/buckets/b/collections/c", "", {alice}).status == 201);
  const std::string record = "/v1/buckets/b/collections/c/records/r";
  REQUIRE(f.call("PUT", record, R"({"data":{"f":1,"g":2}})", {alice, mixed}).status == 201);
  SECTION("Accept") {
    CHECK(f.call("GET", record, "", {alice, {"accept", "Application/JSON"}}).status == 200);
    CHECK(f.call("GET", record, "", {alice, {"accept", "TEXT/html, Application/*;Q=0.5"}}).status == 200);
    CHECK(f.call("GET", record, "", {alice, {"accept", "application/JSON;q=0"}}).status == 406);
  }
  SECTION("merge-patch") {
    auto r = f.call("PATCH", record, R"({"data":{"f":null}})", {alice, {"content-type", "Application/Merge-Patch+Json"}});
    REQUIRE(r.status == 200);
    CHECK_FALSE(json_of(r).find("data")->find("f"));
  }
  SECTION("JSON-Patch") {
    auto r = f.call("PATCH", record, R"([{"op":"remove","path":"/data/g"}])", {alice, {"content-type", "Application/JSON-Patch+JSON"}});
    REQUIRE(r.status == 200);
    CHECK_FALSE(json_of(r).find("data")->find("g"));
  }
  SECTION("batch") {
    auto r = f.call("POST", "/v1/batch", R"({"requests":[{"path":"/buckets/b"}]})", {alice, mixed});
    CHECK(r.status == 200);
  }
  SECTION("malformed types are refused") {
    CHECK(f.call("PUT", record, R"({"data":{}})", {alice, {"content-type", "application/json x"}}).status == 415);
    CHECK(f.call("PUT", record, R"({"data":{}})", {alice, {"content-type", "application/json; charset"}}).status / 100 == 2);
    CHECK(f.call("POST", "/v1/batch", R"({"requests":[]})", {alice, {"content-type", "Application/JSONx"}}).status == 415);
  }
}

TEST_CASE("each row of the route table names the handler that serves it") {
  config cfg;
  cfg.history.enabled = cfg.accounts = cfg.flush_endpoint = cfg.permissions_endpoint = true;
  for (const auto& spec : route_table()) {
    INFO(spec.pattern);
    CHECK(spec.handle != nullptr);
  }
  struct expected {
    std::string_view path;
    endpoint_handler handle;
    endpoint ep;
    std::string_view id;
  };
  for (const auto& e : std::vector<expected>{
           {"/", handle_hello, endpoint::service, ""},
           {"/batch", handle_batch, endpoint::service, ""},
           {"/__user_data__/account:alice", handle_user_data, endpoint::service, "account:alice"},
           {"/buckets/b/snapshot/collections/c@12", handle_history_snapshot, endpoint::service, "c@12"},
           {"/buckets", handle_plural, endpoint::plural, ""},
           {"/buckets/b/collections/c/records/r", handle_object, endpoint::object, "r"},
           {"/permissions", handle_permissions, endpoint::permissions, ""},
       }) {
    INFO(e.path);
    auto r = match(cfg, e.path);
    REQUIRE(r);
    CHECK(r->handle == e.handle);
    CHECK(r->ep == e.ep);
    CHECK(r->id == e.id);
  }
  CHECK_FALSE(match(config{}, "/__flush__"));
}
