// Unit tests of JSON Schema checking, compilation and validation.
// Depends only on base/json_schema.hpp, base/json.hpp and Catch2.
#include "base/json_schema.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using kinto::json::value;
namespace js = kinto::json_schema;

namespace {

value parse(std::string_view text) {
  std::string error;
  auto v = kinto::json::parse(text, error);
  INFO("input: " << text << " error: " << error);
  REQUIRE(v);
  return std::move(*v);
}

/// check_schema's verdict: "" when valid, else the problem.
std::string problem(std::string_view schema) {
  return js::check_schema(parse(schema)).value_or("");
}

js::compiled compile(std::string_view schema) {
  std::string error;
  auto c = js::compiled::compile(parse(schema), error);
  INFO("schema: " << schema << " error: " << error);
  REQUIRE(c);
  return std::move(*c);
}

bool accepts(std::string_view schema, std::string_view doc) {
  return !compile(schema).validate(parse(doc));
}

js::failure rejection(std::string_view schema, std::string_view doc) {
  auto f = compile(schema).validate(parse(doc));
  INFO("schema: " << schema << " doc: " << doc);
  REQUIRE(f);
  return *f;
}

/// "field | name | description" of the first error, for compact checks.
std::string error_of(std::string_view schema, std::string_view doc) {
  const js::failure f = rejection(schema, doc);
  return f.field + " | " + f.name + " | " + f.description;
}

constexpr std::string_view record_schema = R"({
  "type": "object",
  "properties": {
    "title": {"type": "string", "minLength": 1},
    "price": {"type": "number", "minimum": 0},
    "tags": {"type": "array", "items": {"type": "string"}},
    "author": {
      "type": "object",
      "properties": {"name": {"type": "string"}, "born": {"type": "integer", "maximum": 2024}},
      "required": ["name"]
    }
  },
  "required": ["title"]
})";

} // namespace

// --- checking schemas -------------------------------------------------------

TEST_CASE("a typical record schema, an empty schema and boolean schemas are valid") {
  CHECK(problem(record_schema).empty());
  CHECK(problem("{}").empty());
  CHECK(problem("true").empty());
  CHECK(problem("false").empty());
  CHECK(problem(R"({"$schema": "http://json-schema.org/draft-07/schema#", "title": "x", "description": "y",
                    "definitions": {"a": {"type": "string"}}, "items": [{"$ref": "#/definitions/a"}],
                    "if": {"minimum": 1}, "then": {"maximum": 5}, "else": true,
                    "dependencies": {"a": ["b"], "c": {"required": ["d"]}},
                    "propertyNames": {"maxLength": 3}, "contains": {"const": 1}})")
            .empty());
}

TEST_CASE("the draft-07 meta-schema is valid under itself") {
  CHECK(js::check_schema(parse(js::draft07_metaschema())) == std::nullopt);
}

TEST_CASE("an unknown type name is not a valid schema") {
  CHECK(problem(R"({"type": "Washmachine"})") == "'Washmachine' is not valid under any of the given schemas");
  CHECK(problem(R"({"properties": {"a": {"type": ["string", "foo"]}}})") ==
        "['string', 'foo'] is not valid under any of the given schemas");
}

TEST_CASE("a keyword with a value of the wrong kind is not a valid schema") {
  SECTION("minimum must be a number") {
    CHECK(problem(R"({"minimum": "abc"})") == "'abc' is not of type 'number'");
  }
  SECTION("required must be an array") {
    CHECK(problem(R"({"required": "title"})") == "'title' is not of type 'array'");
  }
  SECTION("required names must be unique") {
    CHECK(problem(R"({"required": ["a", "a"]})") == "['a', 'a'] has non-unique elements");
  }
  SECTION("minLength must not be negative") {
    CHECK(problem(R"({"minLength": -1})") == "-1 is less than the minimum of 0");
  }
  SECTION("maxItems must be an integer") {
    CHECK(problem(R"({"maxItems": 1.5})") == "1.5 is not of type 'integer'");
  }
  SECTION("multipleOf must be positive") {
    CHECK(problem(R"({"multipleOf": 0})") == "0 is less than or equal to the minimum of 0");
  }
  SECTION("title must be a string") {
    CHECK(problem(R"({"title": 5})") == "5 is not of type 'string'");
  }
  SECTION("items must not be an empty array") {
    CHECK(problem(R"({"items": []})") == "[] is not valid under any of the given schemas");
  }
  SECTION("a nested subschema is checked too") {
    CHECK(problem(R"({"properties": {"a": {"properties": {"b": {"maxLength": "x"}}}}})") ==
          "'x' is not of type 'integer'");
  }
  SECTION("a schema is an object or a boolean") {
    CHECK(problem("[]") == "[] is not of type 'object', 'boolean'");
    CHECK(problem("12") == "12 is not of type 'object', 'boolean'");
  }
}

