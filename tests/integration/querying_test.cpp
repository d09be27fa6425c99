// Integration tests of plural endpoints (querying.md): value typing, filters,
// sorting and pagination. Uses harness.hpp only.
#include "querying_support.hpp"

using namespace querying_support;

// ---- §1 response shape -------------------------------------------------------------

TEST_CASE("an empty list answers an empty data array with a stable quoted-integer ETag", "[querying]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto first = server.request("GET", records, {}, owner());
  REQUIRE_THAT(first, is_json(200));
  CHECK(first.json() == parse_json(R"({"data": []})"));
  CHECK(std::regex_match(first.header("ETag"), std::regex("^\"[0-9]+\"$")));
  CHECK(first.header("Last-Modified") == http_date(etag_value(first)));
  CHECK(first.header("Cache-Control") == "no-cache, no-store");
  CHECK(first.header("Content-Type").starts_with("application/json"));
  CHECK_FALSE(first.has_header("Next-Page"));

  auto second = server.request("GET", records, {}, owner());
  REQUIRE_THAT(second, is_json(200));
  CHECK(second.header("ETag") == first.header("ETag"));
  CHECK(second.json() == first.json());
}

// ---- §2 typing of values, §3 filters ------------------------------------------------

TEST_CASE("a filter value is typed as JSON when it parses and kept as a string otherwise", "[querying]") {
  kintod_process server;
  seed(server, {{"num", R"({"author": 2, "flag": true})"},
                {"str", R"({"author": "2", "flag": "true"})"},
                {"ben", R"({"author": "Ben", "flag": false})"},
                {"nul", R"({"author": null, "status": "1.2.3"})"},
                {"12", R"({"author": 12.0, "status": 1.2})"},
                {"none", R"({})"}});
  auto m = [&](const std::string& query) { return matching(server, records + "?" + query); };

  SECTION("a number matches numbers only, a quoted number strings only") {
    CHECK(m("author=2") == ids{"num"});
    CHECK(m("author=" + url_encode("\"2\"")) == ids{"str"});
    CHECK(m("author=2.0") == ids{"num"});
    CHECK(m("author=12") == ids{"12"});
  }
  SECTION("a bare word and a quoted word are the same string") {
    CHECK(m("author=Ben") == ids{"ben"});
    CHECK(m("author=" + url_encode("\"Ben\"")) == ids{"ben"});
  }
  SECTION("a value that is not JSON is a string") {
    CHECK(m("status=1.2.3") == ids{"nul"});
    CHECK(m("status=1.2") == ids{"12"});
  }
  SECTION("booleans are JSON booleans") {
    CHECK(m("flag=true") == ids{"num"});
    CHECK(m("flag=false") == ids{"ben"});
    CHECK(m("flag=" + url_encode("\"true\"")) == ids{"str"});
  }
  SECTION("null matches only an explicit null") {
    CHECK(m("author=null") == ids{"nul"});
    CHECK(m("author=" + url_encode("\"null\"")).empty());
  }
  SECTION("id is compared as a string even for a number") {
    CHECK(m("id=12") == ids{"12"});
    CHECK(m("id=" + url_encode("\"12\"")) == ids{"12"});
  }
  SECTION("a field no object has matches nothing") { CHECK(m("nosuchfield=1").empty()); }
}

TEST_CASE("an object or array filter value matches only a deeply equal value", "[querying]") {
  kintod_process server;
  seed(server, {{"exact", R"({"attributes": {"ibu": 25}})"},
                {"extra", R"({"attributes": {"ibu": 25, "abv": 5}})"},
                {"text", R"({"attributes": {"ibu": "25"}})"},
                {"list", R"({"attributes": [1, 25]})"},
                {"none", R"({})"}});
  auto m = [&](const std::string& query) { return matching(server, records + "?" + query); };
  CHECK(m("attributes=" + url_encode(R"({"ibu":25})")) == ids{"exact"});
  CHECK(m("attributes=" + url_encode(R"({"ibu": 25.0})")) == ids{"exact"});
  CHECK(m("attributes=" + url_encode("[1,25]")) == ids{"list"});
  CHECK(m("attributes=" + url_encode("[25,1]")).empty());
}

