// Unit tests of the query language of plural endpoints (querying.md): value
// typing, parameter parsing and its 400s, filter evaluation, sort order,
// pagination tokens and `_fields`. Depends only on schema/ and Catch2.
#include "base/crypto.hpp"
#include "schema/query.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace Catch {
template <> struct StringMaker<kinto::json::value> {
  static std::string convert(const kinto::json::value& v) { return kinto::json::serialize(v); }
};
} // namespace Catch

namespace json = kinto::json;
namespace query = kinto::query;
using params_t = std::vector<std::pair<std::string, std::string>>;

namespace {

constexpr std::uint64_t now_ms = 1717172000000;
constexpr std::uint64_t day_ms = 24ULL * 60 * 60 * 1000;

json::value j(std::string_view text) {
  std::string error;
  auto v = json::parse(text, error);
  INFO("json: " << text << " error: " << error);
  REQUIRE(v.has_value());
  return std::move(*v);
}

query::request parsed(const params_t& params, const query::field_policy& policy = {}) {
  auto result = query::parse(params, now_ms, policy);
  if (auto* e = std::get_if<kinto::error>(&result)) FAIL("unexpected error: " << kinto::render(*e));
  return std::get<query::request>(std::move(result));
}

kinto::error rejected(const params_t& params, const query::field_policy& policy = {}) {
  auto result = query::parse(params, now_ms, policy);
  REQUIRE(std::holds_alternative<kinto::error>(result));
  return std::get<kinto::error>(std::move(result));
}

/// Checks a 400 errno 107 with one detail of the given location, name and description.
void check_invalid(const kinto::error& e, const std::string& location, const std::optional<std::string>& name,
                   const std::string& description) {
  CHECK(e.status == 400);
  CHECK(e.code == kinto::errnum::invalid_parameters);
  REQUIRE(e.details.has_value());
  REQUIRE(e.details->is_array());
  REQUIRE(e.details->as_array().size() == 1);
  const json::value& detail = e.details->as_array()[0];
  CHECK(detail.find("location")->as_string() == location);
  if (name)
    CHECK(detail.find("name")->as_string() == *name);
  else
    CHECK(detail.find("name")->is_null());
  CHECK(detail.find("description")->as_string() == description);
}

void check_rejected(const params_t& params, const std::optional<std::string>& name, const std::string& description) {
  INFO("params: " << params.front().first << "=" << params.front().second);
  check_invalid(rejected(params), "querystring", name, description);
}

query::filter only_filter(const std::string& name, const std::string& value) {
  auto r = parsed({{name, value}});
  REQUIRE(r.filters.size() == 1);
  return r.filters.front();
}

/// True when the object passes the filter parsed from `name=value`.
bool passes(const std::string& name, const std::string& value, std::string_view object) {
  return query::matches(only_filter(name, value), j(object));
}

int cmp(std::string_view a, std::string_view b) {
  const json::value va = j(a);
  const json::value vb = j(b);
  return query::compare(&va, &vb);
}

std::vector<query::sort_key> sort_keys(const std::string& raw) { return parsed({{"_sort", raw}}).sort; }

} // namespace

// ---------------------------------------------------------------------------
// Typing of values

TEST_CASE("query values are JSON when they parse as JSON and strings otherwise", "[query]") {
  SECTION("numbers") {
    CHECK(query::typed_value("2") == j("2"));
    CHECK(query::typed_value("2").is_number());
    CHECK(query::typed_value("2.5") == j("2.5"));
  }
  SECTION("quoted strings lose their quotes") {
    CHECK(query::typed_value("\"2\"") == json::value("2"));
    CHECK(query::typed_value("\"Ben\"") == json::value("Ben"));
  }
  SECTION("text that is not JSON stays as written") {
    CHECK(query::typed_value("Ben") == json::value("Ben"));
    CHECK(query::typed_value("1.2.3") == json::value("1.2.3"));
    CHECK(query::typed_value("") == json::value(""));
    CHECK(query::typed_value("\"unterminated") == json::value("\"unterminated"));
  }
  SECTION("literals, arrays and objects") {
    CHECK(query::typed_value("true") == json::value(true));
    CHECK(query::typed_value("false") == json::value(false));
    CHECK(query::typed_value("null").is_null());
    CHECK(query::typed_value("[1,2]") == j("[1,2]"));
    CHECK(query::typed_value("{\"checked\": true}") == j(R"({"checked":true})"));
  }
}

// ---------------------------------------------------------------------------
// Parsing of filter names

TEST_CASE("a parameter named operator_field becomes a filter with that operator", "[query]") {
  struct row {
    const char* name;
    query::op operation;
  };
  const row rows[] = {
      {"eq_f", query::op::eq},         {"not_f", query::op::not_},     {"lt_f", query::op::lt},
      {"gt_f", query::op::gt},         {"min_f", query::op::min},      {"max_f", query::op::max},
      {"in_f", query::op::in},         {"exclude_f", query::op::exclude}, {"like_f", query::op::like},
      {"has_f", query::op::has},       {"contains_f", query::op::contains},
      {"contains_any_f", query::op::contains_any},
  };
  for (const row& r : rows) {
    INFO(r.name);
    const auto f = only_filter(r.name, "\"v\"");
    CHECK(f.operation == r.operation);
    CHECK(f.field == "f");
    CHECK(f.param == r.name);
    CHECK(f.path == query::field_path{"f"});
  }
  SECTION("a name without operator is plain equality on the whole name") {
    const auto f = only_filter("status", "1");
    CHECK(f.operation == query::op::eq);
    CHECK(f.field == "status");
    CHECK(f.value == j("1"));
  }
}

TEST_CASE("names that do not fit the operator pattern are equality on the whole name", "[query]") {
  SECTION("a field with characters outside [\\w.]") {
    const auto f = only_filter("like_a-b", "1");
    CHECK(f.operation == query::op::eq);
    CHECK(f.field == "like_a-b");
  }
  SECTION("an operator glued to other letters") {
    const auto f = only_filter("madmax_x", "1");
    CHECK(f.operation == query::op::eq);
    CHECK(f.field == "madmax_x");
  }
  SECTION("an operator with an empty field") {
    const auto f = only_filter("in_", "1");
    CHECK(f.operation == query::op::eq);
    CHECK(f.field == "in_");
  }
  SECTION("a field starting with an operator word is read as that operator") {
    const auto f = only_filter("not_found", "1");
    CHECK(f.operation == query::op::not_);
    CHECK(f.field == "found");
    const auto g = only_filter("eq_not_found", "1");
    CHECK(g.operation == query::op::eq);
    CHECK(g.field == "not_found");
  }
  SECTION("contains_any_ is tried before contains_") {
    CHECK(only_filter("contains_any_x", "1").operation == query::op::contains_any);
    const auto f = only_filter("contains_any", "1");
    CHECK(f.operation == query::op::contains);
    CHECK(f.field == "any");
  }
}

