// libFuzzer target: whole HTTP requests through the application, in-process
// and without sockets: routing, authentication (Basic credentials against
// accounts and basicauth), the permission actor, the resource handlers and
// the write path down to LMDB, with the accounts, default_bucket and history
// plugins, schema validation and the permissions endpoint enabled.
//
// The input is a request as sent on the wire, read leniently:
//
//     METHOD TARGET [HTTP/1.1]
//     Name: value
//     ...
//     <empty line>
//     body (everything that follows; Content-Length is not needed)
//
// Lines end with "\n" or "\r\n". One application serves every input, so
// state persists across inputs (objects created by one input are seen by the
// next); the LMDB map is kept small, so once full, writes get 507.
// Besides crashes it checks that each request is answered exactly once,
// within a deadline, with a plausible status and, for JSON, a body that parses.
#include "fuzz_support.hpp"
#include "actors/write_service.hpp"
#include "http/app.hpp"
#include "base/crypto.hpp"
#include "base/json.hpp"
#include "storage/lmdb_engine.hpp"

#include <chrono>
#include <cctype>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

namespace {

using namespace kinto;
using kinto::fuzz::require;

/// The one application and what it runs on. Never destroyed: libFuzzer
/// ends the process with exit(), and the actor runtime must not be torn
/// down under threads that may still run.
struct fixture {
  std::unique_ptr<storage::engine> store;
  std::unique_ptr<actors::write_service> writes;
  std::unique_ptr<http::app> application;
  http::handler handler;
};
fixture* instance = nullptr;

/// A request is answered well within this, or the target reports a hang.
constexpr auto answer_deadline = std::chrono::seconds(30);

/// Runs one request and waits for its answer, which may come from an actor
/// or pool thread. A second answer to the same request aborts.
http::response call(http::request req) {
  struct state {
    std::mutex mutex;
    std::condition_variable done;
    int answers = 0;
    http::response res;
  };
  auto s = std::make_shared<state>();
  // The handler runs its synchronous part on a thread of its own, with the
  // stack kintod's I/O threads have.
  fuzz::on_kintod_stack([&] {
    instance->handler(std::move(req), [s](http::response res) {
      std::lock_guard lock(s->mutex);
      require(++s->answers == 1, "a request is answered exactly once");
      s->res = std::move(res);
      s->done.notify_all();
    });
  });
  std::unique_lock lock(s->mutex);
  require(s->done.wait_for(lock, answer_deadline, [&] { return s->answers > 0; }), "a request is answered in time");
  return std::move(s->res);
}

http::request make_request(std::string method, std::string target, std::string body = {},
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::request req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.body = std::move(body);
  req.headers = std::move(headers);
  req.host = "localhost:8888";
  return req;
}

std::pair<std::string, std::string> basic(std::string_view user, std::string_view password) {
  return {"authorization", "Basic " + crypto::base64_encode(std::string(user) + ":" + std::string(password))};
}

/// A few objects for the inputs to find: accounts (one administrator), a
/// readable bucket with a collection, records, a group and a collection with
/// a JSON schema, and a record in alice's default bucket.
void create_objects() {
  const std::pair<std::string, std::string> json{"content-type", "application/json"};
  const auto alice = basic("alice", "secret");
  struct step {
    const char* method;
    const char* target;
    const char* body;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  const std::vector<step> steps{
      {"PUT", "/v1/accounts/admin", R"({"data":{"password":"s3cret"}})", {json}},
      {"PUT", "/v1/accounts/alice", R"({"data":{"password":"secret"}})", {json}},
      {"PUT", "/v1/buckets/b", R"({"permissions":{"read":["system.Everyone"]}})", {alice, json}},
      {"PUT", "/v1/buckets/b/collections/c", "", {alice}},
      {"PUT",
       "/v1/buckets/b/collections/c/records/r1",
       R"({"data":{"title":"dog","age":3,"tags":["x"]}})",
       {alice, json}},
      {"PUT",
       "/v1/buckets/b/collections/c/records/r2",
       R"({"data":{"title":"Cat","age":9,"nested":{"k":[1,{"x":null}]}},"permissions":{"write":["basicauth:x"]}})",
       {alice, json}},
      {"PUT",
       "/v1/buckets/b/groups/g",
       R"({"data":{"members":["account:admin","system.Authenticated"]}})",
       {alice, json}},
      {"PUT",
       "/v1/buckets/b/collections/strict",
       R"({"data":{"schema":{"type":"object","properties":{"title":{"type":"string","maxLength":8}},)"
       R"("required":["title"]}}})",
       {alice, json}},
      {"PUT", "/v1/buckets/b/collections/strict/records/ok", R"({"data":{"title":"ok"}})", {alice, json}},
      {"POST", "/v1/buckets/default/collections/notes/records", R"({"data":{"text":"hi"}})", {alice, json}},
  };
  for (const auto& s : steps) {
    const auto res = call(make_request(s.method, s.target, s.body, s.headers));
    if (res.status >= 300) {
      std::fprintf(stderr, "fuzz_http_request: set-up %s %s answered %d: %s\n", s.method, s.target, res.status,
                   res.body.c_str());
      std::abort();
    }
  }
}

/// Reads the input as a request (see the file comment).
http::request parse_request(std::string_view input) {
  http::request req;
  req.host = "localhost:8888";
  auto next_line = [&input]() {
    const std::size_t eol = input.find('\n');
    std::string_view line = input.substr(0, eol);
    input = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  std::string_view line = next_line();
  const std::size_t space = line.find(' ');
  req.method = std::string(line.substr(0, space));
  std::string_view target = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  if (const std::size_t version = target.rfind(" HTTP/"); version != std::string_view::npos)
    target = target.substr(0, version);
  req.target = std::string(target);
  while (!input.empty()) {
    line = next_line();
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "host") req.host = std::string(value);
    req.headers.emplace_back(std::move(name), std::string(value));
  }
  req.body = std::string(input);
  return req;
}

/// The decoded path of a target, or "" when it does not decode.
std::string decoded_path(std::string_view target) {
  std::string path;
  if (!fuzz::percent_decode(target.substr(0, target.find('?')), path, false)) return {};
  return path;
}

void check_response(std::string_view target, const http::response& res) {
  require(res.status >= 200 && res.status <= 599, "a response has a final status");
  // Only /__version__ without a version.json is an internal error.
  require(res.status != 500 || decoded_path(target) == "/v1/__version__", "no internal error");
  require(res.get("X-Content-Type-Options").has_value(), "every response has the security headers");
  const auto type = res.get("Content-Type");
  if (type && type->starts_with("application/json") && !res.body.empty()) {
    std::string error;
    require(json::parse(res.body, error, 1000).has_value(), "a JSON response body parses");
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Before the actors start: their threads get kintod's stack size.
  fuzz::give_threads_kintod_stacks();
  // The data live in a fresh directory under /dev/shm when available (no
  // disk I/O for the fsync of every commit), removed as soon as LMDB has
  // its files open: nothing is left behind however the process ends.
  const std::filesystem::path base =
      std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  std::string dir = (base / "kintod-fuzz-XXXXXX").string();
  require(::mkdtemp(dir.data()) != nullptr, "a temporary directory can be made");

  settings s;
  s.set("includes", "kinto.plugins.accounts kinto.plugins.default_bucket kinto.plugins.history");
  s.set("multiauth.policies", "account basicauth");
  s.set("account_create_principals", "system.Everyone");
  s.set("account_write_principals", "account:admin");
  s.set("bcrypt_cost", "4");
  s.set("userid_hmac_secret", "8f1e0c7f4d2b4a6f9d3e1c5b7a9f0e2d");
  s.set("experimental_collection_schema_validation", "true");
  s.set("experimental_permissions_endpoint", "true");
  s.set("user-data_delete_principals", "account:admin");
  s.set("history.auto_trim_max_count", "20");
  s.set("history.auto_trim_threshold", "10");
  s.set("version_json_path", dir + "/absent-version.json");
  http::config cfg;
  if (auto why = http::load_config(s, cfg)) {
    std::fprintf(stderr, "fuzz_http_request: settings refused: %s\n", why->c_str());
    std::abort();
  }

  instance = new fixture;
  std::string error;
  // 256 MiB: plenty for the fuzzer's writes without growing its memory for long.
  instance->store = storage::open_lmdb({dir, std::size_t(1) << 28, 126}, error);
  require(instance->store != nullptr, "the store opens");
  std::filesystem::remove_all(dir);

  actors::write_service_options options;
  options.worker_threads = 2;
  options.history = cfg.history;
  instance->writes = std::make_unique<actors::write_service>(*instance->store, options);
  instance->application = std::make_unique<http::app>(std::move(cfg), *instance->store, *instance->writes);
  instance->handler = http::make_handler(*instance->application);
  create_objects();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request req = parse_request(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string target = req.target;
  check_response(target, call(std::move(req)));
  return 0;
}
