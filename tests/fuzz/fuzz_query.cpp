// libFuzzer target: the query language of plural endpoints (schema/query.hpp).
// The input is a raw query string ("min_age=4&_sort=-age&_fields=title"),
// split and percent-decoded as the router does, parsed with both field
// policies (any field; history's known fields), then evaluated against a
// fixed set of records: filters, sorting, pagination tokens and `_fields`.
// Besides crashes it checks that the sort order is a consistent order and
// that tokens continue exactly after the object they were made from.
#include "fuzz_support.hpp"
#include "base/json.hpp"
#include "schema/query.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace {

using namespace kinto;
using kinto::fuzz::require;

/// A fixed "now" so that timestamp checks do not depend on the clock.
constexpr std::uint64_t now_ms = 1795786476200;

/// Records and tombstones with the JSON types filters and sorts meet: more
/// than 16, so that std::sort goes past its insertion sort.
const std::vector<json::value>& records() {
  static const std::vector<json::value> all = [] {
    std::vector<json::value> out;
    for (const char* text : {
             R"({"id":"a","last_modified":1795786476117,"title":"dog","age":3,"done":false})",
             R"({"id":"b","last_modified":1795786476118,"title":"Cat","age":9,"done":true,"tags":["x","y"]})",
             R"({"id":"c","last_modified":1795786476119,"title":"hot dog","age":3.0,"nested":{"k":[1,{"x":null}]}})",
             R"({"id":"d","last_modified":1795786476120,"deleted":true})",
             R"({"id":"e","last_modified":1795786476121,"title":null,"age":"3"})",
             R"({"id":"f","last_modified":1795786476122,"title":"\u00e9t\u00e9 \ud83d\ude00","age":-1e3})",
             R"({"id":"g","last_modified":1795786476123,"age":36893488147419103232,"tags":[]})",
             R"({"id":"h","last_modified":1795786476124,"title":["dog"],"age":{"years":3}})",
             R"({"id":"i","last_modified":1795786476125,"title":"","age":0,"done":null})",
             R"({"id":"j","last_modified":1795786476126,"title":"DOG","tags":["y",{"a":1},2]})",
             R"({"id":"10","last_modified":1795786476127,"age":1e-7,"nested":{"k":"v"}})",
             R"({"id":"k","last_modified":1795786476128,"title":"a*b","age":true})",
             R"({"id":"l","last_modified":1795786476129,"party":{"voters":120,"name":"x"}})",
             R"({"id":"m","last_modified":1795786476130,"deleted":true})",
             R"({"id":"n","last_modified":1795786476131,"title":"dog","age":3,"done":false})",
             R"({"id":"o","last_modified":1795786476132,"title":"cat","age":-0,"done":0})",
             R"({"id":"p","last_modified":1795786476133,"title":"z","age":9223372036854775807})",
             R"({"id":"q","last_modified":1795786476134,"title":"dog","age":3e0,"tags":["x"]})",
             R"({"id":"r","last_modified":1795786476135,"uri":"/buckets/b","action":"create","user_id":"x"})",
             R"({"id":"s","last_modified":1795786476136,"title":"y","nested":null})",
         }) {
      std::string error;
      auto v = json::parse(text, error);
      require(v.has_value(), "the fixed records parse");
      out.push_back(std::move(*v));
    }
    return out;
  }();
  return all;
}

/// Name and value pairs of a query string, decoded; pairs with a bad escape
/// are dropped (the router refuses the whole request).
std::vector<std::pair<std::string, std::string>> split_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string name, value;
    if (!fuzz::percent_decode(pair.substr(0, eq), name, true) ||
        !fuzz::percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), value, true))
      continue;
    params.emplace_back(std::move(name), std::move(value));
  }
  return params;
}

int sign(int c) {
  return (c > 0) - (c < 0);
}

void evaluate(const query::request& q) {
  const auto& all = records();
  for (const json::value& r : all) (void)query::matches_all(q.filters, r);

  // compare_by must be an order: antisymmetric, and sorted output ascending.
  for (const json::value& a : all)
    for (const json::value& b : all)
      require(sign(query::compare_by(q.sort, a, b)) == -sign(query::compare_by(q.sort, b, a)),
              "compare_by is antisymmetric");
  std::vector<json::value> sorted = all;
  std::sort(sorted.begin(), sorted.end(),
            [&](const json::value& a, const json::value& b) { return query::compare_by(q.sort, a, b) < 0; });
  for (std::size_t i = 0; i + 1 < sorted.size(); ++i)
    require(query::compare_by(q.sort, sorted[i], sorted[i + 1]) <= 0, "sorted records are in order");

  // A token made from a record continues exactly after it.
  for (const json::value& last : all) {
    const query::token t = query::token_after(q.sort, last, 0);
    auto decoded = query::decode_token(query::encode_token(t));
    require(std::holds_alternative<query::token>(decoded), "a token made from a record decodes");
    const json::value& last_object = std::get<query::token>(decoded).last_object;
    for (const json::value& r : all)
      require(query::after_token(q.sort, last_object, r) == (query::compare_by(q.sort, r, last) > 0),
              "after_token agrees with compare_by");
  }
  if (q.token) {
    auto decoded = query::decode_token(*q.token);
    require(std::holds_alternative<query::token>(decoded), "a parsed _token decodes");
    for (const json::value& r : all) (void)query::after_token(q.sort, std::get<query::token>(decoded).last_object, r);
  }
  if (q.fields)
    for (const json::value& r : all) require(query::project(r, *q.fields).is_object(), "a projection is an object");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto params = split_query(input);

  query::field_policy history;
  history.any = false;
  history.known_roots = {"id",        "last_modified", "action",        "uri",       "user_id", "resource_name",
                         "bucket_id", "group_id",      "collection_id", "record_id", "date",    "target"};
  for (const query::field_policy& policy : {query::field_policy{}, history}) {
    auto parsed = query::parse(params, now_ms, policy);
    if (auto* e = std::get_if<error>(&parsed)) {
      require(e->status == 400, "a bad query is a 400");
      continue;
    }
    evaluate(std::get<query::request>(parsed));
  }
  return 0;
}