namespace {

void seed_statuses(kintod_process& server) {
  seed(server, {{"s0", R"({"status": 0})"},
                {"s1", R"({"status": 1})"},
                {"s2", R"({"status": 2})"},
                {"s3", R"({"status": 3})"},
                {"sx", R"({"status": "x"})"},
                {"snone", R"({"other": 2})"}});
}

} // namespace

TEST_CASE("comparison filters follow the cross-type order and treat an absent field as greatest", "[querying]") {
  kintod_process server;
  seed_statuses(server);
  auto m = [&](const std::string& query) { return matching(server, records + "?" + query); };
  CHECK(m("eq_status=2") == ids{"s2"});
  CHECK(m("not_status=2") == ids{"s0", "s1", "s3", "sx", "snone"});
  CHECK(m("gt_status=2") == ids{"s3", "snone"});
  CHECK(m("min_status=2") == ids{"s2", "s3", "snone"});
  CHECK(m("lt_status=2") == ids{"s0", "s1", "sx"});
  CHECK(m("max_status=2") == ids{"s0", "s1", "s2", "sx"});
  CHECK(m("lt_status=" + url_encode("\"y\"")) == ids{"sx"});
  CHECK(m("gt_status=2&lt_status=10") == ids{"s3"});
}

TEST_CASE("in_ and exclude_ partition the objects that have the field", "[querying]") {
  kintod_process server;
  seed_statuses(server);
  auto m = [&](const std::string& query) { return matching(server, records + "?" + query); };
  auto in = m("in_status=0,1");
  auto excluded = m("exclude_status=0,1");
  CHECK(in == ids{"s0", "s1"});
  CHECK(excluded == ids{"s2", "s3", "sx", "snone"});
  auto with_status = m("has_status=true");
  ids union_of_both = in;
  for (const auto& id : excluded)
    if (with_status.count(id)) union_of_both.insert(id);
  CHECK(union_of_both == with_status);
  CHECK(m("in_status=" + url_encode("\"x\",3")) == ids{"sx", "s3"});
  CHECK(m("in_status=" + url_encode("\"0\",\"1\"")).empty());
}

TEST_CASE("in_id and exclude_id take string elements", "[querying]") {
  kintod_process server;
  seed(server, {{"1", "{}"}, {"2", "{}"}, {"3", "{}"}, {"a", "{}"}});
  auto m = [&](const std::string& query) { return matching(server, records + "?" + query); };
  CHECK(m("in_id=" + url_encode("\"1\",\"2\"")) == ids{"1", "2"});
  CHECK(m("exclude_id=" + url_encode("\"1\",\"2\"")) == ids{"3", "a"});
  CHECK(m("in_id=a,b") == ids{"a"});
  CHECK_THAT(server.request("GET", records + "?in_id=1,2", {}, owner()), is_kinto_error(400, 107));
}

TEST_CASE("like_ matches strings case-insensitively, as a substring unless the pattern has a star", "[querying]") {
  kintod_process server;
  seed(server, {{"foo", R"({"title": "Foo"})"},
                {"xfooy", R"({"title": "xfooy"})"},
                {"xfoo", R"({"title": "xfoo"})"},
                {"bar", R"({"title": "bar"})"},
                {"dot", R"({"title": "a.c"})"},
                {"abc", R"({"title": "abc"})"},
                {"ten", R"({"title": "x10x"})"},
                {"none", R"({"other": "foo"})"}});
  auto m = [&](const std::string& query) { return matching(server, records + "?" + query); };
  CHECK(m("like_title=FoO") == ids{"foo", "xfooy", "xfoo"});
  CHECK(m("like_title=foo*") == ids{"foo"});
  CHECK(m("like_title=*foo") == ids{"foo", "xfoo"});
  CHECK(m("like_title=x*y") == ids{"xfooy"});
  CHECK(m("like_title=*") == ids{"foo", "xfooy", "xfoo", "bar", "dot", "abc", "ten"});
  CHECK(m("like_title=" + url_encode("\"10\"")) == ids{"ten"});
  // querying.md §3.2: implementations SHOULD treat every character but '*' literally.
  CHECK(m("like_title=a.c") == ids{"dot"});
}

