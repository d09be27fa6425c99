// Unit tests of how deep JSON may nest: documents as deep as the parser
// accepts go through every recursive operation kintod runs on them within a
// quarter of the stack its threads get (json::thread_stack_bytes). A
// recursion that grew past it would crash the test on its thread's guard
// page (or be reported by AddressSanitizer).
#include "base/json.hpp"
#include "base/json_patch.hpp"
#include "base/json_schema.hpp"
#include "schema/query.hpp"

#include <catch2/catch.hpp>

#include <pthread.h>

#include <functional>
#include <string>

using kinto::json::value;
namespace json = kinto::json;

namespace {

/// Runs `work` on a new thread with `stack_bytes` of stack, and waits.
void on_stack_of(std::size_t stack_bytes, std::function<void()> work) {
  pthread_attr_t attr;
  REQUIRE(pthread_attr_init(&attr) == 0);
  REQUIRE(pthread_attr_setstacksize(&attr, stack_bytes) == 0);
  pthread_t thread;
  auto run = [](void* arg) -> void* {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  };
  REQUIRE(pthread_create(&thread, &attr, run, &work) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

/// `depth` containers, alternately objects and arrays: {"a":[{"a":[...1]}]}.
std::string nested(std::size_t depth) {
  std::string open, close;
  for (std::size_t i = 0; i < depth; ++i) {
    open += i % 2 == 0 ? R"({"a":)" : "[";
    close.insert(0, i % 2 == 0 ? "}" : "]");
  }
  return open + "1" + close;
}

value parsed(const std::string& text) {
  std::string error;
  auto v = json::parse(text, error);
  if (!v) throw std::runtime_error(error);
  return std::move(*v);
}

/// {"type": "object", "properties": {"a": {"type": "array", "items": ...}}},
/// describing nested(depth) level by level.
std::string schema_of(std::size_t depth) {
  std::string open, close;
  for (std::size_t i = 0; i < depth; ++i) {
    open += i % 2 == 0 ? R"({"type": "object", "properties": {"a": )" : R"({"type": "array", "items": )";
    close.insert(0, i % 2 == 0 ? "}}" : "}");
  }
  return open + R"({"type": "integer"})" + close;
}

} // namespace

TEST_CASE("JSON as deep as the parser accepts goes through every recursive operation in a quarter of a thread's stack",
          "[json][depth]") {
  const std::size_t stack = json::thread_stack_bytes / 4;
  const std::string text = nested(json::max_depth);
  bool done = false;
  on_stack_of(stack, [&] {
    const value v = parsed(text);
    value copy = v;
    CHECK(copy == v);
    CHECK(json::serialize(copy) == text);
    CHECK(kinto::query::compare(&copy, &v) == 0);
    json::merge_patch(copy, v);
    CHECK(copy == v);
    // The patched document is {"data": ...}: a level less for the value.
    value doc = json::value::object();
    value ops = parsed(R"([{"op": "add", "path": "/data", "value": )" + nested(json::default_max_depth - 1) +
                       R"(}, {"op": "copy", "from": "/data", "path": "/copy"}, {"op": "test", "path": "/copy", "value": )" +
                       nested(json::default_max_depth - 1) + "}]");
    CHECK_FALSE(json::apply_json_patch(doc, ops));
    value* data = doc.find("data");
    REQUIRE(data);
    CHECK(*data == *doc.find("copy"));
    done = true;
  });
  CHECK(done);
}

TEST_CASE("JSON schemas as deep as a body may be, and recursive ones at their bound, validate in a quarter of a "
          "thread's stack",
          "[json][depth]") {
  const std::size_t stack = json::thread_stack_bytes / 4;
  bool done = false;
  on_stack_of(stack, [&] {
    // A schema document nested as deep as a body's `data` may be (the body
    // is {"data": {"schema": ...}}): checked against the meta-schema,
    // compiled, then describing a document as deep.
    const std::size_t levels = (json::default_max_depth - 3) / 3 * 2;
    std::string error;
    auto deep = kinto::json_schema::compiled::compile(parsed(schema_of(levels)), error);
    INFO(error);
    REQUIRE(deep);
    CHECK_FALSE(deep->validate(parsed(nested(levels))));
    auto refused = deep->validate(parsed(nested(levels - 1)));
    REQUIRE(refused);
    CHECK(refused->description == "1 is not of type 'array'");
    // A schema referring to itself with the longest chain of in-place steps
    // allowed (20: a -> root -> anyOf -> d0 -> allOf -> d1 ... -> d8),
    // repeated at every level of a document as deep as the parser accepts.
    std::string defs;
    for (int i = 0; i < 8; ++i)
      defs += "\"d" + std::to_string(i) + "\": {\"allOf\": [{\"$ref\": \"#/definitions/d" + std::to_string(i + 1) + "\"}]},";
    defs += R"("d8": {"type": ["object", "array"], "properties": {"a": {"$ref": "#"}}, "items": {"$ref": "#"}})";
    auto recursive = kinto::json_schema::compiled::compile(parsed("{\"definitions\": {" + defs + "}, \"anyOf\": [{\"type\": \"integer\"}, {\"$ref\": \"#/definitions/d0\"}]}"), error);
    INFO(error);
    REQUIRE(recursive);
    CHECK_FALSE(recursive->validate(parsed(nested(json::max_depth))));
    done = true;
  });
  CHECK(done);
}
