// libFuzzer target: the Basic Authorization header parser (http::parse_basic).
// The input is tried twice: as the whole header value, and base64-encoded
// behind "Basic " so that the credential split after decoding is reached
// at once. Checks the contract of parse_basic, not only the absence of crashes.
#include "fuzz_support.hpp"
#include "http/auth.hpp"
#include "base/crypto.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using kinto::fuzz::require;

/// Parses `header` and checks what a success promises: a non-empty user
/// without ':'.
bool check(std::string_view header, std::string& user, std::string& password) {
  if (!kinto::http::parse_basic(header, user, password)) return false;
  require(!user.empty(), "accepted credentials have a user");
  require(user.find(':') == std::string::npos, "the user ends at the first colon");
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string user, password;
  check(input, user, password);

  // Encoded credentials are accepted exactly when they hold a colon after a
  // non-empty user, and split at the first colon.
  const std::size_t colon = input.find(':');
  const bool valid = colon != std::string_view::npos && colon > 0;
  const bool accepted = check("Basic " + kinto::crypto::base64_encode(input), user, password);
  require(accepted == valid, "encoded credentials are accepted when they have a user and a colon");
  if (accepted)
    require(user == input.substr(0, colon) && password == input.substr(colon + 1), "split at the first colon");
  return 0;
}
