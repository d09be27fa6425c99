// Authentication: Basic credentials checked by the configured policies in
// order (accounts, then basicauth), and the principals of the caller.
// Internal to http/.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kinto::http {

/// Remembers successful account password checks for a while, so bcrypt runs
/// once per ttl and not per request. One entry per account: a digest of the
/// credentials that succeeded (an HMAC keyed by the stored hash), which
/// later credentials are compared with in constant time.
class auth_cache {
public:
  /// True when `digest` is the one remembered for the account and has not expired.
  bool valid(const std::string& account_id, std::string_view digest, std::chrono::steady_clock::time_point now);
  void remember(const std::string& account_id, std::string digest, std::chrono::steady_clock::time_point until);
  /// Forgets the account's entry (its password changed or it was deleted).
  void forget_account(std::string_view account_id);

private:
  struct entry {
    std::string digest;
    std::chrono::steady_clock::time_point until;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;
};

/// Splits a Basic Authorization header into user and password; false when
/// the header is not valid Basic credentials with a non-empty user.
bool parse_basic(std::string_view header, std::string& user, std::string& password);

} // namespace kinto::http