TEST_CASE("a pattern that is not a regular expression is not a valid schema") {
  CHECK(problem(R"({"pattern": "["})") == "'[' is not a 'regex'");
  CHECK(problem(R"({"properties": {"a": {"patternProperties": {"(": {}}}}})") == "'(' is not a 'regex'");
  CHECK(problem(R"({"pattern": "^[a-z]+$"})").empty());
}

TEST_CASE("an unresolvable $ref is not a valid schema") {
  CHECK(problem(R"({"$ref": "#/definitions/nope"})") == "unresolvable reference '#/definitions/nope'");
  CHECK(problem(R"({"$ref": "http://example.com/schema.json"})") ==
        "unresolvable reference 'http://example.com/schema.json'");
  CHECK(problem(R"({"definitions": {"a b": {"type": "string"}}, "$ref": "#/definitions/a%20b"})").empty());
}

TEST_CASE("a $ref loop that never descends into the document is not a valid schema") {
  const std::string loop = "the schema refers to itself in a loop that never descends into the document";
  CHECK(problem(R"({"$ref": "#"})") == loop);
  CHECK(problem(R"({"allOf": [{"$ref": "#"}]})") == loop);
  CHECK(problem(R"({"definitions": {"a": {"not": {"$ref": "#/definitions/b"}},
                                     "b": {"anyOf": [{"$ref": "#/definitions/a"}]}},
                    "$ref": "#/definitions/a"})") == loop);
}

TEST_CASE("a recursive schema that descends through properties is valid and validates at depth") {
  constexpr std::string_view tree = R"({"definitions": {"node": {"type": "object",
      "properties": {"child": {"$ref": "#/definitions/node"}, "v": {"type": "integer"}}}},
    "$ref": "#/definitions/node"})";
  CHECK(problem(tree).empty());
  CHECK(accepts(tree, R"({"child": {"child": {"v": 1}}})"));
  CHECK(error_of(tree, R"({"child": {"child": {"v": "x"}}})") == "child.child.v | v | 'x' is not of type 'integer'");
}

TEST_CASE("schemas whose compilation or validation would recurse too deeply are refused") {
  std::string chain = R"({"definitions": {)";
  for (int i = 0; i < 200; ++i)
    chain +=
        "\"a" + std::to_string(i) + "\": {\"allOf\": [{\"$ref\": \"#/definitions/a" + std::to_string(i + 1) + "\"}]},";
  chain += R"("a200": {}}, "$ref": "#/definitions/a0"})";
  CHECK(problem(chain) == "the schema chains more than 100 $ref/allOf/anyOf/oneOf/not/if levels");

  std::string nesting = R"({"definitions": {)";
  for (int i = 0; i < 2000; ++i)
    nesting += "\"a" + std::to_string(i) + "\": {\"properties\": {\"x\": {\"$ref\": \"#/definitions/a" +
               std::to_string(i + 1) + "\"}}},";
  nesting += R"("a2000": {}}, "$ref": "#/definitions/a0"})";
  CHECK(problem(nesting) == "the schema nests more than 1000 subschemas deep");
}

namespace {

/// A schema whose root chains `k` allOf-and-$ref steps to a definition
/// (2k + 2 in-place steps), which descends into "a" and, when `recursive`,
/// refers back to the root there (one step more).
std::string chained(int k, bool recursive) {
  std::string defs;
  for (int i = 0; i < k; ++i)
    defs += "\"d" + std::to_string(i) + "\": {\"allOf\": [{\"$ref\": \"#/definitions/d" + std::to_string(i + 1) + "\"}]},";
  defs += "\"d" + std::to_string(k) + "\": {\"type\": \"object\", \"properties\": {\"a\": " +
          (recursive ? std::string("{\"$ref\": \"#\"}") : std::string("{\"type\": \"object\"}")) + "}}";
  return "{\"definitions\": {" + defs + "}, \"$ref\": \"#/definitions/d0\"}";
}

} // namespace

TEST_CASE("a schema that refers to itself may chain fewer in-place steps, repeated at every level") {
  CHECK(problem(chained(8, true)).empty());
  CHECK(problem(chained(9, true)) == "the schema refers to itself and chains more than 20 $ref/allOf/anyOf/oneOf/not/if levels");
  // Without recursion the chain runs once: the general bound applies.
  CHECK(problem(chained(9, false)).empty());
  CHECK(problem(chained(49, false)).empty());
  CHECK(problem(chained(50, false)) == "the schema chains more than 100 $ref/allOf/anyOf/oneOf/not/if levels");
}

TEST_CASE("compile refuses what check_schema refuses, with the same message") {
  std::string error;
  CHECK_FALSE(js::compiled::compile(parse(R"({"type": "Washmachine"})"), error));
  CHECK(error == "'Washmachine' is not valid under any of the given schemas");
  error.clear();
  CHECK(js::compiled::compile(parse(record_schema), error));
  CHECK(error.empty());
}

// --- validating documents -----------------------------------------------------

TEST_CASE("a document that satisfies the schema is valid") {
  CHECK(accepts(record_schema, R"({"title": "x"})"));
  CHECK(accepts(record_schema, R"({"title": "x", "price": 0, "tags": ["a", "b"], "author": {"name": "n", "born": 1900},
                                   "extra": {"free": true}})"));
  CHECK(accepts("{}", R"([1, "two", null])"));
  CHECK(accepts("true", "42"));
}

TEST_CASE("a missing required property is reported at the object that lacks it") {
  SECTION("at the root") {
    CHECK(error_of(record_schema, "{}") == " | title | 'title' is a required property");
  }
  SECTION("in a nested object") {
    CHECK(error_of(record_schema, R"({"title": "x", "author": {}})") ==
          "author | author | 'name' is a required property");
  }
  SECTION("the first missing name in the order of the required array") {
    const js::failure f = rejection(R"({"required": ["b", "a", "c"]})", R"({"c": 1})");
    CHECK(f.description == "'b' is a required property");
    CHECK(f.field.empty());
    CHECK(f.name == "c"); // upstream names the last element of `required`
  }
}

TEST_CASE("a value of the wrong type is reported at its dotted path") {
  CHECK(error_of(record_schema, R"({"title": 42})") == "title | title | 42 is not of type 'string'");
  CHECK(error_of(record_schema, R"({"title": "x", "tags": ["a", 3]})") == "tags.1 | 1 | 3 is not of type 'string'");
  CHECK(error_of(record_schema, R"({"title": "x", "author": {"name": null}})") ==
        "author.name | name | None is not of type 'string'");
  CHECK(error_of(R"({"type": ["string", "null"]})", "1") == " | null | 1 is not of type 'string', 'null'");
  // At the root upstream indexes the keyword's string value: its last letter.
  CHECK(error_of(R"({"type": "object"})", "[]") == " | t | [] is not of type 'object'");
}

TEST_CASE("numeric bounds are reported with the schema's limits") {
  CHECK(error_of(record_schema, R"({"title": "x", "price": -1})") ==
        "price | price | -1 is less than the minimum of 0");
  CHECK(error_of(record_schema, R"({"title": "x", "author": {"name": "n", "born": 2025}})") ==
        "author.born | born | 2025 is greater than the maximum of 2024");
  constexpr std::string_view s = R"({"properties": {"n": {"exclusiveMinimum": 0, "exclusiveMaximum": 5.5}}})";
  CHECK(error_of(s, R"({"n": 0})") == "n | n | 0 is less than or equal to the minimum of 0");
  CHECK(error_of(s, R"({"n": 5.5})") == "n | n | 5.5 is greater than or equal to the maximum of 5.5");
  CHECK(accepts(s, R"({"n": 5.25})"));
}

TEST_CASE("integers follow jsonschema: no fractional part makes an integer, of any size") {
  constexpr std::string_view s = R"({"type": "integer"})";
  CHECK(accepts(s, "1"));
  CHECK(accepts(s, "1.0"));
  CHECK(accepts(s, "1e2"));
  CHECK(accepts(s, "-0"));
  CHECK(accepts(s, "123456789012345678901234567890"));
  CHECK(error_of(s, "1.5") == " | r | 1.5 is not of type 'integer'");
  CHECK(error_of(s, "true") == " | r | True is not of type 'integer'");
  CHECK(error_of(R"({"maximum": 100})", "123456789012345678901234567890") ==
        " | maximum | 123456789012345678901234567890 is greater than the maximum of 100");
  CHECK(accepts(R"({"minimum": 9223372036854775807})", "123456789012345678901234567890"));
  CHECK(accepts(R"({"enum": [1.0]})", "1"));
  CHECK_FALSE(accepts(R"({"enum": [1]})", "true"));
}

TEST_CASE("enum, const, pattern, lengths, counts and uniqueness are worded as jsonschema does") {
  CHECK(error_of(R"({"properties": {"a": {"properties": {"b": {"enum": ["x", "y"]}}}}})", R"({"a": {"b": "z"}})") ==
        "a.b | b | 'z' is not one of ['x', 'y']");
  CHECK(error_of(R"({"const": {"a": [1, 2]}})", R"({"a": [1, 3]})") == " | const | {'a': [1, 2]} was expected");
  CHECK(error_of(R"({"properties": {"s": {"pattern": "^[a-z]+$"}}})", R"({"s": "AB"})") ==
        "s | s | 'AB' does not match '^[a-z]+$'");
  CHECK(error_of(record_schema, R"({"title": ""})") == "title | title | '' is too short");
  CHECK(error_of(R"({"maxLength": 2})", R"("abc")") == " | maxLength | 'abc' is too long");
  CHECK(error_of(R"({"minItems": 2})", "[1]") == " | minItems | [1] is too short");
  CHECK(error_of(R"({"maxItems": 1})", "[1, 2]") == " | maxItems | [1, 2] is too long");
  CHECK(error_of(R"({"minProperties": 1})", "{}") == " | minProperties | {} does not have enough properties");
  CHECK(error_of(R"({"maxProperties": 0})", R"({"a": 1})") == " | maxProperties | {'a': 1} has too many properties");
  CHECK(error_of(R"({"uniqueItems": true})", "[1, 1.0]") == " | uniqueItems | [1, 1.0] has non-unique elements");
  CHECK(error_of(R"({"multipleOf": 0.5})", "1.3") == " | multipleOf | 1.3 is not a multiple of 0.5");
  CHECK(accepts(R"({"multipleOf": 3})", "9.0"));
}

TEST_CASE("a string's length counts characters, not bytes") {
  CHECK(accepts(R"({"maxLength": 2})", R"("éé")"));
  CHECK_FALSE(accepts(R"({"maxLength": 2})", R"("ééé")"));
}

TEST_CASE("unexpected additional properties are all listed") {
  constexpr std::string_view s = R"({"properties": {"a": {}}, "additionalProperties": false})";
  CHECK(error_of(s, R"({"a": 1, "x": 2})") == " | additionalProperties | Additional properties are not allowed "
                                              "('x' was unexpected)");
  CHECK(error_of(s, R"({"x": 1, "a": 2, "y": 3})") == " | additionalProperties | Additional properties are not allowed "
                                                      "('x', 'y' were unexpected)");
  CHECK(
      error_of(R"({"patternProperties": {"^x": {}}, "additionalProperties": false})", R"({"y": 1, "a": 2, "x1": 3})") ==
      " | additionalProperties | 'a', 'y' do not match any of the regexes: '^x'");
  CHECK(error_of(R"({"additionalProperties": {"type": "integer"}})", R"({"a": 1, "b": "x"})") ==
        "b | b | 'x' is not of type 'integer'");
}

TEST_CASE("patternProperties validate the members whose names match") {
  constexpr std::string_view s = R"({"patternProperties": {"^n_": {"type": "number"}}})";
  CHECK(accepts(s, R"({"n_a": 1, "other": "x"})"));
  CHECK(error_of(s, R"({"n_a": "1"})") == "n_a | n_a | '1' is not of type 'number'");
}

TEST_CASE("unexpected additional items are listed") {
  constexpr std::string_view s = R"({"items": [{"type": "string"}], "additionalItems": false})";
  CHECK(accepts(s, R"(["a"])"));
  CHECK(error_of(s, R"(["a", 1, null])") == " | additionalItems | Additional items are not allowed (1, None were "
                                            "unexpected)");
  CHECK(error_of(s, "[1]") == "0 | 0 | 1 is not of type 'string'");
}

TEST_CASE("a failing anyOf or oneOf is reported as a whole, not by alternative") {
  CHECK(error_of(R"({"anyOf": [{"type": "string"}, {"type": "null"}]})", "42") ==
        " | anyOf | 42 is not valid under any of the given schemas");
  CHECK(error_of(R"({"properties": {"v": {"oneOf": [{"type": "integer"}, {"minimum": 0}]}}})", R"({"v": -1.5})") ==
        "v | v | -1.5 is not valid under any of the given schemas");
  CHECK(error_of(R"({"properties": {"v": {"oneOf": [{"type": "integer"}, {"minimum": 0}]}}})", R"({"v": 5})") ==
        "v | v | 5 is valid under more than one of the given schemas");
  CHECK(error_of(R"({"anyOf": [{"anyOf": [{"type": "string"}, {"type": "array"}]}, {"type": "null"}]})", "1") ==
        " | anyOf | 1 is not valid under any of the given schemas");
  // An error outside the alternatives is reported as itself.
  CHECK(error_of(R"({"properties": {"a": {"type": "string"}}, "anyOf": [{"type": "object"}]})", R"({"a": 1})") ==
        "a | a | 1 is not of type 'string'");
}

TEST_CASE("allOf, if/then/else and dependencies report the error underneath") {
  CHECK(error_of(R"({"allOf": [{"properties": {"a": {"minimum": 5}}}]})", R"({"a": 3})") ==
        "a | a | 3 is less than the minimum of 5");
  constexpr std::string_view cond = R"({"if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["x"]},
                                        "else": {"required": ["y"]}})";
  CHECK(error_of(cond, R"({"k": 1})") == " | x | 'x' is a required property");
  CHECK(error_of(cond, R"({"k": 2})") == " | y | 'y' is a required property");
  CHECK(accepts(cond, R"({"k": 1, "x": 0})"));
  constexpr std::string_view deps = R"({"dependencies": {"a": ["b"], "c": {"required": ["d"]}}})";
  CHECK(error_of(deps, R"({"a": 1})") == " | dependencies | 'b' is a dependency of 'a'");
  CHECK(error_of(deps, R"({"c": 1})") == " | d | 'd' is a required property");
}

TEST_CASE("not, contains and false schemas are worded as jsonschema does") {
  CHECK(error_of(R"({"properties": {"v": {"not": {"type": "string"}}}})", R"({"v": "x"})") ==
        "v | v | 'x' should not be valid under {'type': 'string'}");
  CHECK(error_of(R"({"contains": {"type": "string"}})", "[1, 2]") ==
        " | contains | [1, 2] does not contain items matching the given schema");
  CHECK(error_of(R"({"properties": {"v": false}})", R"({"v": 1})") == "v | v | False schema does not allow 1");
  CHECK(error_of("false", "1").find("False schema does not allow 1") != std::string::npos);
}

TEST_CASE("id is not a draft-07 keyword and is ignored") {
  // valijson would read it as a resolution scope and test it with std::regex.
  const std::string long_urn = "\"urn:ab:" + std::string(1'000'000, 'c') + "\"";
  CHECK(problem(R"({"id": "root", "properties": {"x": {"id": )" + long_urn + "}}}").empty());
  constexpr std::string_view s = R"({"id": "record", "definitions": {"a": {"type": "string"}},
                                     "properties": {"id": {"$ref": "#/definitions/a"}}})";
  CHECK(error_of(s, R"({"id": 1})") == "id | id | 1 is not of type 'string'");
}

TEST_CASE("a $ref into a place that is not a keyword is checked like any subschema") {
  CHECK(problem(R"({"$ref": "#/x", "x": {"pattern": "["}})") == "'[' is not a 'regex'");
  CHECK(error_of(R"({"$ref": "#/x", "x": {"type": "string"}})", "1") == " | g | 1 is not of type 'string'");
  // format and id cannot be dropped there without changing data used elsewhere.
  CHECK(problem(R"({"$ref": "#/x", "x": {"format": "date"}})") ==
        "'format' is not supported where a $ref points outside the schema's keywords");
  CHECK(problem(R"({"$ref": "#/enum/0", "enum": [{"id": "urn:a:b"}]})") ==
        "'id' is not supported where a $ref points outside the schema's keywords");
  // $defs, draft 2019's name for definitions, counts as a keyword.
  constexpr std::string_view defs = R"({"$defs": {"d": {"type": "string", "format": "date"}}, "$ref": "#/$defs/d"})";
  CHECK(accepts(defs, R"("not a date")"));
}

TEST_CASE("uniqueness compares values as jsonschema does, and scales to long arrays") {
  constexpr std::string_view s = R"({"uniqueItems": true})";
  CHECK_FALSE(accepts(s, R"([{"a": 1, "b": [1, 2]}, {"b": [1, 2.0], "a": 1}])"));
  CHECK_FALSE(accepts(s, "[0, -0.0]"));
  CHECK_FALSE(accepts(s, R"(["a", "b", "a"])"));
  CHECK(accepts(s, "[1, true]"));
  CHECK(accepts(s, R"([{"a": 1}, {"a": 2}, "1", [1]])"));
  std::string distinct = "[0";
  for (int i = 1; i < 200'000; ++i) distinct += "," + std::to_string(i);
  CHECK(accepts(s, distinct + "]"));
  CHECK_FALSE(accepts(s, distinct + ",199999]"));
}

TEST_CASE("format is ignored, as upstream does") {
  CHECK(accepts(R"({"properties": {"d": {"type": "string", "format": "date"}}})", R"({"d": "not a date"})"));
  CHECK(accepts(R"({"format": "email"})", R"({"an": "object"})"));
  // A property that happens to be named "format" is still validated.
  CHECK(error_of(R"({"properties": {"format": {"type": "string"}}})", R"({"format": 1})") ==
        "format | format | 1 is not of type 'string'");
}

TEST_CASE("strings and numbers in messages are written as Python's repr does") {
  constexpr std::string_view s = R"({"type": "boolean"})";
  CHECK(rejection(s, R"("it's")").description == R"("it's" is not of type 'boolean')");
  CHECK(rejection(s, R"("say \"hi\"")").description == R"('say "hi"' is not of type 'boolean')");
  CHECK(rejection(s, R"("a\nb\\c")").description == R"('a\nb\\c' is not of type 'boolean')");
  CHECK(rejection(s, R"("\u0001é")").description == "'\\x01é' is not of type 'boolean'");
  CHECK(rejection(s, R"({"k": [null, 1.50]})").description == "{'k': [None, 1.5]} is not of type 'boolean'");
  CHECK(rejection(s, "1E2").description == "100.0 is not of type 'boolean'");
  CHECK(rejection(s, "0.00001").description == "1e-05 is not of type 'boolean'");
  CHECK(rejection(s, "1e16").description == "1e+16 is not of type 'boolean'");
  CHECK(rejection(s, "123456789012345.6").description == "123456789012345.6 is not of type 'boolean'");
  CHECK(rejection(s, "-0.0").description == "-0.0 is not of type 'boolean'");
}

TEST_CASE("a very long string is matched against a pattern without exhausting the stack") {
  const std::string text = "\"" + std::string(1'000'000, 'a') + "\"";
  CHECK(accepts(R"({"pattern": "^[a-z]+$"})", text));
  CHECK(accepts(R"({"patternProperties": {"^[a-z]+$": {"type": "string"}}})", "{" + text + ": \"x\"}"));
  CHECK_FALSE(accepts(R"({"pattern": "^b"})", text));
}

TEST_CASE("a pattern too expensive to match refuses the document instead of hanging") {
  const js::failure f = rejection(R"({"pattern": "(a*)*b"})", "\"" + std::string(40, 'a') + "\"");
  CHECK(f.field.empty());
  CHECK(f.name == "schema");
  CHECK(f.description == "the document could not be validated: matching the pattern '(a*)*b' is too expensive");
  const std::string key = "\"" + std::string(1'000'000, 'a') + "\"";
  CHECK(rejection(R"({"patternProperties": {"^(a|b)+$": {}}})", "{" + key + ": 1}").name == "schema");
}

TEST_CASE("one compiled schema validates from four threads at once") {
  const js::compiled schema = compile(record_schema);
  const value good = parse(R"({"title": "x", "tags": ["a"], "price": 2})");
  const value bad = parse(R"({"title": "x", "tags": ["a", 7]})");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        if (schema.validate(good)) ++wrong;
        const auto f = schema.validate(bad);
        if (!f || f->field != "tags.1" || f->description != "7 is not of type 'string'") ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
}

TEST_CASE("a copy of a compiled schema keeps working after the original is gone") {
  std::optional<js::compiled> copy;
  {
    const js::compiled original = compile(record_schema);
    copy = original;
  }
  REQUIRE(copy);
  CHECK_FALSE(copy->validate(parse(R"({"title": "x"})")));
  CHECK(copy->validate(parse("{}")));
}