TEST_CASE("has_ tests presence, an explicit null counting as present", "[querying]") {
  kintod_process server;
  seed(server, {{"xnull", R"({"x": null})"}, {"xone", R"({"x": 1})"}, {"xfalse", R"({"x": false})"}, {"none", "{}"}});
  CHECK(matching(server, records + "?has_x=true") == ids{"xnull", "xone", "xfalse"});
  CHECK(matching(server, records + "?has_x=false") == ids{"none"});
}

TEST_CASE("contains_ needs every element and contains_any_ one of them, on arrays only", "[querying]") {
  kintod_process server;
  seed(server, {{"rgb", R"({"colors": ["red", "blue", "green"]})"},
                {"red", R"({"colors": ["red"]})"},
                {"blue", R"({"colors": ["blue"]})"},
                {"scalar", R"({"colors": "red"})"},
                {"object", R"({"colors": {"red": true, "blue": true}})"},
                {"nested", R"({"colors": [["red"]]})"},
                {"none", "{}"}});
  auto m = [&](const std::string& query) { return matching(server, records + "?" + query); };
  CHECK(m("contains_colors=" + url_encode(R"(["red","blue"])")) == ids{"rgb"});
  CHECK(m("contains_any_colors=" + url_encode(R"(["red","blue"])")) == ids{"rgb", "red", "blue"});
  CHECK(m("contains_colors=red") == ids{"rgb", "red"});
  CHECK(m("contains_any_colors=" + url_encode(R"([["red"]])")) == ids{"nested"});
}

TEST_CASE("a dotted filter field tests a nested value and a path through a non-object is absent", "[querying]") {
  kintod_process server;
  seed(server, {{"v1", R"({"party": {"voters": 1}})"},
                {"v2", R"({"party": {"voters": 2}})"},
                {"scalar", R"({"party": 1})"},
                {"deep", R"({"party": {"voters": {"count": 1}}})"},
                {"none", "{}"}});
  auto m = [&](const std::string& query) { return matching(server, records + "?" + query); };
  CHECK(m("party.voters=1") == ids{"v1"});
  CHECK(m("not_party.voters=1") == ids{"v2", "scalar", "deep", "none"});
  CHECK(m("has_party.voters=false") == ids{"scalar", "none"});
  CHECK(m("party.voters.count=1") == ids{"deep"});
  CHECK(m("gt_party.voters=1") == ids{"v2", "deep", "scalar", "none"});
  CHECK(listed(server, records + "?_sort=party.voters") == id_list{"v1", "v2", "deep", "none", "scalar"});
}

TEST_CASE("a parameter name is an operator and a field only when it matches the operator pattern", "[querying]") {
  kintod_process server;
  seed(server, {{"o1", R"({"like_a-b": 1})"},
                {"o2", R"({"madmax_x": 1})"},
                {"o3", R"({"found": 1, "not_found": 1})"},
                {"o4", R"({"found": 2})"}});
  auto m = [&](const std::string& query) { return matching(server, records + "?" + query); };
  CHECK(m("like_a-b=1") == ids{"o1"});
  CHECK(m("madmax_x=1") == ids{"o2"});
  CHECK(m("not_found=1") == ids{"o1", "o2", "o4"});
  CHECK(m("eq_not_found=1") == ids{"o3"});
  CHECK(m("%20found%20=2") == ids{"o4"});
}

TEST_CASE("an unknown underscore parameter is ignored", "[querying]") {
  kintod_process server;
  seed(server, {{"a", R"({"n": 1})"}, {"b", R"({"n": 2})"}});
  std::string query;
  id_list expected;
  SECTION("_xyz") {
    query = "?_xyz=1";
    expected = {"b", "a"};
  }
  SECTION("a cache-buster") {
    query = "?_expected=123";
    expected = {"b", "a"};
  }
  SECTION("next to a filter") {
    query = "?_xyz=1&n=1";
    expected = {"a"};
  }
  INFO(query);
  CHECK(listed(server, records + query) == expected);
}

