// Unit tests of the JSON document model: parsing, serialization, equality
// and value semantics. Depends only on base/json.hpp and Catch2.
#include "base/json.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace Catch {
template <> struct StringMaker<kinto::json::value> {
  static std::string convert(const kinto::json::value& v) { return kinto::json::serialize(v); }
};
} // namespace Catch

using kinto::json::array_t;
using kinto::json::member;
using kinto::json::object_t;
using kinto::json::value;

namespace {

value must_parse(std::string_view text, std::size_t max_depth = kinto::json::default_max_depth) {
  std::string error;
  auto v = kinto::json::parse(text, error, max_depth);
  INFO("input: " << text << " error: " << error);
  REQUIRE(v.has_value());
  CHECK(error.empty());
  return std::move(*v);
}

std::string parse_error(std::string_view text, std::size_t max_depth = kinto::json::default_max_depth) {
  std::string error;
  auto v = kinto::json::parse(text, error, max_depth);
  INFO("input: " << text);
  REQUIRE_FALSE(v.has_value());
  REQUIRE_FALSE(error.empty());
  return error;
}

std::string round_trip(std::string_view text) { return kinto::json::serialize(must_parse(text)); }

/// `depth` nested arrays, or objects each holding the next under "k".
std::string nested(std::size_t depth, char open, char close) {
  std::string s;
  for (std::size_t i = 0; i < depth; ++i) {
    s += open;
    if (open == '{' && i + 1 < depth) s += "\"k\":";
  }
  s.append(depth, close);
  return s;
}

} // namespace

TEST_CASE("parse keeps number literals exactly as written", "[json]") {
  SECTION("integers beyond 64 bits") {
    CHECK(round_trip("36893488147419103232") == "36893488147419103232");
    CHECK(round_trip("[-36893488147419103232]") == "[-36893488147419103232]");
  }
  SECTION("negative zero") { CHECK(round_trip("[-0]") == "[-0]"); }
  SECTION("exponents and fractions") {
    CHECK(round_trip("[1.5e300,1E5,1e-7,2.50,1E+2]") == "[1.5e300,1E5,1e-7,2.50,1E+2]");
  }
  SECTION("numbers out of double range") { CHECK(round_trip("{\"a\":1e400}") == "{\"a\":1e400}"); }
  SECTION("whitespace around numbers is dropped") {
    CHECK(round_trip("[ 1 , 2\n,\t3 ]") == "[1,2,3]");
    CHECK(round_trip(" 42 ") == "42");
  }
}

TEST_CASE("parse rejects invalid JSON", "[json]") {
  const char* bad = GENERATE("tru", "nul", "[truex]", "01", "[01]", "{\"a\":1", "{} {}", "[1] x", "[1,]",
                             "{\"a\":1,}", "NaN", "[NaN]", "Infinity", "[-Infinity]", "\"\\ud800\"",
                             "[\"\\udc00\"]", "", "   ", "+1", "[.5]", "[1.]", "[1e]", "[-]", "[0x10]",
                             "['a']", "{a:1}", "{\"a\" 1}", "{\"a\":}", "[1 2]", "[", "]", "{\"a\":[1}",
                             "\"abc", "\"a\tb\"", "[\"\\x\"]", "{1:2}", "\"x\" 1", "[1]]");
  std::string error;
  INFO("input: " << bad);
  CHECK_FALSE(kinto::json::parse(bad, error).has_value());
  CHECK_FALSE(error.empty());
}

TEST_CASE("parse reports short useful error messages", "[json]") {
  SECTION("missing value") {
    CHECK(parse_error("") == "Expecting value");
    CHECK(parse_error("tru") == "Expecting value");
  }
  SECTION("trailing content") {
    CHECK(parse_error("{} {}") == "Extra data");
    CHECK(parse_error("[1]]") == "Extra data");
    CHECK(parse_error("1 2") == "Extra data");
    CHECK(parse_error("true false") == "Extra data");
  }
  SECTION("bad encoding") { CHECK(parse_error("[\"\xff\"]") == "Invalid UTF-8"); }
  SECTION("too deep") { CHECK(parse_error(nested(513, '[', ']')) == "Nesting too deep"); }
  SECTION("bad number") { CHECK(parse_error("[1.]") == "Invalid number"); }
  SECTION("control character") {
    CHECK(parse_error("\"a\nb\"") == "Invalid control character in string");
  }
}