TEST_CASE("parameter names are trimmed of surrounding whitespace", "[query]") {
  const auto r = parsed({{" gt_age\t", "3"}, {" _limit ", "4"}});
  REQUIRE(r.filters.size() == 1);
  CHECK(r.filters[0].param == "gt_age");
  CHECK(r.filters[0].field == "age");
  CHECK(r.limit == 4);
}

TEST_CASE("dotted filter fields are split into a path", "[query]") {
  const auto f = only_filter("min_party.voters.count", "1");
  CHECK(f.field == "party.voters.count");
  CHECK(f.path == query::field_path{"party", "voters", "count"});
}

TEST_CASE("in_ and exclude_ values are split on commas and each piece typed", "[query]") {
  SECTION("numbers") { CHECK(only_filter("in_status", "1,2,3").value == j("[1,2,3]")); }
  SECTION("quoted strings") { CHECK(only_filter("exclude_name", "\"a\",\"b\"").value == j(R"(["a","b"])")); }
  SECTION("mixed pieces") { CHECK(only_filter("in_x", "a,2,true,null").value == j(R"(["a",2,true,null])")); }
  SECTION("a single value is a one-element list") { CHECK(only_filter("in_x", "a").value == j(R"(["a"])")); }
}

TEST_CASE("contains_ values are typed whole and wrapped when not an array", "[query]") {
  CHECK(only_filter("contains_colors", "red").value == j(R"(["red"])"));
  CHECK(only_filter("contains_colors", R"(["red","blue"])").value == j(R"(["red","blue"])"));
  CHECK(only_filter("contains_any_colors", "3").value == j("[3]"));
  CHECK(only_filter("contains_any_colors", R"({"a":1})").value == j(R"([{"a":1}])"));
}

TEST_CASE("like_ needs a string value after typing", "[query]") {
  SECTION("a number is rejected") {
    check_rejected({{"like_title", "10"}}, "like_title", "Invalid value for like_title");
  }
  SECTION("null and arrays are rejected") {
    check_rejected({{"like_title", "null"}}, "like_title", "Invalid value for like_title");
    check_rejected({{"like_title", "[\"a\"]"}}, "like_title", "Invalid value for like_title");
  }
  SECTION("a quoted number is a string") { CHECK(only_filter("like_title", "\"10\"").value == json::value("10")); }
  SECTION("the error message is the description") {
    auto e = rejected({{"like_title", "10"}});
    CHECK(*e.message == "Invalid value for like_title");
  }
}

TEST_CASE("has_ values are typed", "[query]") {
  CHECK(only_filter("has_author", "true").value == json::value(true));
  CHECK(only_filter("has_author", "false").value == json::value(false));
  CHECK(only_filter("has_author", "1").value == j("1"));
}

// ---------------------------------------------------------------------------
// Special fields and invalid characters

TEST_CASE("id filters compare as strings", "[query]") {
  SECTION("a numeric value becomes its decimal string") {
    CHECK(only_filter("id", "12").value == json::value("12"));
    CHECK(only_filter("gt_id", "3").value == json::value("3"));
    CHECK(passes("id", "12", R"({"id":"12"})"));
  }
  SECTION("in_id and exclude_id need strings after typing") {
    check_rejected({{"in_id", "1,2"}}, "in_id", "Invalid value for in_id");
    check_rejected({{"exclude_id", "a,2"}}, "exclude_id", "Invalid value for exclude_id");
    CHECK(only_filter("in_id", "\"1\",\"2\"").value == j(R"(["1","2"])"));
    CHECK(only_filter("in_id", "a,b").value == j(R"(["a","b"])"));
  }
  SECTION("a field below id is not the id") { CHECK(only_filter("id.x", "12").value == j("12")); }
}

TEST_CASE("last_modified filter values must be timestamps before now + 24 h", "[query]") {
  SECTION("an integer") {
    const auto f = only_filter("last_modified", "123");
    CHECK(f.value == j("123"));
    CHECK(f.value.is_integer());
  }
  SECTION("a quoted digit string becomes an integer") {
    const auto f = only_filter("gt_last_modified", "\"1717172000500\"");
    CHECK(f.value.is_integer());
    CHECK(f.value.as_int64() == 1717172000500);
  }
  SECTION("the bound is exclusive") {
    CHECK(only_filter("lt_last_modified", std::to_string(now_ms + day_ms - 1)).value.as_int64() ==
          static_cast<std::int64_t>(now_ms + day_ms - 1));
    check_rejected({{"lt_last_modified", std::to_string(now_ms + day_ms)}}, "lt_last_modified",
                   "Invalid value for lt_last_modified");
  }
  SECTION("junk is rejected") {
    for (const char* bad : {"abc", "", "\"123", "123\"", "-1", "1.5", "1e3", "null", "true", "1;DROP TABLE",
                            "99999999999999999999999"}) {
      INFO("value: " << bad);
      check_rejected({{"last_modified", bad}}, "last_modified", "Invalid value for last_modified");
    }
    check_rejected({{"not_last_modified", "x"}}, "not_last_modified", "Invalid value for not_last_modified");
  }
  SECTION("in_ and exclude_ elements must be integers") {
    CHECK(only_filter("in_last_modified", "1,2").value == j("[1,2]"));
    check_rejected({{"in_last_modified", "1,\"2\""}}, "in_last_modified", "Invalid value for in_last_modified");
    check_rejected({{"exclude_last_modified", "1,a"}}, "exclude_last_modified",
                   "Invalid value for exclude_last_modified");
  }
}

TEST_CASE("contains_ filters on id or last_modified are rejected", "[query]") {
  check_rejected({{"contains_id", "a"}}, "contains_id", "Field 'id' is not an array");
  check_rejected({{"contains_any_last_modified", "1"}}, "contains_any_last_modified",
                 "Field 'last_modified' is not an array");
}

TEST_CASE("a NUL character in a filter name or value is rejected", "[query]") {
  const std::string nul(1, '\0');
  SECTION("in the value") { check_rejected({{"title", "a" + nul}}, "title", "Invalid character 0x00"); }
  SECTION("in the name") { check_rejected({{"ti" + nul + "tle", "a"}}, "ti" + nul + "tle", "Invalid character 0x00"); }
  SECTION("escaped inside a JSON string") {
    check_rejected({{"title", R"("a\u0000")"}}, "title", "Invalid character 0x00");
    check_rejected({{"in_title", R"(x,"\u0000")"}}, "in_title", "Invalid character 0x00");
    check_rejected({{"contains_tags", R"([{"k":"\u0000"}])"}}, "contains_tags", "Invalid character 0x00");
  }
}

// ---------------------------------------------------------------------------
// _since, _before, _to