// ---- bad input ---------------------------------------------------------------------------

namespace {

struct bad_query {
  std::string query;                   ///< "{future}" stands for a timestamp three days ahead
  std::optional<std::string> name;     ///< expected details[0].name; nullopt: null
  std::string description;             ///< expected description; empty: not checked
};

} // namespace

TEST_CASE("a malformed query parameter is answered with 400 errno 107 naming it", "[querying]") {
  const std::string nul_name("ti\0tle", 6);
  auto bad = GENERATE_COPY(values<bad_query>({
      {"_limit=-1", "_limit", ""},
      {"_limit=abc", "_limit", "\"abc\" is not a number"},
      {"_limit=1.5", "_limit", ""},
      {"_since=abc", "_since", "\"abc\" is not a number"},
      {"_since=", "_since", ""},
      {"_since=123%22", "_since", ""},
      {"_since=-1", "_since", ""},
      {"_since={future}", "_since", "Invalid value for _since"},
      {"_before=99999999999999", "_before", "Invalid value for _before"},
      {"_to=abc", "_to", ""},
      {"last_modified=abc", "last_modified", ""},
      {"last_modified=%22123", "last_modified", ""},
      {"gt_last_modified={future}", "gt_last_modified", "Invalid value for gt_last_modified"},
      {"in_last_modified=1,a", "in_last_modified", "Invalid value for in_last_modified"},
      {"in_id=1,2", "in_id", "Invalid value for in_id"},
      {"exclude_id=1", "exclude_id", "Invalid value for exclude_id"},
      {"like_title=10", "like_title", "Invalid value for like_title"},
      {"contains_id=a", "contains_id", "Field 'id' is not an array"},
      {"contains_any_last_modified=1", "contains_any_last_modified", ""},
      {"title=a%00b", "title", "Invalid character 0x00"},
      {"title=" + url_encode(R"("a\u0000b")"), "title", "Invalid character 0x00"},
      {"ti%00tle=1", nul_name, "Invalid character 0x00"},
      {"_token=123", std::nullopt, "_token has invalid content"},
      {"_token=" + url_encode("#not base64#"), std::nullopt, "_token has invalid content"},
      {"_token=" + url_encode(base64_encode("not json")), std::nullopt, "_token has invalid content"},
      {"_token=" + url_encode(base64_encode("[1, 2]")), std::nullopt, "_token has invalid content"},
      {"_token=" + url_encode(base64_encode(R"({"offset": 2, "nonce": "pagination-token-x"})")), std::nullopt,
       "_token has invalid content"},
      {"_token=" + url_encode(base64_encode(R"({"last_object": 1, "offset": 2, "nonce": "pagination-token-x"})")),
       std::nullopt, "_token has invalid content"},
  }));
  kintod_process server;
  create_collection(server, "b", "c");
  std::string query = bad.query;
  if (auto pos = query.find("{future}"); pos != std::string::npos)
    query.replace(pos, 8, std::to_string(list_etag(server, records) + 3 * day_ms));
  INFO("GET " << records << "?" << query);
  check_bad_query(server.request("GET", records + "?" + query, {}, owner()), bad.name, bad.description);
}

TEST_CASE("a query string that is not valid UTF-8 answers 400 Bad Request", "[querying]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string query;
  SECTION("in a value") { query = "title=%ff"; }
  SECTION("in a name") { query = "ti%C3%28tle=1"; }
  SECTION("in _since") { query = "_since=1%ff"; }
  INFO(query);
  auto r = server.request("GET", records + "?" + query, {}, owner());
  REQUIRE_THAT(r, is_kinto_error(400, 107));
  auto body = r.json();
  CHECK(str_at(body, "error") == "Bad Request");
  CHECK(str_at(body, "message").starts_with("A request with an incorrect encoding in the querystring was"));
  CHECK(find_path(body, "details") == nullptr);
  CHECK(server.healthy());
}

// ---- §4 sorting -----------------------------------------------------------------------------