TEST_CASE("parse rejects invalid UTF-8", "[json]") {
  SECTION("lone continuation byte") { CHECK(parse_error("\"\x80\"") == "Invalid UTF-8"); }
  SECTION("overlong encoding") { CHECK(parse_error("\"\xc0\xaf\"") == "Invalid UTF-8"); }
  SECTION("encoded surrogate") { CHECK(parse_error("\"\xed\xa0\x80\"") == "Invalid UTF-8"); }
  SECTION("truncated sequence") { CHECK(parse_error("[\"\xe2\x82\"]") == "Invalid UTF-8"); }
  SECTION("beyond U+10FFFF") { CHECK(parse_error("\"\xf4\x90\x80\x80\"") == "Invalid UTF-8"); }
  SECTION("in a key") { CHECK(parse_error("{\"\xfe\":1}") == "Invalid UTF-8"); }
  SECTION("outside any string") { CHECK(parse_error("[1,\xff]") == "Invalid UTF-8"); }
}

TEST_CASE("parse enforces the nesting limit", "[json]") {
  SECTION("arrays up to the limit of bodies are accepted") {
    CHECK(kinto::json::default_max_depth == 512);
    CHECK(kinto::json::serialize(must_parse(nested(512, '[', ']'))) == nested(512, '[', ']'));
  }
  SECTION("one array past the limit is rejected") {
    CHECK(parse_error(nested(513, '[', ']')) == "Nesting too deep");
  }
  SECTION("objects count as levels too") {
    must_parse(nested(512, '{', '}'));
    CHECK(parse_error(nested(513, '{', '}')) == "Nesting too deep");
  }
  SECTION("without a limit, parse accepts a few levels more than a body, for what kintod stores") {
    std::string error;
    CHECK(kinto::json::max_depth >= kinto::json::default_max_depth + 3);
    CHECK(kinto::json::parse(nested(kinto::json::max_depth, '{', '}'), error));
    CHECK_FALSE(kinto::json::parse(nested(kinto::json::max_depth + 1, '{', '}'), error));
    CHECK(error == "Nesting too deep");
  }
  SECTION("a custom limit applies") {
    must_parse("[[1]]", 2);
    CHECK(parse_error("[[1]]", 1) == "Nesting too deep");
    CHECK(parse_error("{}", 0) == "Nesting too deep");
    CHECK(must_parse("1", 0) == value(1));
  }
  SECTION("100000 open brackets fail without exhausting the stack") {
    CHECK_FALSE(parse_error(std::string(100000, '[')).empty());
    CHECK(parse_error(nested(100000, '[', ']')) == "Nesting too deep");
  }
  SECTION("a huge requested limit is still bounded") {
    CHECK(parse_error(nested(100000, '[', ']'), 1000000) == "Nesting too deep");
    CHECK(parse_error(nested(100000, '{', '}'), 1000000) == "Nesting too deep");
    CHECK_FALSE(parse_error(std::string(100000, '{'), 1000000).empty());
  }
}

TEST_CASE("duplicate keys keep the first position and the last value", "[json]") {
  SECTION("small object") {
    CHECK(round_trip("{\"a\":1,\"b\":2,\"a\":3}") == "{\"a\":3,\"b\":2}");
  }
  SECTION("the replaced value may be a container") {
    CHECK(round_trip("{\"a\":[1,2],\"b\":{},\"a\":{\"x\":null}}") == "{\"a\":{\"x\":null},\"b\":{}}");
  }
  SECTION("large object") {
    std::string text = "{";
    std::string expected = "{";
    for (int i = 0; i < 40; ++i) {
      text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
      expected += "\"k" + std::to_string(i) + "\":" + std::to_string(i == 3 ? 100 : i == 30 ? 300 : i);
      expected += i == 39 ? "}" : ",";
    }
    text += "\"k3\":100,\"k30\":300}";
    CHECK(round_trip(text) == expected);
  }
}