TEST_CASE("_since, _before and _to become bounds and filters on last_modified", "[query]") {
  SECTION("_since is a strict lower bound") {
    const auto r = parsed({{"_since", "1717172000100"}});
    CHECK(r.since == 1717172000100ULL);
    CHECK_FALSE(r.before);
    REQUIRE(r.filters.size() == 1);
    CHECK(r.filters[0].operation == query::op::gt);
    CHECK(r.filters[0].field == "last_modified");
    CHECK(r.filters[0].value.as_int64() == 1717172000100);
    CHECK(query::matches(r.filters[0], j(R"({"last_modified":1717172000101})")));
    CHECK_FALSE(query::matches(r.filters[0], j(R"({"last_modified":1717172000100})")));
  }
  SECTION("_before is a strict upper bound") {
    const auto r = parsed({{"_before", "1717172000100"}});
    CHECK(r.before == 1717172000100ULL);
    CHECK_FALSE(r.since);
    REQUIRE(r.filters.size() == 1);
    CHECK(r.filters[0].operation == query::op::lt);
    CHECK(query::matches(r.filters[0], j(R"({"last_modified":1717172000099})")));
    CHECK_FALSE(query::matches(r.filters[0], j(R"({"last_modified":1717172000100})")));
    CHECK_FALSE(r.deprecated_to);
  }
  SECTION("_to is _before and marks the deprecation") {
    const auto r = parsed({{"_to", "50"}});
    CHECK(r.before == 50U);
    CHECK(r.deprecated_to);
    REQUIRE(r.filters.size() == 1);
    CHECK(r.filters[0].operation == query::op::lt);
  }
  SECTION("_to and _before together keep the tighter bound") {
    const auto r = parsed({{"_to", "50"}, {"_before", "40"}});
    CHECK(r.before == 40U);
    CHECK(r.filters.size() == 2);
  }
  SECTION("the quoted ETag form is accepted") {
    CHECK(parsed({{"_since", "\"1717172000500\""}}).since == 1717172000500ULL);
    CHECK(parsed({{"_before", "\"0\""}}).before == 0U);
  }
  SECTION("null means absent") {
    const auto r = parsed({{"_since", "null"}, {"_before", "null"}});
    CHECK_FALSE(r.since);
    CHECK_FALSE(r.before);
    CHECK(r.filters.empty());
    CHECK_FALSE(r.includes_tombstones());
  }
}

TEST_CASE("_since, _before and _to reject non-numbers and out-of-range values", "[query]") {
  SECTION("not a number") {
    check_rejected({{"_since", "abc"}}, "_since", "\"abc\" is not a number");
    check_rejected({{"_since", ""}}, "_since", "\"\" is not a number");
    check_rejected({{"_since", "123\""}}, "_since", "\"123\"\" is not a number");
    check_rejected({{"_before", "\"12"}}, "_before", "\"\"12\" is not a number");
    check_rejected({{"_to", "1.5"}}, "_to", "\"1.5\" is not a number");
  }
  SECTION("the message names the parameter") {
    auto e = rejected({{"_since", "abc"}});
    CHECK(*e.message == "_since in querystring: \"abc\" is not a number");
  }
  SECTION("out of range") {
    check_rejected({{"_before", "99999999999999"}}, "_before", "Invalid value for _before");
    check_rejected({{"_since", std::to_string(now_ms + day_ms)}}, "_since", "Invalid value for _since");
    check_rejected({{"_to", "-1"}}, "_to", "Invalid value for _to");
    check_rejected({{"_since", "184467440737095516160"}}, "_since", "Invalid value for _since");
    CHECK(*rejected({{"_before", "99999999999999"}}).message == "Invalid value for _before");
  }
  SECTION("just below the limit is accepted") {
    CHECK(parsed({{"_since", std::to_string(now_ms + day_ms - 1)}}).since == now_ms + day_ms - 1);
  }
}

TEST_CASE("tombstones are included exactly when a filter concerns last_modified", "[query]") {
  CHECK(parsed({{"_since", "1"}}).includes_tombstones());
  CHECK(parsed({{"_to", "1"}}).includes_tombstones());
  CHECK(parsed({{"last_modified", "1"}}).includes_tombstones());
  CHECK(parsed({{"in_last_modified", "1,2"}}).includes_tombstones());
  CHECK(parsed({{"has_last_modified", "true"}}).includes_tombstones());
  CHECK_FALSE(parsed({{"deleted", "true"}}).includes_tombstones());
  CHECK_FALSE(parsed({{"last_modified.x", "1"}}).includes_tombstones());
  CHECK_FALSE(parsed({{"_sort", "last_modified"}}).includes_tombstones());
}

// ---------------------------------------------------------------------------
// _limit, _token, _sort, _fields and other parameters

TEST_CASE("_limit is a non-negative integer", "[query]") {
  SECTION("accepted values") {
    CHECK(parsed({{"_limit", "10"}}).limit == 10);
    CHECK(parsed({{"_limit", "0"}}).limit == 0);
    CHECK(parsed({{"_limit", " 7 "}}).limit == 7);
    CHECK(parsed({{"_limit", "9223372036854775807"}}).limit == 9223372036854775807LL);
  }
  SECTION("absent or empty means no limit") {
    CHECK_FALSE(parsed({}).limit);
    CHECK_FALSE(parsed({{"_limit", ""}}).limit);
  }
  SECTION("junk is not a number") {
    check_rejected({{"_limit", "notanumber"}}, "_limit", "\"notanumber\" is not a number");
    check_rejected({{"_limit", "1.5"}}, "_limit", "\"1.5\" is not a number");
    CHECK(*rejected({{"_limit", "abc"}}).message == "_limit in querystring: \"abc\" is not a number");
  }
  SECTION("negative and too large values") {
    check_rejected({{"_limit", "-1"}}, "_limit", "-1 is less than minimum value 0");
    check_rejected({{"_limit", "9223372036854775808"}}, "_limit",
                   "9223372036854775808 is greater than maximum value 9223372036854775807");
  }
}

TEST_CASE("_token is kept raw once it decodes", "[query]") {
  SECTION("a valid token") {
    query::token t;
    t.nonce = "n";
    const std::string raw = query::encode_token(t);
    CHECK(parsed({{"_token", raw}}).token == raw);
  }
  SECTION("empty means absent") { CHECK_FALSE(parsed({{"_token", ""}}).token); }
  SECTION("garbage is rejected") {
    check_rejected({{"_token", "garbage"}}, std::nullopt, "_token has invalid content");
    check_rejected({{"_token", "123"}}, std::nullopt, "_token has invalid content");
    CHECK(*rejected({{"_token", "123"}}).message == "querystring: _token has invalid content");
  }
}

