// libFuzzer target: JSON request bodies (base/json.hpp) and the two PATCH
// formats (base/json_patch.hpp).
//
// The whole input is parsed as a body, with the default nesting limit and a
// small one, and serialized back. Then its first line is taken as a document
// and the rest as a patch: applied as an RFC 7396 merge-patch, and, when it
// is an array, as an RFC 6902 JSON-Patch. Besides crashes it checks the
// round trip (parse . serialize is the identity), that a nesting limit only
// ever rejects, that merge-patch is idempotent, that a failed JSON-Patch
// leaves the document unchanged, and that no patch nests a document deeper
// than a request body may be.
#include "fuzz_support.hpp"
#include "base/json.hpp"
#include "base/json_patch.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

using namespace kinto;
using kinto::fuzz::require;

/// Serializes `v`, parses the text back with the nesting limit of request
/// bodies and checks both agree: every document parsed, merged or patched
/// here stays within that limit.
void check_round_trip(const json::value& v) {
  const std::string text = json::serialize(v);
  std::string error;
  auto back = json::parse(text, error);
  require(back.has_value(), "serialized JSON parses within the nesting limit");
  require(*back == v, "parse(serialize(v)) == v");
  require(json::serialize(*back) == text, "serialize is stable across a round trip");
}

void check_body(std::string_view text) {
  std::string error;
  auto v = json::parse(text, error);
  auto shallow = json::parse(text, error, 3);
  if (shallow) require(v.has_value() && *v == *shallow, "a lower nesting limit only rejects");
  if (!v) {
    require(!error.empty(), "a parse failure says why");
    return;
  }
  require(*v == json::value(*v), "a copy equals its original");
  check_round_trip(*v);
}

void check_patches(std::string_view document, std::string_view patch_text) {
  std::string error;
  auto doc = json::parse(document, error);
  auto patch = json::parse(patch_text, error);
  if (!doc || !patch) return;

  json::value merged = *doc;
  json::merge_patch(merged, *patch);
  json::value twice = merged;
  json::merge_patch(twice, *patch);
  require(twice == merged, "merge-patch is idempotent");
  check_round_trip(merged);

  if (!patch->is_array()) return;
  json::value patched = *doc;
  if (json::apply_json_patch(patched, *patch)) {
    require(patched == *doc, "a failed JSON-Patch leaves the document unchanged");
    return;
  }
  check_round_trip(patched);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_body(input);
  const std::size_t newline = input.find('\n');
  if (newline != std::string_view::npos) check_patches(input.substr(0, newline), input.substr(newline + 1));
  return 0;
}