TEST_CASE("parse unescapes strings", "[json]") {
  SECTION("short escapes") {
    CHECK(must_parse(R"("\"\\\/\b\f\n\r\t")").as_string() == "\"\\/\b\f\n\r\t");
  }
  SECTION("unicode escapes") { CHECK(must_parse(R"("\u00e9\u20AC")").as_string() == "\xc3\xa9\xe2\x82\xac"); }
  SECTION("surrogate pairs") { CHECK(must_parse(R"("\ud83d\ude00")").as_string() == "\xf0\x9f\x98\x80"); }
  SECTION("escaped NUL stays inside the string") {
    CHECK(must_parse(R"("a\u0000b")").as_string() == std::string("a\0b", 3));
  }
  SECTION("raw UTF-8 is kept") { CHECK(must_parse("\"\xc3\xa9\"").as_string() == "\xc3\xa9"); }
  SECTION("keys are unescaped") {
    value v = must_parse(R"({"a\u00e9\n":1})");
    CHECK(v.find("a\xc3\xa9\n") != nullptr);
  }
}

TEST_CASE("parse accepts any value at the root", "[json]") {
  CHECK(must_parse("true") == value(true));
  CHECK(must_parse("false") == value(false));
  CHECK(must_parse(" null ").is_null());
  CHECK(must_parse("\"x\"") == value("x"));
  CHECK(must_parse("-12.5e3").as_string() == "-12.5e3");
  CHECK(must_parse("\n[]\r\n").as_array().empty());
  CHECK(must_parse("\t{}").as_object().empty());
}

TEST_CASE("parse builds the expected tree", "[json]") {
  value v = must_parse(R"({"a":[1,"x",null,true,{"b":false}],"c":{}})");
  REQUIRE(v.is_object());
  REQUIRE(v.as_object().size() == 2);
  const value* a = v.find("a");
  REQUIRE(a);
  REQUIRE(a->is_array());
  REQUIRE(a->as_array().size() == 5);
  CHECK(a->as_array()[0].as_int64() == 1);
  CHECK(a->as_array()[1].as_string() == "x");
  CHECK(a->as_array()[2].is_null());
  CHECK(a->as_array()[3].as_bool());
  CHECK(a->as_array()[4].find("b")->is_bool());
  CHECK(v.find("c")->is_object());
}

TEST_CASE("parse can be called repeatedly on one thread", "[json]") {
  std::string error;
  auto first = kinto::json::parse(R"({"long key to be overwritten":"value one"})", error);
  auto second = kinto::json::parse(R"(["b"])", error);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(kinto::json::serialize(*first) == R"({"long key to be overwritten":"value one"})");
  CHECK(kinto::json::serialize(*second) == R"(["b"])");
  CHECK_FALSE(kinto::json::parse("[", error));
  CHECK(kinto::json::parse("[2]", error));
  CHECK(error.empty());
}

TEST_CASE("serialize writes compact JSON", "[json]") {
  value v = value::object();
  v.set("a", 1);
  v.set("b", value(array_t{true, nullptr}));
  CHECK(kinto::json::serialize(v) == R"({"a":1,"b":[true,null]})");
  CHECK(kinto::json::serialize(value::array()) == "[]");
  CHECK(kinto::json::serialize(value::object()) == "{}");
  CHECK(kinto::json::serialize(value(false)) == "false");
  CHECK(kinto::json::serialize(value::number("1E5")) == "1E5");
}

TEST_CASE("serialize_to appends to the output", "[json]") {
  std::string out = "prefix:";
  kinto::json::serialize_to(value(array_t{1, "a"}), out);
  CHECK(out == R"(prefix:[1,"a"])");
}

