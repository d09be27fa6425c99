// Unit tests of RFC 7396 merge-patch and RFC 6902 JSON-Patch.
// Depends only on base/json_patch.hpp, base/json.hpp and Catch2.
#include "base/json_patch.hpp"

#include <catch2/catch.hpp>

#include <string>

using kinto::json::value;

namespace {

value js(std::string_view text) {
  std::string error;
  auto v = kinto::json::parse(text, error);
  INFO("input: " << text << " error: " << error);
  REQUIRE(v);
  return std::move(*v);
}

std::string merged(std::string_view target, std::string_view patch) {
  value doc = js(target);
  kinto::json::merge_patch(doc, js(patch));
  return kinto::json::serialize(doc);
}

/// Applies `patch` to `doc` and returns the result, or "error: ..." text.
std::string patched(std::string_view doc, std::string_view patch) {
  value v = js(doc);
  if (auto err = kinto::json::apply_json_patch(v, js(patch))) return "error: " + *err;
  return kinto::json::serialize(v);
}

bool fails(std::string_view doc, std::string_view patch) {
  value v = js(doc);
  const value before = v;
  auto err = kinto::json::apply_json_patch(v, js(patch));
  // A failed patch must leave the document exactly as it was.
  CHECK(kinto::json::serialize(v) == kinto::json::serialize(before));
  return err.has_value() && !err->empty();
}

} // namespace

TEST_CASE("merge patch removes members set to null at any depth", "[json_patch]") {
  CHECK(merged(R"({"a":1,"b":2})", R"({"a":null})") == R"({"b":2})");
  CHECK(merged(R"({"a":{"b":1,"c":2}})", R"({"a":{"b":null}})") == R"({"a":{"c":2}})");
  CHECK(merged(R"({"a":1})", R"({"missing":null})") == R"({"a":1})");
}

TEST_CASE("merge patch merges objects recursively and keeps member order", "[json_patch]") {
  CHECK(merged(R"({"a":{"x":1},"b":2})", R"({"a":{"y":2},"c":3})") ==
        R"({"a":{"x":1,"y":2},"b":2,"c":3})");
  CHECK(merged(R"({"a":1,"b":2})", R"({"a":3})") == R"({"a":3,"b":2})");
}

TEST_CASE("merge patch replaces anything that is not an object", "[json_patch]") {
  SECTION("arrays replace arrays") { CHECK(merged(R"({"a":[1,2]})", R"({"a":[3]})") == R"({"a":[3]})"); }
  SECTION("a scalar patch replaces the document") { CHECK(merged(R"({"a":1})", "42") == "42"); }
  SECTION("an object patch turns a scalar target into an object") {
    CHECK(merged(R"({"a":"x"})", R"({"a":{"b":1,"c":null}})") == R"({"a":{"b":1}})");
    CHECK(merged("[1]", R"({"a":1})") == R"({"a":1})");
  }
  SECTION("new members drop nulls nested in the patch") {
    CHECK(merged("{}", R"({"a":{"b":null,"c":{"d":null}}})") == R"({"a":{"c":{}}})");
  }
}