TEST_CASE("_sort lists keys with directions and ends with last_modified", "[query]") {
  SECTION("default is newest first") {
    const auto keys = parsed({}).sort;
    REQUIRE(keys.size() == 1);
    CHECK(keys[0].field == "last_modified");
    CHECK(keys[0].descending);
  }
  SECTION("directions, dotted fields and the appended key") {
    const auto keys = sort_keys("title,-age,+a.b");
    REQUIRE(keys.size() == 4);
    CHECK(keys[0].field == "title");
    CHECK_FALSE(keys[0].descending);
    CHECK(keys[1].field == "age");
    CHECK(keys[1].descending);
    CHECK(keys[2].field == "a.b");
    CHECK(keys[2].path == query::field_path{"a", "b"});
    CHECK_FALSE(keys[2].descending);
    CHECK(keys[3].field == "last_modified");
    CHECK(keys[3].descending);
  }
  SECTION("a final last_modified key in either direction is kept as is") {
    const auto ascending = sort_keys("title,last_modified");
    REQUIRE(ascending.size() == 2);
    CHECK_FALSE(ascending[1].descending);
    const auto descending = sort_keys("-last_modified");
    REQUIRE(descending.size() == 1);
    CHECK(descending[0].descending);
  }
  SECTION("keys are trimmed and malformed ones ignored") {
    const auto keys = sort_keys(" title , a-b,,--x,+,-, -age ");
    REQUIRE(keys.size() == 3);
    CHECK(keys[0].field == "title");
    CHECK(keys[1].field == "age");
    CHECK(keys[1].descending);
    CHECK(keys[2].field == "last_modified");
  }
}

TEST_CASE("_fields lists the fields to keep", "[query]") {
  CHECK_FALSE(parsed({}).fields);
  CHECK(parsed({{"_fields", "title, address.street ,,"}}).fields ==
        std::vector<std::string>{"title", "address.street"});
  CHECK(parsed({{"_fields", ""}}).fields == std::vector<std::string>{});
}

TEST_CASE("unknown underscore parameters are ignored", "[query]") {
  const auto r = parsed({{"_expected", "123"}, {"_xyz", "\"bad"}, {"_", ""}});
  CHECK(r.filters.empty());
  CHECK_FALSE(r.limit);
  CHECK(r.sort.size() == 1);
}

TEST_CASE("a restricted field policy rejects unknown roots", "[query]") {
  const query::field_policy history{false, {"target", "action", "uri"}};
  SECTION("known roots, including dotted paths and the implicit fields") {
    const auto r = parsed({{"action", "create"}, {"target.data.id", "x"}, {"gt_last_modified", "1"}, {"id", "a"},
                           {"deleted", "true"}, {"_sort", "-uri,target.data.id"}, {"_fields", "action,target.uri"}},
                          history);
    CHECK(r.filters.size() == 5);
    CHECK(r.sort.size() == 3);
  }
  SECTION("unknown filter field") {
    check_invalid(rejected({{"foo", "1"}}, history), "querystring", "foo", "Unknown filter field 'foo'");
    check_invalid(rejected({{"gt_foo.bar", "1"}}, history), "querystring", "gt_foo.bar",
                  "Unknown filter field 'gt_foo.bar'");
    CHECK(*rejected({{"foo", "1"}}, history).message == "Unknown filter field 'foo'");
  }
  SECTION("unknown sort field") {
    check_invalid(rejected({{"_sort", "action,-foo"}}, history), "querystring", std::nullopt,
                  "Unknown sort field 'foo'");
  }
  SECTION("unknown _fields") {
    auto e = rejected({{"_fields", "action,x,y.z"}}, history);
    check_invalid(e, "body", "Invalid _fields parameter", "Fields x,y.z do not exist");
    CHECK(*e.message == "Invalid _fields parameter in body: Fields x,y.z do not exist");
  }
  SECTION("the default policy accepts everything") {
    CHECK(parsed({{"foo", "1"}, {"_sort", "bar"}, {"_fields", "baz"}}).filters.size() == 1);
  }
}

// ---------------------------------------------------------------------------
// Order across JSON values

TEST_CASE("lookup follows dotted paths and stops at non-objects", "[query]") {
  const json::value o = j(R"({"a":{"b":{"c":1}},"s":"x","n":null})");
  REQUIRE(query::lookup(o, {"a", "b", "c"}));
  CHECK(*query::lookup(o, {"a", "b", "c"}) == j("1"));
  CHECK(*query::lookup(o, {"a", "b"}) == j(R"({"c":1})"));
  CHECK(query::lookup(o, {"n"})->is_null());
  CHECK(query::lookup(o, {"a", "x"}) == nullptr);
  CHECK(query::lookup(o, {"s", "length"}) == nullptr);
  CHECK(query::lookup(o, {"n", "x"}) == nullptr);
  CHECK(query::lookup(o, {"a.b"}) == nullptr);
}

TEST_CASE("compare orders types null, string, number, boolean, array, object, absent", "[query]") {
  const std::vector<json::value> ascending{j("null"), j("\"\""), j("\"zzz\""), j("-1e300"), j("5"), j("false"),
                                           j("true"), j("[]"), j("[null]"), j("{}"), j(R"({"a":1})")};
  for (std::size_t a = 0; a < ascending.size(); ++a) {
    for (std::size_t b = 0; b < ascending.size(); ++b) {
      INFO(json::serialize(ascending[a]) << " vs " << json::serialize(ascending[b]));
      const int expected = a < b ? -1 : (a > b ? 1 : 0);
      CHECK(query::compare(&ascending[a], &ascending[b]) == expected);
    }
    CHECK(query::compare(&ascending[a], nullptr) < 0);
    CHECK(query::compare(nullptr, &ascending[a]) > 0);
  }
  CHECK(query::compare(nullptr, nullptr) == 0);
}

TEST_CASE("compare orders numbers by value, big integers exactly", "[query]") {
  CHECK(cmp("1", "1.0") == 0);
  CHECK(cmp("100", "1e2") == 0);
  CHECK(cmp("-0", "0") == 0);
  CHECK(cmp("-2", "-1") < 0);
  CHECK(cmp("-10", "-9") < 0);
  CHECK(cmp("9", "10") < 0);
  CHECK(cmp("2.5", "2") > 0);
  CHECK(cmp("-0.5", "0") < 0);
  SECTION("integers beyond doubles differ in the last digit") {
    CHECK(cmp("36893488147419103233", "36893488147419103232") > 0);
    CHECK(cmp("-36893488147419103233", "-36893488147419103232") < 0);
    CHECK(cmp("9007199254740993", "9007199254740992") > 0);
    CHECK(cmp("36893488147419103232", "36893488147419103232") == 0);
  }
  SECTION("a big integer against a fraction compares as doubles") {
    CHECK(cmp("36893488147419103232", "1.5") > 0);
    CHECK(cmp("-36893488147419103232", "1.5") < 0);
  }
}

TEST_CASE("compare orders strings by code point and booleans false first", "[query]") {
  CHECK(cmp("\"a\"", "\"b\"") < 0);
  CHECK(cmp("\"a\"", "\"ab\"") < 0);
  CHECK(cmp("\"B\"", "\"a\"") < 0);
  CHECK(cmp("\"z\"", "\"\u00e9\"") < 0);
  CHECK(cmp("\"\uffff\"", "\"\U0001F600\"") < 0);
  CHECK(cmp("\"same\"", "\"same\"") == 0);
  CHECK(cmp("false", "true") < 0);
  CHECK(cmp("true", "true") == 0);
}