TEST_CASE("serialize escapes strings like Python's json.dumps", "[json]") {
  auto q = [](std::string_view s) {
    std::string out;
    kinto::json::quote_to(s, out);
    return out;
  };
  SECTION("short escapes") { CHECK(q("\"\\\n\r\t\b\f") == R"("\"\\\n\r\t\b\f")"); }
  SECTION("other control characters") {
    CHECK(q(std::string("\x01\x1f\0", 3)) == R"("\u0001\u001f\u0000")");
  }
  SECTION("DEL is escaped") { CHECK(q("\x7f") == R"("\u007f")"); }
  SECTION("non-ASCII as lowercase \\u escapes") {
    CHECK(q("\xc3\xa9") == R"("\u00e9")");
    CHECK(q("\xe2\x82\xac") == R"("\u20ac")");
    CHECK(q("\xef\xbf\xbf") == R"("\uffff")");
  }
  SECTION("astral characters as surrogate pairs") {
    CHECK(q("\xf0\x9f\x98\x80") == R"("\ud83d\ude00")");
    CHECK(q("\xf4\x8f\xbf\xbf") == R"("\udbff\udfff")");
  }
  SECTION("slash is not escaped") { CHECK(q("a/b") == R"("a/b")"); }
  SECTION("plain ASCII is copied") { CHECK(q("hello world ~") == R"("hello world ~")"); }
  SECTION("keys are escaped too") {
    value v = value::object();
    v.set("\xc3\xa9\"", "x");
    CHECK(kinto::json::serialize(v) == R"({"\u00e9\"":"x"})");
  }
}

TEST_CASE("escaping does not depend on where a character sits in a long string", "[json]") {
  auto q = [](std::string_view s) {
    std::string out;
    kinto::json::quote_to(s, out);
    return out;
  };
  // Strings shorter than eight bytes take the byte-by-byte path, so the
  // escape of one character alone is the reference.
  std::vector<std::string> specials;
  for (int c = 0; c < 0x80; ++c) specials.push_back(std::string(1, static_cast<char>(c)));
  specials.push_back("\xc3\xa9");
  specials.push_back("\xf0\x9f\x98\x80");
  specials.push_back("\xff");
  for (const std::string& special : specials) {
    const std::string alone = q(special);
    const std::string escaped = alone.substr(1, alone.size() - 2);
    for (std::size_t pos = 0; pos <= 20; ++pos) {
      const std::string text = std::string(pos, 'a') + special + std::string(20 - pos, 'b');
      const std::string expected = "\"" + std::string(pos, 'a') + escaped + std::string(20 - pos, 'b') + "\"";
      INFO("byte " << static_cast<int>(static_cast<unsigned char>(special[0])) << " at " << pos);
      REQUIRE(q(text) == expected);
    }
  }
}