TEST_CASE("_sort orders by its keys, ties newest first, objects lacking the field last ascending", "[querying]") {
  kintod_process server;
  seed(server, {{"a1", R"({"title": "b"})"},
                {"a2", R"({"title": "a"})"},
                {"a3", R"({"title": "b"})"},
                {"a4", R"({"other": 1})"},
                {"a5", R"({"title": "a"})"},
                {"a6", R"({"title": "c"})"}});
  std::string sort;
  id_list expected;
  SECTION("no _sort: newest first") {
    sort = "";
    expected = {"a6", "a5", "a4", "a3", "a2", "a1"};
  }
  SECTION("title, -last_modified") {
    sort = "title,-last_modified";
    expected = {"a5", "a2", "a3", "a1", "a6", "a4"};
  }
  SECTION("title alone gets -last_modified appended") {
    sort = "title";
    expected = {"a5", "a2", "a3", "a1", "a6", "a4"};
  }
  SECTION("+title is ascending") {
    sort = "%2Btitle";
    expected = {"a5", "a2", "a3", "a1", "a6", "a4"};
  }
  SECTION("-title puts objects lacking the field first") {
    sort = "-title";
    expected = {"a4", "a6", "a3", "a1", "a5", "a2"};
  }
  SECTION("title, last_modified breaks ties oldest first") {
    sort = "title,last_modified";
    expected = {"a2", "a5", "a1", "a3", "a6", "a4"};
  }
  SECTION("keys with invalid characters are ignored") {
    sort = "%40%40,%20title%20";
    expected = {"a5", "a2", "a3", "a1", "a6", "a4"};
  }
  SECTION("a field no object has leaves the default order") {
    sort = "nosuch";
    expected = {"a6", "a5", "a4", "a3", "a2", "a1"};
  }
  INFO("_sort=" << sort);
  CHECK(listed(server, records + (sort.empty() ? "" : "?_sort=" + sort)) == expected);
}

TEST_CASE("_sort orders across types: null, string, number, boolean, array, object, absent", "[querying]") {
  kintod_process server;
  // Created in an order unrelated to the expected one.
  seed(server, {{"object", R"({"v": {"a": 1}})"},
                {"ten", R"({"v": 10})"},
                {"true", R"({"v": true})"},
                {"lower", R"({"v": "b"})"},
                {"absent", R"({"w": 1})"},
                {"array", R"({"v": [1]})"},
                {"two", R"({"v": 2})"},
                {"null", R"({"v": null})"},
                {"false", R"({"v": false})"},
                {"upper", R"({"v": "B"})"}});
  id_list ascending{"null", "upper", "lower", "two", "ten", "false", "true", "array", "object", "absent"};
  CHECK(listed(server, records + "?_sort=v") == ascending);
  id_list descending(ascending.rbegin(), ascending.rend());
  CHECK(listed(server, records + "?_sort=-v") == descending);
}

// ---- §4 pagination ------------------------------------------------------------------------

TEST_CASE("following Next-Page from _limit=2 lists 5 objects once each in order", "[querying]") {
  kintod_process server;
  seed(server, {{"p1", "{}"}, {"p2", "{}"}, {"p3", "{}"}, {"p4", "{}"}, {"p5", "{}"}});
  std::vector<std::size_t> sizes;
  id_list seen;
  std::string target = records + "?_limit=2";
  for (int guard = 0; guard < 10; ++guard) {
    auto r = server.request("GET", target, {}, owner());
    REQUIRE_THAT(r, is_json(200));
    auto page = ids_of(r.json());
    sizes.push_back(page.size());
    seen.insert(seen.end(), page.begin(), page.end());
    if (!r.has_header("Next-Page")) break;
    target = target_of(server, r.header("Next-Page"));
  }
  CHECK(sizes == std::vector<std::size_t>{2, 2, 1});
  CHECK(seen == id_list{"p5", "p4", "p3", "p2", "p1"});
}