TEST_CASE("compare orders arrays lexicographically and objects consistently with equality", "[query]") {
  CHECK(cmp("[1,2]", "[1,3]") < 0);
  CHECK(cmp("[1,2]", "[1,2,0]") < 0);
  CHECK(cmp("[2]", "[1,5]") > 0);
  CHECK(cmp("[1,\"a\"]", "[1.0,\"a\"]") == 0);
  CHECK(cmp(R"({"a":1,"b":2})", R"({"b":2,"a":1.0})") == 0);
  CHECK(cmp(R"({"a":1})", R"({"a":2})") < 0);
  CHECK(cmp(R"({"a":1})", R"({"b":1})") < 0);
  CHECK(cmp(R"({"z":1})", R"({"a":1,"b":1})") < 0);
  SECTION("the order is antisymmetric") {
    CHECK(cmp(R"({"a":2})", R"({"a":1})") > 0);
    CHECK(cmp("[1,3]", "[1,2]") > 0);
  }
}

// ---------------------------------------------------------------------------
// Filter evaluation

TEST_CASE("equality uses deep JSON equality on the typed value", "[query]") {
  SECTION("number and string differ") {
    CHECK(passes("author", "2", R"({"author":2})"));
    CHECK_FALSE(passes("author", "2", R"({"author":"2"})"));
    CHECK(passes("author", "\"2\"", R"({"author":"2"})"));
    CHECK(passes("orders", "1", R"({"orders":1.0})"));
  }
  SECTION("bare and quoted strings are the same") {
    CHECK(passes("author", "Ben", R"({"author":"Ben"})"));
    CHECK(passes("author", "\"Ben\"", R"({"author":"Ben"})"));
    CHECK_FALSE(passes("author", "ben", R"({"author":"Ben"})"));
  }
  SECTION("something that looks like a version is a string") {
    CHECK(passes("status", "1.2.3", R"({"status":"1.2.3"})"));
  }
  SECTION("null matches only an explicit null") {
    CHECK(passes("author", "null", R"({"author":null})"));
    CHECK_FALSE(passes("author", "null", R"({"title":"x"})"));
  }
  SECTION("objects match exactly, arrays in order") {
    CHECK(passes("attributes", R"({"ibu":25})", R"({"attributes":{"ibu":25}})"));
    CHECK_FALSE(passes("attributes", R"({"ibu":25})", R"({"attributes":{"ibu":25,"abv":5}})"));
    CHECK(passes("tags", "[\"a\",\"b\"]", R"({"tags":["a","b"]})"));
    CHECK_FALSE(passes("tags", "[\"a\",\"b\"]", R"({"tags":["b","a"]})"));
  }
  SECTION("eq_ is the same operator") { CHECK(passes("eq_done", "false", R"({"done":false})")); }
}

TEST_CASE("each operator treats an absent field as the specification says", "[query]") {
  const char* absent = R"({"id":"r","last_modified":1,"other":1})";
  SECTION("operators that let absent fields through") {
    CHECK(passes("not_status", "2", absent));
    CHECK(passes("gt_status", "2", absent));
    CHECK(passes("min_status", "2", absent));
    CHECK(passes("exclude_status", "0,1", absent));
    CHECK(passes("has_status", "false", absent));
  }
  SECTION("operators that exclude absent fields") {
    CHECK_FALSE(passes("status", "2", absent));
    CHECK_FALSE(passes("lt_status", "2", absent));
    CHECK_FALSE(passes("max_status", "2", absent));
    CHECK_FALSE(passes("in_status", "0,1", absent));
    CHECK_FALSE(passes("like_status", "*", absent));
    CHECK_FALSE(passes("has_status", "true", absent));
    CHECK_FALSE(passes("contains_status", "1", absent));
    CHECK_FALSE(passes("contains_any_status", "1", absent));
  }
  SECTION("a path through a non-object is absent") {
    CHECK(passes("not_party.voters", "1", R"({"party":"x"})"));
    CHECK_FALSE(passes("party.voters", "1", R"({"party":"x"})"));
  }
}

TEST_CASE("comparison operators follow the cross-type order", "[query]") {
  SECTION("bounds") {
    CHECK(passes("lt_orders", "100", R"({"orders":99})"));
    CHECK_FALSE(passes("lt_orders", "100", R"({"orders":100})"));
    CHECK(passes("max_orders", "100", R"({"orders":100.0})"));
    CHECK_FALSE(passes("max_orders", "100", R"({"orders":101})"));
    CHECK(passes("gt_orders", "100", R"({"orders":100.5})"));
    CHECK_FALSE(passes("gt_orders", "100", R"({"orders":100})"));
    CHECK(passes("min_orders", "100", R"({"orders":100})"));
    CHECK_FALSE(passes("min_orders", "100", R"({"orders":99})"));
  }
  SECTION("a string bound against numbers") {
    CHECK(passes("min_age", "abc", R"({"age":3})"));
    CHECK_FALSE(passes("lt_age", "abc", R"({"age":3})"));
    CHECK(passes("lt_age", "abc", R"({"age":null})"));
    CHECK(passes("lt_age", "abc", R"({"age":"abb"})"));
  }
  SECTION("booleans and arrays sit above numbers") {
    CHECK(passes("gt_x", "1000", R"({"x":false})"));
    CHECK(passes("gt_x", "true", R"({"x":[]})"));
    CHECK_FALSE(passes("gt_x", "true", R"({"x":true})"));
  }
}

TEST_CASE("in_ and exclude_ partition the objects that have the field", "[query]") {
  const std::vector<std::string> objects{R"({"status":0})", R"({"status":1})", R"({"status":2})",
                                         R"({"status":"1"})", R"({"status":1.0})", R"({"status":[1]})"};
  for (const std::string& values : {std::string("0,1"), std::string("0,1,5,6,7,8,9,10,11,12,\"x\",null")}) {
    for (const auto& o : objects) {
      INFO("values: " << values << " object: " << o);
      CHECK(passes("in_status", values, o) != passes("exclude_status", values, o));
    }
    CHECK(passes("in_status", values, R"({"status":1.0})"));
    CHECK_FALSE(passes("in_status", values, R"({"status":"1"})"));
    CHECK_FALSE(passes("in_status", values, R"({"status":2})"));
    CHECK_FALSE(passes("in_status", values, R"({"status":[1]})"));
  }
  SECTION("a long list of strings") {
    std::string ids;
    for (int i = 0; i < 50; ++i) ids += (i ? "," : "") + std::to_string(i * 7) + "x";
    CHECK(passes("in_id", ids, R"({"id":"343x"})"));
    CHECK(passes("in_id", ids, R"({"id":"0x"})"));
    CHECK_FALSE(passes("in_id", ids, R"({"id":"1x"})"));
    CHECK(passes("exclude_id", ids, R"({"id":"1x"})"));
  }
  SECTION("lists with arrays and objects compare deeply") {
    CHECK(passes("in_x", R"([1],{"a":1},3,4,5,6,7,8,9,10)", R"({"x":[1]})"));
    CHECK(passes("in_x", R"([1],{"a":1},3,4,5,6,7,8,9,10)", R"({"x":{"a":1.0}})"));
    CHECK_FALSE(passes("in_x", R"([1],{"a":1},3,4,5,6,7,8,9,10)", R"({"x":[2]})"));
  }
}

