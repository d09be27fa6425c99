// libFuzzer target: pagination tokens (query::decode_token and the paging
// functions that use a decoded token). The input is tried as the raw
// `_token` value and, base64-encoded, as the token's JSON text, so that the
// checks after base64 decoding are reached without the fuzzer having to
// produce valid base64 of valid JSON.
#include "fuzz_support.hpp"
#include "base/crypto.hpp"
#include "base/json.hpp"
#include "schema/query.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace kinto;
using kinto::fuzz::require;

/// Records of a typical collection page, with the JSON types sort keys meet.
const std::vector<json::value>& records() {
  static const std::vector<json::value> all = [] {
    std::vector<json::value> out;
    for (const char* text : {
             R"({"id":"a","last_modified":1795786476117,"age":3,"title":"dog"})",
             R"({"id":"b","last_modified":1795786476118,"age":9,"title":"Cat","done":true})",
             R"({"id":"c","last_modified":1795786476119,"age":"3","nested":{"k":[1,{"x":null}]}})",
             R"({"id":"d","last_modified":1795786476120,"deleted":true})",
         }) {
      std::string error;
      out.push_back(*json::parse(text, error));
    }
    return out;
  }();
  return all;
}

/// Sort keys built from the token's own fields (as a token written by
/// token_after has), alternating directions, ending with last_modified.
std::vector<query::sort_key> keys_of(const json::value& last_object) {
  std::vector<query::sort_key> keys;
  bool descending = false;
  for (const auto& m : last_object.as_object()) {
    query::sort_key key{m.key, {}, descending};
    std::size_t start = 0;
    for (std::size_t dot; (dot = m.key.find('.', start)) != std::string::npos; start = dot + 1)
      key.path.push_back(m.key.substr(start, dot - start));
    key.path.push_back(m.key.substr(start));
    keys.push_back(std::move(key));
    descending = !descending;
  }
  keys.push_back(query::sort_key{"last_modified", {"last_modified"}, true});
  return keys;
}

void check(std::string_view raw) {
  auto decoded = query::decode_token(raw);
  if (auto* e = std::get_if<error>(&decoded)) {
    require(e->status == 400, "a bad token is a 400");
    return;
  }
  const query::token& t = std::get<query::token>(decoded);
  require(t.last_object.is_object(), "a token's last object is an object");

  // What decodes re-encodes to a token that decodes the same.
  auto again = query::decode_token(query::encode_token(t));
  require(std::holds_alternative<query::token>(again), "an encoded token decodes");
  const query::token& back = std::get<query::token>(again);
  require(back.last_object == t.last_object && back.offset == t.offset && back.nonce == t.nonce,
          "a token survives encoding and decoding");

  // Paging with it: no record is both after the token and the token itself.
  const auto keys = keys_of(t.last_object);
  for (const json::value& r : records()) {
    (void)query::after_token(keys, t.last_object, r);
    const query::token next = query::token_after(keys, r, t.offset);
    require(!query::after_token(keys, next.last_object, r), "a record is not after its own token");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check(input);
  check(crypto::base64_encode(input));
  return 0;
}
