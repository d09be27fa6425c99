// Regression tests of inputs found by the fuzz targets (tests/fuzz), each at
// the lowest layer that shows the problem. The inputs themselves are also in
// the targets' seed corpora.
#include "http/body.hpp"
#include "base/json.hpp"
#include "base/json_patch.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <variant>

using namespace kinto;

namespace {

json::value parse(const std::string& text) {
  std::string error;
  auto v = json::parse(text, error);
  INFO(error);
  REQUIRE(v);
  return *v;
}

/// `count` JSON-Patch operations copying /a into a new member of itself:
/// each one doubles /a.
std::string doubling_copies(int count) {
  std::string ops = "[";
  for (int i = 0; i < count; ++i)
    ops += std::string(i ? "," : "") + R"({"op":"copy","from":"/a","path":"/a/x)" + std::to_string(i) + "\"}";
  return ops + "]";
}

/// `depth` nested objects {"n":{"n":...{}}}.
std::string nested_objects(int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += R"({"n":)";
  text += "{}";
  text.append(static_cast<std::size_t>(depth), '}');
  return text;
}

} // namespace

// fuzz_json (corpus: json-patch-doubling-copies): 40 copies of a 50-byte
// document asked for 2^40 of them; the allocation never ended.
TEST_CASE("a JSON-Patch of doubling copies fails instead of exhausting memory", "[fuzz]") {
  json::value doc = parse(R"({"a":{"k":"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"}})");
  const json::value before = doc;
  auto failure = json::apply_json_patch(doc, parse(doubling_copies(40)));
  REQUIRE(failure);
  CHECK(*failure == "the patched document would be too large or too deeply nested");
  CHECK(doc == before);
  SECTION("a few copies are still fine") {
    REQUIRE_FALSE(json::apply_json_patch(doc, parse(doubling_copies(8))));
    CHECK(doc.find("a")->as_object().size() == 9);
  }
}

// fuzz_json: paths through a document let a patch nest it deeper than any
// request body may be, and deep enough for recursive copies, comparisons
// and serialization to overflow the stack.
TEST_CASE("a JSON-Patch cannot nest a document deeper than a request body", "[fuzz]") {
  // As deep as a body may be (512 levels); /a holds all but one of them.
  constexpr int levels = static_cast<int>(json::default_max_depth) - 2;
  json::value doc = parse(R"({"a":)" + nested_objects(levels) + "}");
  const json::value before = doc;
  std::string innermost = "/a";
  for (int i = 0; i < levels; ++i) innermost += "/n";
  SECTION("a value added deep down") {
    CHECK(json::apply_json_patch(doc, parse(R"([{"op":"add","path":")" + innermost + R"(","value":{"x":{}}}])")));
    CHECK(doc == before);
    CHECK_FALSE(json::apply_json_patch(doc, parse(R"([{"op":"add","path":")" + innermost + R"(","value":{"x":1}}])")));
  }
  SECTION("the document copied into its own depths") {
    CHECK(json::apply_json_patch(doc, parse(R"([{"op":"copy","from":"/a","path":")" + innermost + "\"}]")));
    CHECK(doc == before);
  }
  SECTION("a subtree moved down") {
    CHECK(json::apply_json_patch(doc, parse(R"([{"op":"add","path":"/b","value":{}},)"
                                            R"({"op":"move","from":"/a","path":"/b/c"}])")));
    CHECK(doc == before);
    CHECK_FALSE(json::apply_json_patch(doc, parse(R"([{"op":"add","path":"/b","value":{}},)"
                                                  R"({"op":"move","from":"/a/n","path":"/b/c"}])")));
  }
}

// fuzz_http_request (corpus: x-patch-grant-without-value): a permission
// grant without "value" got the principal as its value through a reference
// to the path, read again after adding the value had moved the operation's
// members (heap use after free).
TEST_CASE("JSON-Patch grants without a value get the principal as value", "[fuzz]") {
  auto parsed = http::parse_json_patch(R"([{"op":"add","path":"/permissions/read/bob"},)"
                                       R"({"op":"add","path":"/permissions/write/system.Everyone"}])");
  REQUIRE(std::holds_alternative<json::value>(parsed));
  const auto& ops = std::get<json::value>(parsed).as_array();
  REQUIRE(ops.size() == 2);
  CHECK(ops[0].find("value")->as_string() == "bob");
  CHECK(ops[1].find("value")->as_string() == "system.Everyone");
  CHECK(ops[0].find("path")->as_string() == "/permissions/read/bob");
}