TEST_CASE("like_ matches strings case-insensitively with * as the only wildcard", "[query]") {
  SECTION("no star is a substring search") {
    CHECK(passes("like_title", "FoO", R"({"title":"Foo"})"));
    CHECK(passes("like_title", "FoO", R"({"title":"xfooy"})"));
    CHECK_FALSE(passes("like_title", "FoO", R"({"title":"fo"})"));
  }
  SECTION("anchored at the start or the end") {
    CHECK(passes("like_title", "foo*", R"({"title":"FOObar"})"));
    CHECK_FALSE(passes("like_title", "foo*", R"({"title":"xfoo"})"));
    CHECK(passes("like_title", "*foo", R"({"title":"xfoo"})"));
    CHECK_FALSE(passes("like_title", "*foo", R"({"title":"foox"})"));
    CHECK(passes("like_title", "*dog*", R"({"title":"walk dog"})"));
  }
  SECTION("stars in the middle") {
    CHECK(passes("like_title", "a*b*c", R"({"title":"aXXbYYc"})"));
    CHECK(passes("like_title", "a*b*c", R"({"title":"abc"})"));
    CHECK_FALSE(passes("like_title", "a*b*c", R"({"title":"acb"})"));
    CHECK_FALSE(passes("like_title", "ab*ba", R"({"title":"aba"})"));
    CHECK(passes("like_title", "a**a", R"({"title":"aa"})"));
  }
  SECTION("every other character is literal") {
    CHECK_FALSE(passes("like_title", "a_c", R"({"title":"abc"})"));
    CHECK_FALSE(passes("like_title", "a%c", R"({"title":"abc"})"));
    CHECK_FALSE(passes("like_title", "a.c", R"({"title":"abc"})"));
    CHECK(passes("like_title", "a.c", R"({"title":"xa.cx"})"));
    CHECK_FALSE(passes("like_title", "[ab]", R"({"title":"a"})"));
    CHECK(passes("like_title", "a?", R"({"title":"A?"})"));
  }
  SECTION("Latin-1 letters fold too") {
    CHECK(passes("like_title", "\xC3\xA9t\xC3\xA9", R"({"title":"\u00c9T\u00c9"})"));
    CHECK(passes("like_title", "\xC3\x89T\xC3\x89*", R"({"title":"\u00e9t\u00e9 2024"})"));
    CHECK_FALSE(passes("like_title", "\xC3\xB7", R"({"title":"\u00d7"})"));
  }
  SECTION("an empty pattern matches every string") {
    CHECK(passes("like_title", "", R"({"title":""})"));
    CHECK(passes("like_title", "", R"({"title":"x"})"));
  }
  SECTION("only strings match") {
    CHECK_FALSE(passes("like_n", "\"1\"", R"({"n":1})"));
    CHECK_FALSE(passes("like_n", "*", R"({"n":null})"));
    CHECK_FALSE(passes("like_n", "*", R"({"n":["a"]})"));
  }
}

TEST_CASE("has_ tests presence by the truthiness of its value", "[query]") {
  CHECK(passes("has_x", "true", R"({"x":null})"));
  CHECK_FALSE(passes("has_x", "false", R"({"x":null})"));
  CHECK(passes("has_x", "false", R"({"y":1})"));
  CHECK_FALSE(passes("has_x", "true", R"({"y":1})"));
  SECTION("other values count by truthiness") {
    CHECK(passes("has_x", "1", R"({"x":0})"));
    CHECK(passes("has_x", "0", R"({"y":0})"));
    CHECK(passes("has_x", "yes", R"({"x":0})"));
    CHECK(passes("has_x", "\"\"", R"({"y":0})"));
    CHECK(passes("has_x", "null", R"({"y":0})"));
  }
}

TEST_CASE("contains_ needs every element and contains_any_ at least one", "[query]") {
  const char* both = R"({"colors":["red","green","blue"]})";
  const char* red = R"({"colors":["red"]})";
  CHECK(passes("contains_colors", R"(["red","blue"])", both));
  CHECK_FALSE(passes("contains_colors", R"(["red","blue"])", red));
  CHECK(passes("contains_any_colors", R"(["red","blue"])", red));
  CHECK_FALSE(passes("contains_any_colors", R"(["pink","blue"])", red));
  CHECK(passes("contains_colors", "red", red));
  SECTION("elements compare deeply") {
    CHECK(passes("contains_x", R"([{"a":1}])", R"({"x":[{"a":1.0},2]})"));
    CHECK_FALSE(passes("contains_x", R"([[1]])", R"({"x":[1]})"));
  }
  SECTION("non-array fields never match") {
    CHECK_FALSE(passes("contains_colors", "red", R"({"colors":"red"})"));
    CHECK_FALSE(passes("contains_any_colors", "red", R"({"colors":{"red":1}})"));
  }
}

TEST_CASE("filters on dotted fields test nested values", "[query]") {
  CHECK(passes("party.voters", "1", R"({"party":{"voters":1}})"));
  CHECK_FALSE(passes("party.voters", "1", R"({"party":{"voters":2}})"));
  CHECK(passes("gt_a.b.c", "1", R"({"a":{"b":{"c":2}}})"));
  CHECK(passes("like_a.b", "X", R"({"a":{"b":"axa"}})"));
  CHECK_FALSE(passes("party.voters", "1", R"({"party.voters":1})"));
}

TEST_CASE("tombstones are filtered through their three fields", "[query]") {
  const char* tombstone = R"({"id":"r1","last_modified":1717172000100,"deleted":true})";
  SECTION("filters matching absent fields let them through") {
    CHECK(passes("not_title", "x", tombstone));
    CHECK(passes("exclude_title", "x", tombstone));
    CHECK(passes("gt_age", "1", tombstone));
    CHECK(passes("min_age", "1", tombstone));
    CHECK(passes("has_title", "false", tombstone));
  }
  SECTION("the others exclude them") {
    CHECK_FALSE(passes("title", "x", tombstone));
    CHECK_FALSE(passes("in_title", "x", tombstone));
    CHECK_FALSE(passes("like_title", "x", tombstone));
    CHECK_FALSE(passes("contains_title", "x", tombstone));
    CHECK_FALSE(passes("lt_age", "1", tombstone));
    CHECK_FALSE(passes("max_age", "1", tombstone));
    CHECK_FALSE(passes("has_title", "true", tombstone));
  }
  SECTION("their own fields filter as usual") {
    CHECK(passes("deleted", "true", tombstone));
    CHECK(passes("id", "r1", tombstone));
    CHECK(passes("gt_last_modified", "1717172000099", tombstone));
    CHECK_FALSE(passes("gt_last_modified", "1717172000100", tombstone));
  }
}