TEST_CASE("exactly _limit matching objects give no Next-Page", "[querying]") {
  kintod_process server;
  seed(server, {{"p1", R"({"k": 1})"}, {"p2", R"({"k": 1})"}, {"p3", R"({"k": 1})"}, {"p4", R"({"k": 2})"}});
  std::string query;
  std::size_t expected = 0;
  SECTION("the whole list") {
    query = "?_limit=4";
    expected = 4;
  }
  SECTION("a filtered list") {
    query = "?k=1&_limit=3";
    expected = 3;
  }
  INFO(query);
  auto r = server.request("GET", records + query, {}, owner());
  REQUIRE_THAT(r, is_json(200));
  CHECK(at(r.json(), "data").as_array().size() == expected);
  CHECK_FALSE(r.has_header("Next-Page"));
}

TEST_CASE("Next-Page is an absolute URL keeping every query parameter", "[querying]") {
  kintod_process server;
  seed(server, {{"n1", R"({"status": 1, "title": "c", "body": "x"})"},
                {"n2", R"({"status": 2, "title": "a", "body": "x"})"},
                {"n3", R"({"status": 1, "title": "a", "body": "x"})"},
                {"n4", R"({"status": 1, "title": "b", "body": "x"})"}});
  std::string target = records + "?status=1&_sort=title&_fields=title&_since=0&_expected=7&_limit=1";
  id_list seen;
  int pages = 0;
  for (int guard = 0; guard < 10; ++guard) {
    auto r = server.request("GET", target, {}, owner());
    REQUIRE_THAT(r, is_json(200));
    ++pages;
    auto body = r.json();
    for (const auto& obj : at(body, "data").as_array()) {
      seen.push_back(str_at(obj, "id"));
      CHECK(keys_at(obj) == std::vector<std::string>{"id", "last_modified", "title"});
    }
    if (!r.has_header("Next-Page")) break;
    std::string next = r.header("Next-Page");
    INFO("Next-Page: " << next);
    CHECK(next.starts_with(server.url(records + "?")));
    auto params = params_of(next);
    CHECK(values_of(params, "status") == std::vector<std::string>{"1"});
    CHECK(values_of(params, "_sort") == std::vector<std::string>{"title"});
    CHECK(values_of(params, "_fields") == std::vector<std::string>{"title"});
    CHECK(values_of(params, "_since") == std::vector<std::string>{"0"});
    CHECK(values_of(params, "_expected") == std::vector<std::string>{"7"});
    CHECK(values_of(params, "_limit") == std::vector<std::string>{"1"});
    CHECK(values_of(params, "_token").size() == 1);
    target = target_of(server, next);
  }
  CHECK(pages == 3);
  CHECK(seen == id_list{"n3", "n4", "n1"});
}

