// Authentication policies (auth-permissions.md §1): accounts (bcrypt hashes
// stored with the account) and basicauth (HMAC user ids). Missing or wrong
// credentials make the request anonymous; they never fail it by themselves.
#include "http/auth.hpp"

#include "http/call.hpp"
#include "base/crypto.hpp"
#include "base/json.hpp"

#include <unordered_map>

namespace kinto::http {

bool auth_cache::valid(const std::string& account_id, std::string_view digest,
                       std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(account_id);
  if (it == entries_.end()) return false;
  if (it->second.until < now) {
    entries_.erase(it);
    return false;
  }
  // A wrong password leaves the entry in place: it proves nothing about it.
  return crypto::constant_time_equals(it->second.digest, digest);
}

void auth_cache::remember(const std::string& account_id, std::string digest,
                          std::chrono::steady_clock::time_point until) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.size() > 100000) entries_.clear(); // bounded: a flood of logins cannot grow it forever
  entries_[account_id] = entry{std::move(digest), until};
}

void auth_cache::forget_account(std::string_view account_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(std::string(account_id));
}

bool parse_basic(std::string_view header, std::string& user, std::string& password) {
  auto space = header.find(' ');
  if (space == std::string_view::npos) return false;
  std::string_view scheme = header.substr(0, space);
  if (scheme.size() != 5 || (scheme[0] != 'B' && scheme[0] != 'b') || scheme.substr(1) != "asic") return false;
  std::string_view token = header.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  auto decoded = crypto::base64_decode(token);
  if (!decoded) return false;
  auto colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0) return false;
  user = decoded->substr(0, colon);
  password = decoded->substr(colon + 1);
  return true;
}

namespace {

/// "basicauth:" + HMAC of the credentials. The HMAC costs more than the rest
/// of a small request, so each I/O thread remembers the last few thousand.
std::string basicauth_id(const std::string& secret, const std::string& credentials) {
  thread_local std::unordered_map<std::string, std::string> known; // secret NUL credentials -> id
  std::string key;
  key.reserve(secret.size() + 1 + credentials.size());
  key.append(secret).append(1, '\0').append(credentials);
  if (auto it = known.find(key); it != known.end()) return it->second;
  if (known.size() >= 4096) known.clear();
  std::string id = "basicauth:" + crypto::hmac_sha256_hex(secret, credentials);
  known.emplace(std::move(key), id);
  return id;
}

void try_policies(const call_ptr& c, std::size_t index, const std::string& user, const std::string& password,
                  std::function<void()> next) {
  const auto& policies = c->cfg().policies;
  if (index >= policies.size()) {
    return next();
  }
  const std::string& policy = policies[index];
  if (policy == "basicauth") {
    c->who.user_id = basicauth_id(c->cfg().userid_hmac_secret, user + ":" + password);
    return next();
  }
  // Accounts: a cached successful check, or bcrypt on the blocking pool.
  auto hash = core::op_account_hash(*c->a.direct, user);
  if (!hash) return try_policies(c, index + 1, user, password, std::move(next));
  // Keyed by the stored hash: the digest changes with the password.
  std::string digest = crypto::hmac_sha256_hex(*hash, user + ":" + password);
  const auto now = std::chrono::steady_clock::now();
  if (c->a.accounts_cache->valid(user, digest, now)) {
    c->who.user_id = "account:" + user;
    return next();
  }
  // A flood of logins must not queue bcrypt work without limit: past the
  // bound the request is refused, to be retried, rather than answered late.
  const bool queued = c->a.direct->offload([c, index, user, password, hash = *hash, digest = std::move(digest),
                                       next = std::move(next)]() mutable {
    if (crypto::bcrypt_verify(password, hash)) {
      c->a.accounts_cache->remember(
          user, std::move(digest), std::chrono::steady_clock::now() + std::chrono::seconds(c->cfg().account_cache_ttl));
      c->who.user_id = "account:" + user;
      return next();
    }
    try_policies(c, index + 1, user, password, std::move(next));
  });
  if (!queued) c->fail(backend_unavailable(unavailable::password_checks));
}

} // namespace

void authenticate(const call_ptr& c, std::function<void()> next) {
  if (c->req.authenticated_as) {
    c->who.user_id = *c->req.authenticated_as;
    return next();
  }
  std::string user, password;
  auto header = c->req.header("authorization");
  if (!header || !parse_basic(*header, user, password)) {
    return next();
  }
  try_policies(c, 0, user, password, std::move(next));
}

} // namespace kinto::http