TEST_CASE("a filter built by hand evaluates like a parsed one", "[query]") {
  query::filter like;
  like.operation = query::op::like;
  like.field = "title";
  like.path = {"title"};
  like.value = json::value("FOO*");
  CHECK(query::matches(like, j(R"({"title":"foobar"})")));
  CHECK_FALSE(query::matches(like, j(R"({"title":"xfoo"})")));

  query::filter in;
  in.operation = query::op::in;
  in.field = "id";
  json::array_t ids;
  for (int i = 0; i < 20; ++i) ids.emplace_back(std::to_string(i));
  in.value = json::value(std::move(ids));
  CHECK_FALSE(query::matches(in, j(R"({"id":"7"})"))); // no path: the root object itself is compared
  query::prepare(in);
  CHECK(in.path == query::field_path{"id"});
  CHECK(query::matches(in, j(R"({"id":"7"})")));
  CHECK_FALSE(query::matches(in, j(R"({"id":"20"})")));
}

TEST_CASE("matches_all combines filters with AND", "[query]") {
  const auto r = parsed({{"in_age", "3,9"}, {"not_title", "nope"}, {"has_done", "true"}, {"like_title", "*dog*"}});
  CHECK(query::matches_all(r.filters, j(R"({"title":"walk dog","done":true,"age":9})")));
  CHECK_FALSE(query::matches_all(r.filters, j(R"({"title":"walk dog","done":true,"age":5})")));
  CHECK_FALSE(query::matches_all(r.filters, j(R"({"title":"buy milk","done":false,"age":3})")));
  CHECK(query::matches_all({}, j("{}")));
}

// ---------------------------------------------------------------------------
// Sorting

TEST_CASE("compare_by applies the keys in order with their directions", "[query]") {
  const auto keys = sort_keys("title,-age");
  const json::value a = j(R"({"title":"a","age":1,"last_modified":1})");
  const json::value b = j(R"({"title":"a","age":2,"last_modified":2})");
  const json::value c = j(R"({"title":"b","age":9,"last_modified":3})");
  CHECK(query::compare_by(keys, b, a) < 0);
  CHECK(query::compare_by(keys, a, b) > 0);
  CHECK(query::compare_by(keys, a, c) < 0);
  CHECK(query::compare_by(keys, a, a) == 0);
  SECTION("the appended last_modified breaks ties newest first") {
    const json::value older = j(R"({"title":"a","age":1,"last_modified":1})");
    const json::value newer = j(R"({"title":"a","age":1,"last_modified":5})");
    CHECK(query::compare_by(keys, newer, older) < 0);
  }
}

TEST_CASE("objects lacking a sort field come last ascending and first descending", "[query]") {
  std::vector<json::value> objects{j(R"({"id":"n","title":null,"last_modified":1})"),
                                   j(R"({"id":"x","last_modified":2})"),
                                   j(R"({"id":"b","title":"b","last_modified":3})"),
                                   j(R"({"id":"a","title":"a","last_modified":4})"),
                                   j(R"({"id":"1","title":1,"last_modified":5})")};
  auto ids_sorted_by = [&](const std::string& sort) {
    const auto keys = sort_keys(sort);
    std::sort(objects.begin(), objects.end(),
              [&](const json::value& a, const json::value& b) { return query::compare_by(keys, a, b) < 0; });
    std::string ids;
    for (const auto& o : objects) ids += o.find("id")->as_string();
    return ids;
  };
  CHECK(ids_sorted_by("title") == "nab1x");
  CHECK(ids_sorted_by("-title") == "x1ban");
  CHECK(ids_sorted_by("") == "1abxn");
}

// ---------------------------------------------------------------------------
// Pagination tokens

TEST_CASE("a pagination token survives encoding and decoding", "[query]") {
  query::token t;
  t.last_object = j(R"({"title":"a","a.b":[1,{"x":null}],"last_modified":1717172000100})");
  t.offset = 42;
  t.nonce = "pagination-token-" + kinto::crypto::uuid4();
  auto decoded = query::decode_token(query::encode_token(t));
  REQUIRE(std::holds_alternative<query::token>(decoded));
  const auto& back = std::get<query::token>(decoded);
  CHECK(back.last_object == t.last_object);
  CHECK(back.offset == 42);
  CHECK(back.nonce == t.nonce);
}

TEST_CASE("an encoded token is standard base64 of the documented JSON", "[query]") {
  query::token t;
  t.last_object = j(R"({"age":3})");
  t.offset = 2;
  t.nonce = "pagination-token-x";
  const auto text = kinto::crypto::base64_decode(query::encode_token(t));
  REQUIRE(text);
  CHECK(*text == R"({"last_object":{"age":3},"offset":2,"nonce":"pagination-token-x"})");
}

TEST_CASE("an upstream token decodes", "[query]") {
  auto decoded = query::decode_token(
      "eyJsYXN0X29iamVjdCI6eyJhZ2UiOjMsImxhc3RfbW9kaWZpZWQiOjE3OTU3ODY0NzYxMTd9LCJvZmZzZXQiOjIsIm5vbmNlIjoicGFnaW5hdGlv"
      "bi10b2tlbi01MDVlNmVlOC1hOGQwLTRjZWMtYjlhNy0yZDFjYmRmZDYxMDYifQ==");
  REQUIRE(std::holds_alternative<query::token>(decoded));
  const auto& t = std::get<query::token>(decoded);
  CHECK(t.last_object == j(R"({"age":3,"last_modified":1795786476117})"));
  CHECK(t.offset == 2);
  CHECK(t.nonce == "pagination-token-505e6ee8-a8d0-4cec-b9a7-2d1cbdfd6106");
}

TEST_CASE("malformed tokens are rejected as invalid content", "[query]") {
  auto b64 = [](std::string_view s) { return kinto::crypto::base64_encode(s); };
  const std::vector<std::string> bad{
      "garbage",
      "123",
      "eyJsYXN0X29iamVjdCI6e30sIm9mZnNldCI6MSwibm9uY2UiOiJuIn0",                 // padding missing
      "eyJsYXN0X29iamVjdCI6eyJhIjoiPz8_In0sIm9mZnNldCI6MSwibm9uY2UiOiJuIn0=",    // URL-safe alphabet
      b64("not json"),
      b64("[1,2]"),
      b64("\"text\""),
      b64(R"({"offset":1,"nonce":"n"})"),
      b64(R"({"last_object":{},"nonce":"n"})"),
      b64(R"({"last_object":{},"offset":1})"),
      b64(R"({"last_object":[],"offset":1,"nonce":"n"})"),
      b64(R"({"last_object":"x","offset":1,"nonce":"n"})"),
      b64("{\"last_object\":{\"a\":\"\xff\"},\"offset\":1,\"nonce\":\"n\"}"),
  };
  for (const auto& raw : bad) {
    INFO("token: " << raw);
    auto decoded = query::decode_token(raw);
    REQUIRE(std::holds_alternative<kinto::error>(decoded));
    check_invalid(std::get<kinto::error>(decoded), "querystring", std::nullopt, "_token has invalid content");
  }
  SECTION("the same tokens well formed decode") {
    CHECK(std::holds_alternative<query::token>(
        query::decode_token("eyJsYXN0X29iamVjdCI6e30sIm9mZnNldCI6MSwibm9uY2UiOiJuIn0=")));
    CHECK(std::holds_alternative<query::token>(
        query::decode_token("eyJsYXN0X29iamVjdCI6eyJhIjoiPz8/In0sIm9mZnNldCI6MSwibm9uY2UiOiJuIn0=")));
    CHECK(std::holds_alternative<query::token>(
        query::decode_token(b64(R"({"last_object":{},"offset":0,"nonce":""})"))));
  }
}