TEST_CASE("serialize replaces invalid UTF-8 with U+FFFD", "[json]") {
  auto q = [](std::string_view s) {
    std::string out;
    kinto::json::quote_to(s, out);
    return out;
  };
  SECTION("lone continuation byte") { CHECK(q("a\x80z") == R"("a\ufffdz")"); }
  SECTION("truncated sequence at the end") {
    CHECK(q("a\xe2\x82") == R"("a\ufffd\ufffd")");
    CHECK(q("\xf0") == R"("\ufffd")");
  }
  SECTION("overlong encoding") { CHECK(q("\xc0\xaf") == R"("\ufffd\ufffd")"); }
  SECTION("encoded surrogate") { CHECK(q("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")"); }
  SECTION("bytes never valid in UTF-8") { CHECK(q("\xff\xfe") == R"("\ufffd\ufffd")"); }
}

TEST_CASE("parse then serialize round-trips compact ASCII documents", "[json]") {
  const char* doc = GENERATE(R"({"id":"abc","last_modified":1700000000000,"tags":["a","b"],"n":null})",
                             R"([{"a":{"b":[[],{}]}},-1.25e-3,"\u00e9\ud83d\ude00",false])",
                             R"({"":"","\\":"\"","url":"http://x/y"})");
  CHECK(round_trip(doc) == doc);
}

TEST_CASE("integer constructors produce number literals", "[json]") {
  CHECK(value(42).as_string() == "42");
  CHECK(value(-7).is_number());
  CHECK(value(std::numeric_limits<std::int64_t>::min()).as_string() == "-9223372036854775808");
  CHECK(value(std::numeric_limits<std::uint64_t>::max()).as_string() == "18446744073709551615");
  CHECK(value(std::int64_t{0}).as_string() == "0");
}

TEST_CASE("as_int64 returns only integer literals that fit", "[json]") {
  CHECK(value::number("42").as_int64() == 42);
  CHECK(value::number("-0").as_int64() == 0);
  CHECK(value::number("-9223372036854775808").as_int64() == std::numeric_limits<std::int64_t>::min());
  CHECK(value::number("9223372036854775807").as_int64() == std::numeric_limits<std::int64_t>::max());
  CHECK_FALSE(value::number("9223372036854775808").as_int64());
  CHECK_FALSE(value::number("36893488147419103232").as_int64());
  CHECK_FALSE(value::number("1.0").as_int64());
  CHECK_FALSE(value::number("1e2").as_int64());
  CHECK_FALSE(value("12").as_int64());
  CHECK_FALSE(value(true).as_int64());
}

TEST_CASE("as_double converts any number literal", "[json]") {
  CHECK(value::number("1.5").as_double() == 1.5);
  CHECK(value::number("1E5").as_double() == 100000.0);
  CHECK(value::number("-2").as_double() == -2.0);
  CHECK(value::number("36893488147419103232").as_double() == 36893488147419103232.0);
  CHECK(std::isinf(value::number("1e400").as_double()));
  CHECK(value::number("-1e400").as_double() < 0);
  CHECK(value::number("1e-400").as_double() == 0.0);
}

TEST_CASE("is_integer is true only for literals without fraction or exponent", "[json]") {
  CHECK(value::number("10").is_integer());
  CHECK(value::number("-36893488147419103232").is_integer());
  CHECK_FALSE(value::number("1.0").is_integer());
  CHECK_FALSE(value::number("1e3").is_integer());
  CHECK_FALSE(value::number("1E3").is_integer());
  CHECK_FALSE(value("10").is_integer());
  CHECK_FALSE(value().is_integer());
}

TEST_CASE("numbers compare equal by value", "[json]") {
  SECTION("integers and their float spellings") {
    CHECK(value::number("1") == value::number("1.0"));
    CHECK(value::number("100") == value::number("1e2"));
    CHECK(value::number("1.5") == value::number("15E-1"));
    CHECK(value::number("1") != value::number("1.5"));
  }
  SECTION("zero and negative zero") {
    CHECK(value::number("-0") == value::number("0"));
    CHECK(value::number("-0.0") == value::number("0"));
  }
  SECTION("big integers compare exactly") {
    CHECK(value::number("36893488147419103232") == value::number("36893488147419103232"));
    // Equal as doubles, different as integers.
    CHECK(value::number("36893488147419103232") != value::number("36893488147419103233"));
    CHECK(value::number("-36893488147419103232") != value::number("36893488147419103232"));
  }
  SECTION("constructed and parsed numbers agree") {
    CHECK(value(5) == must_parse("5.0"));
    CHECK(value(std::int64_t{-3}) == must_parse("-3"));
  }
}

TEST_CASE("objects compare equal regardless of member order", "[json]") {
  SECTION("small objects") {
    CHECK(must_parse(R"({"a":1,"b":[1,2]})") == must_parse(R"({"b":[1,2],"a":1})"));
    CHECK(must_parse(R"({"a":1,"b":2})") != must_parse(R"({"a":1,"b":3})"));
    CHECK(must_parse(R"({"a":1,"b":2})") != must_parse(R"({"a":1,"c":2})"));
    CHECK(must_parse(R"({"a":1})") != must_parse(R"({"a":1,"b":2})"));
  }
  SECTION("large objects") {
    value x = value::object();
    value y = value::object();
    for (int i = 0; i < 50; ++i) {
      x.set("k" + std::to_string(i), i);
      y.set("k" + std::to_string(49 - i), 49 - i);
    }
    CHECK(x == y);
    y.set("k7", 8);
    CHECK(x != y);
    y.set("k7", 7);
    y.erase("k8");
    y.set("other", 8);
    CHECK(x != y);
  }
}

TEST_CASE("arrays compare elementwise in order", "[json]") {
  CHECK(must_parse("[1,[2,{}]]") == must_parse("[1.0,[2,{}]]"));
  CHECK(must_parse("[1,2]") != must_parse("[2,1]"));
  CHECK(must_parse("[1,2]") != must_parse("[1,2,3]"));
}

TEST_CASE("values of different kinds are never equal", "[json]") {
  CHECK(value(true) != value(1));
  CHECK(value() != value(0));
  CHECK(value("1") != value(1));
  CHECK(value::array() != value::object());
  CHECK(value() == value(nullptr));
}

TEST_CASE("copies are deep", "[json]") {
  value original = must_parse(R"({"a":[1,{"b":"c"}]})");
  value copy = original;
  copy.find("a")->as_array()[1].set("b", "changed");
  copy.find("a")->as_array().push_back(3);
  CHECK(kinto::json::serialize(original) == R"({"a":[1,{"b":"c"}]})");
  CHECK(kinto::json::serialize(copy) == R"({"a":[1,{"b":"changed"},3]})");

  value assigned = value("something");
  assigned = original;
  original.erase("a");
  CHECK(kinto::json::serialize(assigned) == R"({"a":[1,{"b":"c"}]})");
}

TEST_CASE("moves steal contents and leave null behind", "[json]") {
  value source = must_parse(R"([1,2,3])");
  const array_t* storage = &source.as_array();
  value moved = std::move(source);
  CHECK(&moved.as_array() == storage);
  CHECK(source.is_null()); // NOLINT(bugprone-use-after-move)

  value target = value("old");
  target = std::move(moved);
  CHECK(&target.as_array() == storage);
  CHECK(moved.is_null()); // NOLINT(bugprone-use-after-move)
}

TEST_CASE("a value can be replaced by one of its own children", "[json]") {
  SECTION("by move") {
    value v = must_parse(R"([{"a":[1]},2])");
    v = std::move(v.as_array()[0]);
    CHECK(kinto::json::serialize(v) == R"({"a":[1]})");
  }
  SECTION("by copy") {
    value v = must_parse(R"({"x":{"y":[true]}})");
    v = v.as_object()[0].val;
    CHECK(kinto::json::serialize(v) == R"({"y":[true]})");
  }
  SECTION("self assignment") {
    value v = must_parse(R"([1])");
    value& same = v;
    v = same;
    CHECK(kinto::json::serialize(v) == "[1]");
  }
}

TEST_CASE("find, set and erase manage object members", "[json]") {
  value v = must_parse(R"({"a":1,"b":2})");
  SECTION("set replaces in place") {
    v.set("a", "x");
    CHECK(kinto::json::serialize(v) == R"({"a":"x","b":2})");
  }
  SECTION("set appends new keys") {
    v.set("c", value::array());
    CHECK(kinto::json::serialize(v) == R"({"a":1,"b":2,"c":[]})");
  }
  SECTION("erase removes and reports absence") {
    CHECK(v.erase("a"));
    CHECK_FALSE(v.erase("a"));
    CHECK(kinto::json::serialize(v) == R"({"b":2})");
  }
  SECTION("find returns nullptr when absent or not an object") {
    CHECK(v.find("zz") == nullptr);
    CHECK(value(array_t{1}).find("a") == nullptr);
    const value& cv = v;
    REQUIRE(cv.find("b"));
    CHECK(*cv.find("b") == value(2));
  }
}

TEST_CASE("objects built from member lists keep their order", "[json]") {
  value v(object_t{member{"z", 1}, member{"a", value(array_t{})}});
  CHECK(kinto::json::serialize(v) == R"({"z":1,"a":[]})");
}