TEST_CASE("merge patch follows the RFC 7396 examples", "[json_patch]") {
  auto [target, patch, result] = GENERATE(table<const char*, const char*, const char*>({
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", "null", "null"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  }));
  CHECK(merged(target, patch) == result);
}

TEST_CASE("merge patch of a document with itself keeps it", "[json_patch]") {
  value v = js(R"({"a":{"b":1},"c":[2]})");
  kinto::json::merge_patch(v, v);
  CHECK(kinto::json::serialize(v) == R"({"a":{"b":1},"c":[2]})");
}

TEST_CASE("add inserts into objects and arrays", "[json_patch]") {
  SECTION("new member") {
    CHECK(patched(R"({"a":1})", R"([{"op":"add","path":"/b","value":[2]}])") == R"({"a":1,"b":[2]})");
  }
  SECTION("existing member is replaced") {
    CHECK(patched(R"({"a":1})", R"([{"op":"add","path":"/a","value":2}])") == R"({"a":2})");
  }
  SECTION("array insert before an index") {
    CHECK(patched(R"({"l":[1,3]})", R"([{"op":"add","path":"/l/1","value":2}])") == R"({"l":[1,2,3]})");
  }
  SECTION("index equal to the size appends") {
    CHECK(patched(R"({"l":[1]})", R"([{"op":"add","path":"/l/1","value":2}])") == R"({"l":[1,2]})");
  }
  SECTION("dash appends") {
    CHECK(patched(R"({"l":[1]})", R"([{"op":"add","path":"/l/-","value":2}])") == R"({"l":[1,2]})");
  }
  SECTION("nested path") {
    CHECK(patched(R"({"a":{"b":[{}]}})", R"([{"op":"add","path":"/a/b/0/c","value":true}])") ==
          R"({"a":{"b":[{"c":true}]}})");
  }
  SECTION("empty token names the empty key") {
    CHECK(patched("{}", R"([{"op":"add","path":"/","value":1}])") == R"({"":1})");
  }
}

TEST_CASE("array indices must be canonical and in range", "[json_patch]") {
  const char* path = GENERATE("/l/01", "/l/3", "/l/-1", "/l/1e0", "/l/x", "/l/", "/l/+1",
                              "/l/99999999999999999999999");
  INFO("path: " << path);
  CHECK(fails(R"({"l":[1,2]})", std::string(R"([{"op":"add","path":")") + path + R"(","value":0}])"));
}

TEST_CASE("add fails when the parent does not exist", "[json_patch]") {
  CHECK(fails(R"({"a":1})", R"([{"op":"add","path":"/x/y","value":0}])"));
  CHECK(fails(R"({"a":1})", R"([{"op":"add","path":"/a/y","value":0}])"));
  CHECK(patched(R"({"a":1})", R"([{"op":"add","path":"/x/y","value":0}])") == "error: path '/x/y' not found");
}

TEST_CASE("remove deletes a member or an element", "[json_patch]") {
  SECTION("member") {
    CHECK(patched(R"({"a":1,"b":2})", R"([{"op":"remove","path":"/a"}])") == R"({"b":2})");
  }
  SECTION("element") {
    CHECK(patched(R"({"l":[1,2,3]})", R"([{"op":"remove","path":"/l/1"}])") == R"({"l":[1,3]})");
  }
  SECTION("missing target fails") {
    CHECK(fails(R"({"a":1})", R"([{"op":"remove","path":"/b"}])"));
    CHECK(fails(R"({"l":[1]})", R"([{"op":"remove","path":"/l/1"}])"));
    CHECK(fails(R"({"l":[1]})", R"([{"op":"remove","path":"/l/-"}])"));
  }
}

TEST_CASE("replace changes an existing value only", "[json_patch]") {
  CHECK(patched(R"({"a":{"b":1}})", R"([{"op":"replace","path":"/a","value":[]}])") == R"({"a":[]})");
  CHECK(patched(R"({"l":[1,2]})", R"([{"op":"replace","path":"/l/0","value":9}])") == R"({"l":[9,2]})");
  CHECK(fails(R"({"a":1})", R"([{"op":"replace","path":"/b","value":2}])"));
  CHECK(fails(R"({"l":[1]})", R"([{"op":"replace","path":"/l/-","value":2}])"));
}

TEST_CASE("move relocates a value", "[json_patch]") {
  SECTION("between members") {
    CHECK(patched(R"({"a":{"x":1},"b":{}})", R"([{"op":"move","from":"/a/x","path":"/b/y"}])") ==
          R"({"a":{},"b":{"y":1}})");
  }
  SECTION("within an array") {
    CHECK(patched(R"({"l":[1,2,3,4]})", R"([{"op":"move","from":"/l/1","path":"/l/3"}])") ==
          R"({"l":[1,3,4,2]})");
  }
  SECTION("to the same place is a no-op") {
    CHECK(patched(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/a"}])") == R"({"a":1})");
  }
  SECTION("a child may replace its parent") {
    CHECK(patched(R"({"a":{"b":[1]}})", R"([{"op":"move","from":"/a/b","path":"/a"}])") == R"({"a":[1]})");
  }
  SECTION("missing source fails") { CHECK(fails(R"({"a":1})", R"([{"op":"move","from":"/b","path":"/c"}])")); }
}

TEST_CASE("moving a value into its own child is an error", "[json_patch]") {
  CHECK(fails(R"({"a":{"b":{}}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])"));
  CHECK(fails(R"({"a":{"b":{}}})", R"([{"op":"move","from":"/a","path":"/a/b"}])"));
  // A sibling whose name extends the source's is not a child.
  CHECK(patched(R"({"a":1,"ab":{}})", R"([{"op":"move","from":"/a","path":"/ab/x"}])") == R"({"ab":{"x":1}})");
}

TEST_CASE("copy duplicates a value deeply", "[json_patch]") {
  SECTION("copies are independent") {
    CHECK(patched(R"({"a":{"x":[1]}})",
                  R"([{"op":"copy","from":"/a","path":"/b"},{"op":"add","path":"/b/x/-","value":2}])") ==
          R"({"a":{"x":[1]},"b":{"x":[1,2]}})");
  }
  SECTION("into an array") {
    CHECK(patched(R"({"l":[1,2]})", R"([{"op":"copy","from":"/l/1","path":"/l/0"}])") == R"({"l":[2,1,2]})");
  }
  SECTION("into its own child") {
    CHECK(patched(R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/a/c"}])") ==
          R"({"a":{"b":1,"c":{"b":1}}})");
  }
  SECTION("missing source fails") { CHECK(fails(R"({"a":1})", R"([{"op":"copy","from":"/b","path":"/c"}])")); }
}

TEST_CASE("test compares with deep equality", "[json_patch]") {
  SECTION("numbers by value") {
    CHECK(patched(R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])") == R"({"a":1})");
  }
  SECTION("objects ignore member order") {
    CHECK(patched(R"({"a":{"x":1,"y":[true]}})", R"([{"op":"test","path":"/a","value":{"y":[true],"x":1}}])") ==
          R"({"a":{"x":1,"y":[true]}})");
  }
  SECTION("a mismatch fails") {
    CHECK(patched(R"({"a":[1,2]})", R"([{"op":"test","path":"/a","value":[2,1]}])") == "error: test failed");
    CHECK(fails(R"({"a":"1"})", R"([{"op":"test","path":"/a","value":1}])"));
    CHECK(fails(R"({"a":null})", R"([{"op":"test","path":"/a","value":false}])"));
  }
  SECTION("a missing path fails") { CHECK(fails(R"({"a":1})", R"([{"op":"test","path":"/b","value":1}])")); }
  SECTION("null is a value to test") {
    CHECK(patched(R"({"a":null})", R"([{"op":"test","path":"/a","value":null}])") == R"({"a":null})");
  }
}

TEST_CASE("a failed patch leaves the document unchanged", "[json_patch]") {
  value doc = js(R"({"a":1,"l":[1,2]})");
  const value before = doc;
  auto err = kinto::json::apply_json_patch(
      doc, js(R"([{"op":"add","path":"/b","value":2},{"op":"remove","path":"/l/0"},
                  {"op":"test","path":"/a","value":5}])"));
  REQUIRE(err);
  CHECK(*err == "test failed");
  CHECK(kinto::json::serialize(doc) == kinto::json::serialize(before));
}

TEST_CASE("operations apply in order", "[json_patch]") {
  CHECK(patched(R"({})", R"([{"op":"add","path":"/a","value":[]},{"op":"add","path":"/a/-","value":1},
                            {"op":"add","path":"/a/0","value":0},{"op":"test","path":"/a","value":[0,1]}])") ==
        R"({"a":[0,1]})");
  CHECK(patched(R"({"a":1})", "[]") == R"({"a":1})");
}

TEST_CASE("malformed operations are rejected", "[json_patch]") {
  const char* patch = GENERATE(
      R"({"op":"add","path":"/a","value":1})",      // not an array
      R"([["add"]])",                               // operation not an object
      R"([{"op":"frobnicate","path":"/a"}])",       // unknown op
      R"([{"op":1,"path":"/a"}])",                  // op not a string
      R"([{"path":"/a","value":1}])",               // op missing
      R"([{"op":"add","value":1}])",                // path missing
      R"([{"op":"add","path":"a","value":1}])",     // path without leading slash
      R"([{"op":"add","path":"","value":1}])",      // whole-document pointer
      R"([{"op":"add","path":7,"value":1}])",       // path not a string
      R"([{"op":"add","path":"/a"}])",              // value missing
      R"([{"op":"replace","path":"/a"}])",          // value missing
      R"([{"op":"test","path":"/a"}])",             // value missing
      R"([{"op":"move","path":"/b"}])",             // from missing
      R"([{"op":"copy","path":"/b","from":3}])",    // from not a string
      R"([{"op":"copy","path":"/b","from":"a"}])",  // from without leading slash
      R"([{"op":"add","path":"/a","value":1,"x":0}])", // unknown member
      R"([{"op":"add","path":"/a~2","value":1}])",  // stray escape
      R"([{"op":"add","path":"/a~","value":1}])");  // stray escape at the end
  INFO("patch: " << patch);
  CHECK(fails(R"({"a":1})", patch));
}

TEST_CASE("members an operation does not use are accepted", "[json_patch]") {
  CHECK(patched(R"({"a":1})", R"([{"op":"remove","path":"/a","value":5,"from":"/x"}])") == "{}");
}

TEST_CASE("pointer tokens are unescaped", "[json_patch]") {
  SECTION("decoding") {
    CHECK(kinto::json::unescape_pointer_token("a~1b") == "a/b");
    CHECK(kinto::json::unescape_pointer_token("m~0n") == "m~n");
    CHECK(kinto::json::unescape_pointer_token("~01") == "~1");
    CHECK(kinto::json::unescape_pointer_token("plain") == "plain");
  }
  SECTION("paths address escaped keys") {
    CHECK(patched(R"({"a/b":1,"m~n":2})",
                  R"([{"op":"replace","path":"/a~1b","value":3},{"op":"remove","path":"/m~0n"}])") ==
          R"({"a/b":3})");
  }
}

TEST_CASE("JSON-Patch follows the RFC 6902 examples", "[json_patch]") {
  auto [doc, patch, result] = GENERATE(table<const char*, const char*, const char*>({
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])", R"({"foo":"bar","baz":"qux"})"},
      {R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])",
       R"({"foo":["bar","qux","baz"]})"},
      {R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
      {R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
      {R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])",
       R"({"baz":"boo","foo":"bar"})"},
      {R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {R"({"foo":["all","grass","cows","eat"]})", R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
       R"({"foo":["all","cows","eat","grass"]})"},
      {R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
       R"({"baz":"qux","foo":["a",2,"c"]})"},
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
       R"({"foo":["bar",["abc","def"]]})"},
      {R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])", R"({"/":9,"~1":10})"},
  }));
  CHECK(patched(doc, patch) == result);
}

TEST_CASE("JSON-Patch error cases from RFC 6902 fail", "[json_patch]") {
  CHECK(fails(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])"));
  CHECK(fails(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])"));
  CHECK(fails(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])"));
}
