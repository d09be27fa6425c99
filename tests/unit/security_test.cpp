// Unit tests of the secret comparisons: crypto::constant_time_equals (over
// OpenSSL's CRYPTO_memcmp), bcrypt verification, and the cache of account
// password checks, which compares credential digests in constant time.
#include "http/auth.hpp"
#include "base/crypto.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace crypto = kinto::crypto;
using namespace std::string_literals;
using clock_type = std::chrono::steady_clock;

TEST_CASE("constant_time_equals is true exactly for equal byte strings", "[security]") {
  CHECK(crypto::constant_time_equals("", ""));
  CHECK(crypto::constant_time_equals("secret", "secret"));
  CHECK(crypto::constant_time_equals("\0\xff\x80"s, "\0\xff\x80"s));
  SECTION("a difference anywhere") {
    const std::string digest = crypto::hmac_sha256_hex("key", "user:password");
    for (std::size_t i = 0; i < digest.size(); ++i) {
      std::string other = digest;
      other[i] = other[i] == 'a' ? 'b' : 'a';
      INFO("byte " << i);
      CHECK_FALSE(crypto::constant_time_equals(digest, other));
    }
  }
  SECTION("a prefix is not equal") {
    CHECK_FALSE(crypto::constant_time_equals("secret", "secre"));
    CHECK_FALSE(crypto::constant_time_equals("secre", "secret"));
    CHECK_FALSE(crypto::constant_time_equals("", "s"));
    CHECK_FALSE(crypto::constant_time_equals("a\0"s, "a"s));
  }
}

TEST_CASE("bcrypt_verify accepts the password and nothing else", "[security]") {
  const auto hash = crypto::bcrypt_hash("correct horse", 4);
  REQUIRE(hash);
  CHECK(crypto::bcrypt_verify("correct horse", *hash));
  CHECK_FALSE(crypto::bcrypt_verify("correct horsE", *hash));
  CHECK_FALSE(crypto::bcrypt_verify("", *hash));
  // The hash itself, or a truncated one, is not a password nor a hash.
  CHECK_FALSE(crypto::bcrypt_verify(*hash, *hash));
  CHECK_FALSE(crypto::bcrypt_verify("correct horse", hash->substr(0, hash->size() - 1)));
}

TEST_CASE("the account check cache knows one digest per account", "[security]") {
  kinto::http::auth_cache cache;
  const auto now = clock_type::now();
  const std::string good = crypto::hmac_sha256_hex("$2b$04$hash", "alice:pa55");
  const std::string bad = crypto::hmac_sha256_hex("$2b$04$hash", "alice:guess");
  CHECK_FALSE(cache.valid("alice", good, now));
  cache.remember("alice", good, now + std::chrono::seconds(30));

  SECTION("the remembered digest is valid, another is not") {
    CHECK(cache.valid("alice", good, now));
    CHECK_FALSE(cache.valid("alice", bad, now));
    CHECK_FALSE(cache.valid("alice", good.substr(0, 10), now));
    // A wrong guess does not evict the entry.
    CHECK(cache.valid("alice", good, now));
  }
  SECTION("a digest is valid only for its account") {
    CHECK_FALSE(cache.valid("bob", good, now));
  }
  SECTION("an entry expires") {
    CHECK_FALSE(cache.valid("alice", good, now + std::chrono::seconds(31)));
  }
  SECTION("forgetting an account drops its entry") {
    cache.forget_account("alice");
    CHECK_FALSE(cache.valid("alice", good, now));
  }
}