TEST_CASE("a _token decodes to last_object, offset and nonce", "[querying]") {
  kintod_process server;
  auto ts = seed(server, {{"t1", R"({"title": "a"})"},
                          {"t2", R"({"title": "b"})"},
                          {"t3", R"({"other": 1})"},
                          {"t4", R"({"title": "c", "party": {"voters": 3}})"}});
  std::string query;
  value expected_last;
  SECTION("default order") {
    query = "?_limit=1";
    expected_last = parse_json(R"({"last_modified": )" + std::to_string(ts["t4"]) + "}");
  }
  SECTION("a field ascending") {
    query = "?_sort=title&_limit=3";
    expected_last = parse_json(R"({"title": "c", "last_modified": )" + std::to_string(ts["t4"]) + "}");
  }
  SECTION("a field the last object lacks is omitted") {
    query = "?_sort=-title&_limit=1";
    expected_last = parse_json(R"({"last_modified": )" + std::to_string(ts["t3"]) + "}");
  }
  SECTION("a dotted field keeps its dotted name") {
    query = "?_sort=party.voters&_limit=1";
    expected_last = parse_json(R"({"party.voters": 3, "last_modified": )" + std::to_string(ts["t4"]) + "}");
  }
  INFO(query);
  auto r = server.request("GET", records + query, {}, owner());
  REQUIRE_THAT(r, is_json(200));
  REQUIRE(r.has_header("Next-Page"));
  auto raw = values_of(params_of(r.header("Next-Page")), "_token");
  REQUIRE(raw.size() == 1);
  CHECK(std::regex_match(raw.front(), std::regex("^[A-Za-z0-9+/]+={0,2}$")));
  auto token = token_of(r.header("Next-Page"));
  CHECK(keys_at(token) == std::vector<std::string>{"last_object", "nonce", "offset"});
  CHECK(at(token, "last_object") == expected_last);
  CHECK(at(token, "offset").is_integer());
  CHECK(std::regex_match(str_at(token, "nonce"),
                         std::regex("^pagination-token-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                    "[0-9a-f]{12}$")));
}

TEST_CASE("a GET pagination token can be used again", "[querying]") {
  kintod_process server;
  seed(server, {{"a", "{}"}, {"b", "{}"}, {"c", "{}"}});
  auto first = server.request("GET", records + "?_limit=1", {}, owner());
  REQUIRE(first.has_header("Next-Page"));
  std::string next = target_of(server, first.header("Next-Page"));
  auto once = server.request("GET", next, {}, owner());
  auto twice = server.request("GET", next, {}, owner());
  REQUIRE_THAT(once, is_json(200));
  REQUIRE_THAT(twice, is_json(200));
  CHECK(ids_of(once.json()) == id_list{"b"});
  CHECK(twice.json() == once.json());
  CHECK(twice.header("Next-Page") != "");
}

TEST_CASE("paginate_by caps _limit and _limit=0 lifts it", "[querying]") {
  kintod_process server({.settings = {{"kinto.paginate_by", "5"}}});
  seed_list objects;
  for (int i = 0; i < 8; ++i) objects.emplace_back("r" + std::to_string(i), "{}");
  seed(server, objects);
  std::string query;
  std::size_t expected = 0;
  std::string next_limit;
  SECTION("no _limit") {
    expected = 5;
    next_limit = "5";
  }
  SECTION("a larger _limit") {
    query = "?_limit=10";
    expected = 5;
    next_limit = "5";
  }
  SECTION("a smaller _limit") {
    query = "?_limit=3";
    expected = 3;
    next_limit = "3";
  }
  SECTION("_limit=0") {
    query = "?_limit=0";
    expected = 8;
  }
  INFO("GET " << records << query);
  auto r = server.request("GET", records + query, {}, owner());
  REQUIRE_THAT(r, is_json(200));
  CHECK(at(r.json(), "data").as_array().size() == expected);
  if (next_limit.empty())
    CHECK_FALSE(r.has_header("Next-Page"));
  else
    CHECK(values_of(params_of(r.header("Next-Page")), "_limit") == std::vector<std::string>{next_limit});
}

TEST_CASE("storage_max_fetch_size caps every page and every plural DELETE", "[querying]") {
  kintod_process server({.settings = {{"kinto.storage_max_fetch_size", "3"}}});
  seed(server, {{"r1", "{}"}, {"r2", "{}"}, {"r3", "{}"}, {"r4", "{}"}, {"r5", "{}"}});
  SECTION("GET") {
    for (std::string query : {"", "?_limit=10", "?_limit=0"}) {
      INFO("GET " << records << query);
      auto r = server.request("GET", records + query, {}, owner());
      REQUIRE_THAT(r, is_json(200));
      CHECK(at(r.json(), "data").as_array().size() == 3);
      CHECK(values_of(params_of(r.header("Next-Page")), "_limit") == std::vector<std::string>{"3"});
    }
  }
  SECTION("DELETE") {
    auto r = server.request("DELETE", records, {}, owner());
    REQUIRE_THAT(r, is_json(200));
    CHECK(ids_of(r.json()) == id_list{"r5", "r4", "r3"});
    REQUIRE(r.has_header("Next-Page"));
    auto rest = server.request("DELETE", target_of(server, r.header("Next-Page")), {}, owner());
    REQUIRE_THAT(rest, is_json(200));
    CHECK(ids_of(rest.json()) == id_list{"r2", "r1"});
    CHECK_FALSE(rest.has_header("Next-Page"));
    CHECK(listed(server, records).empty());
  }
}

// ---- pagination while the list changes ---------------------------------------------------