TEST_CASE("token_after records the values of the sort fields the last object has", "[query]") {
  const auto keys = sort_keys("title,a.b,missing");
  const auto t = query::token_after(keys, j(R"({"title":"x","a":{"b":[1]},"last_modified":7,"other":1})"), 11);
  CHECK(t.last_object == j(R"({"title":"x","a.b":[1],"last_modified":7})"));
  CHECK(t.offset == 11);
  CHECK(t.nonce.rfind("pagination-token-", 0) == 0);
  CHECK(t.nonce.size() == std::string("pagination-token-").size() + 36);
  CHECK(query::token_after(keys, j("{}"), 0).nonce != t.nonce);
}

TEST_CASE("after_token continues strictly after the last object", "[query]") {
  SECTION("two keys, ascending then descending") {
    const auto keys = sort_keys("title,-age");
    const json::value last = j(R"({"title":"m","age":5,"last_modified":10})");
    CHECK(query::after_token(keys, last, j(R"({"title":"n","age":99,"last_modified":1})")));
    CHECK_FALSE(query::after_token(keys, last, j(R"({"title":"l","age":1,"last_modified":1})")));
    CHECK(query::after_token(keys, last, j(R"({"title":"m","age":4,"last_modified":99})")));
    CHECK_FALSE(query::after_token(keys, last, j(R"({"title":"m","age":6,"last_modified":1})")));
    CHECK(query::after_token(keys, last, j(R"({"title":"m","age":5,"last_modified":9})")));
    CHECK_FALSE(query::after_token(keys, last, j(R"({"title":"m","age":5,"last_modified":10})")));
    CHECK_FALSE(query::after_token(keys, last, j(R"({"title":"m","age":5,"last_modified":11})")));
  }
  SECTION("a key missing from the last object is an absent value") {
    const auto keys = sort_keys("title");
    const json::value last = j(R"({"last_modified":10})");
    CHECK_FALSE(query::after_token(keys, last, j(R"({"title":"zzz","last_modified":1})")));
    CHECK(query::after_token(keys, last, j(R"({"last_modified":9})")));
    CHECK_FALSE(query::after_token(keys, last, j(R"({"last_modified":11})")));
    const auto descending = sort_keys("-title");
    CHECK(query::after_token(descending, last, j(R"({"title":"zzz","last_modified":99})")));
  }
  SECTION("pages chained through tokens visit every object once, in order") {
    std::vector<json::value> objects;
    const char* titles[] = {R"("a")", R"("b")", "null", "1", "true", "[1]", R"({"k":1})", R"("a")"};
    for (int i = 0; i < 16; ++i) {
      json::value o = json::value::object();
      o.set("id", json::value(std::to_string(i)));
      o.set("last_modified", json::value(100 + i));
      if (i % 8 != 7) o.set("title", j(titles[i % 8]));
      json::value nested = json::value::object();
      if (i % 3) nested.set("n", json::value(i % 4));
      o.set("meta", std::move(nested));
      objects.push_back(std::move(o));
    }
    for (const char* sort : {"title", "-title", "title,-meta.n", "-meta.n,title", "meta.n,-title,last_modified", ""}) {
      INFO("sort: " << sort);
      const auto keys = sort_keys(sort);
      std::sort(objects.begin(), objects.end(),
                [&](const json::value& a, const json::value& b) { return query::compare_by(keys, a, b) < 0; });
      for (std::size_t i = 0; i < objects.size(); ++i) {
        auto decoded = query::decode_token(query::encode_token(query::token_after(keys, objects[i], 0)));
        REQUIRE(std::holds_alternative<query::token>(decoded));
        const json::value& last = std::get<query::token>(decoded).last_object;
        for (std::size_t k = 0; k < objects.size(); ++k) {
          INFO("last: " << json::serialize(objects[i]) << " candidate: " << json::serialize(objects[k]));
          CHECK(query::after_token(keys, last, objects[k]) == (k > i));
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// _fields

TEST_CASE("project keeps the listed fields plus id and last_modified", "[query]") {
  const json::value o = j(R"({"title":"walk dog","done":true,"age":9,"id":"rec-2","extra":42,"last_modified":7})");
  CHECK(json::serialize(query::project(o, {"title", "age"})) ==
        R"({"title":"walk dog","age":9,"id":"rec-2","last_modified":7})");
  CHECK(json::serialize(query::project(o, {})) == R"({"id":"rec-2","last_modified":7})");
  CHECK(json::serialize(query::project(o, {"nope", "id"})) == R"({"id":"rec-2","last_modified":7})");
  CHECK(json::serialize(query::project(j(R"({"id":"a","last_modified":1,"x":null})"), {"x"})) ==
        R"({"x":null,"id":"a","last_modified":1})");
}

TEST_CASE("project keeps nesting for dotted fields", "[query]") {
  const json::value o =
      j(R"({"id":"a","last_modified":1,"address":{"street":"s","city":"c","geo":{"lat":1,"lon":2}},"tags":["x"]})");
  SECTION("one nested field") {
    CHECK(json::serialize(query::project(o, {"address.street"})) ==
          R"({"address":{"street":"s"},"id":"a","last_modified":1})");
  }
  SECTION("several nested fields merge") {
    CHECK(json::serialize(query::project(o, {"address.street", "address.geo.lat", "address.city"})) ==
          R"({"address":{"street":"s","geo":{"lat":1},"city":"c"},"id":"a","last_modified":1})");
  }
  SECTION("a whole object and a part of it") {
    CHECK(query::project(o, {"address.street", "address"}) == query::project(o, {"address"}));
    CHECK(query::project(o, {"address", "address.street"}) == query::project(o, {"address"}));
  }
  SECTION("a path through a non-object keeps that value whole") {
    CHECK(json::serialize(query::project(o, {"tags.0"})) == R"({"tags":["x"],"id":"a","last_modified":1})");
  }
  SECTION("a missing nested field leaves an empty parent, as upstream") {
    CHECK(json::serialize(query::project(o, {"address.zip"})) == R"({"address":{},"id":"a","last_modified":1})");
    CHECK(json::serialize(query::project(o, {"nope.zip"})) == R"({"id":"a","last_modified":1})");
  }
}

TEST_CASE("project drops deleted from tombstones unless requested", "[query]") {
  const json::value tombstone = j(R"({"id":"r","last_modified":5,"deleted":true})");
  CHECK(json::serialize(query::project(tombstone, {"title"})) == R"({"id":"r","last_modified":5})");
  CHECK(json::serialize(query::project(tombstone, {"deleted"})) == R"({"deleted":true,"id":"r","last_modified":5})");
}
