// Unit tests for base/crypto: published test vectors, strict base64,
// random identifiers and bcrypt round trips. No server, no disk.
#include "base/crypto.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <string>

namespace crypto = kinto::crypto;
using namespace std::string_literals;

TEST_CASE("hmac_sha256_hex with an empty key matches the basicauth user id vectors") {
  CHECK(crypto::hmac_sha256_hex("", "mat:secret") == "8a931a10fc88ab2f6d1cc02a07d3a81b5d4768f6f13e85c5d8d4180419acb1b4");
  CHECK(crypto::hmac_sha256_hex("", "alice:secret") ==
        "d5b0026601f1b251974e09548d44155e16812e3c64ff7ae053fe3542e2ca1570");
  CHECK(crypto::hmac_sha256_hex("", "admin:secret") ==
        "bb7fe7b98e759578ef0de85b546dd57d21fe1e399390ad8dafc9886043a00e5c");
}

TEST_CASE("md5_uuid writes the MD5 digest as a UUID, as Python's UUID(md5(...).hexdigest())") {
  CHECK(crypto::md5_uuid("") == "d41d8cd9-8f00-b204-e980-0998ecf8427e");
  CHECK(crypto::md5_uuid("www.kinto-storage.org/buckets/blocklists/collections/certificates") ==
        "470119ee-115b-8f9c-f56b-afb824183411");
}

TEST_CASE("hmac_sha256_hex matches RFC 4231 test case 2") {
  CHECK(crypto::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("hmac_sha256_hex depends on the key") {
  CHECK(crypto::hmac_sha256_hex("k", "mat:secret") != crypto::hmac_sha256_hex("", "mat:secret"));
}

TEST_CASE("sha256_hex matches the FIPS 180-2 vectors") {
  CHECK(crypto::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(crypto::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("base64_encode matches the RFC 4648 vectors") {
  CHECK(crypto::base64_encode("") == "");
  CHECK(crypto::base64_encode("f") == "Zg==");
  CHECK(crypto::base64_encode("fo") == "Zm8=");
  CHECK(crypto::base64_encode("foo") == "Zm9v");
  CHECK(crypto::base64_encode("foob") == "Zm9vYg==");
  CHECK(crypto::base64_encode("fooba") == "Zm9vYmE=");
  CHECK(crypto::base64_encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("base64_decode returns the exact bytes, without padding zeros") {
  CHECK(crypto::base64_decode("") == ""s);
  CHECK(crypto::base64_decode("Zg==") == "f"s);
  CHECK(crypto::base64_decode("Zm8=") == "fo"s);
  CHECK(crypto::base64_decode("Zm9v") == "foo"s);
  CHECK(crypto::base64_decode("Zm9vYg==") == "foob"s);
  CHECK(crypto::base64_decode("bWF0OnNlY3JldA==") == "mat:secret"s);
}

TEST_CASE("base64 round-trips binary data, NUL bytes included") {
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all += static_cast<char>(i);
  }
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const std::string data = all.substr(0, n) + "\0\xff"s;
    CHECK(crypto::base64_decode(crypto::base64_encode(data)) == data);
  }
}

TEST_CASE("base64_decode rejects invalid input") {
  for (const std::string& bad : {"Zg"s, "Zg="s, "Zm9vY"s, "Zg=="s + "Zg==", "Z==="s, "===="s, "Zg=a"s, "Z=g="s,
                                "Zm9v\n"s, " Zm9v"s, "Zm 9v"s, "Zm9v "s, "Zm-v"s, "Zm_v"s, "Zm9\0"s, "Zm9!"s,
                                "Zm8=\r\n"s}) {
    INFO("input: " << bad);
    CHECK_FALSE(crypto::base64_decode(bad).has_value());
  }
}

TEST_CASE("base64url uses '-' and '_' and keeps padding") {
  const std::string data = "\xfb\xff\xbf"s;
  CHECK(crypto::base64_encode(data) == "+/+/");
  CHECK(crypto::base64url_encode(data) == "-_-_");
  CHECK(crypto::base64url_encode("f") == "Zg==");
  CHECK(crypto::base64url_decode("-_-_") == data);
  CHECK(crypto::base64url_decode("Zg==") == "f"s);
}

TEST_CASE("base64url_decode rejects the standard alphabet's '+' and '/'") {
  CHECK_FALSE(crypto::base64url_decode("+/+/").has_value());
  CHECK_FALSE(crypto::base64url_decode("Zg").has_value());
  CHECK_FALSE(crypto::base64url_decode("-_-").has_value());
}

TEST_CASE("uuid4 returns lower-case version-4 UUIDs that differ") {
  const std::regex format("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = crypto::uuid4();
    INFO(id);
    CHECK(std::regex_match(id, format));
    seen.insert(id);
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("random_name_id returns 8-character name-like ids that differ") {
  const std::regex format("^[a-zA-Z0-9][a-zA-Z0-9_-]{7}$");
  std::set<std::string> seen;
  std::set<char> chars;
  for (int i = 0; i < 2000; ++i) {
    const std::string id = crypto::random_name_id();
    INFO(id);
    REQUIRE(std::regex_match(id, format));
    seen.insert(id);
    chars.insert(id.begin() + 1, id.end());
  }
  CHECK(seen.size() == 2000);
  // 14000 draws from 64 characters: all of them show up, '_' and '-' included.
  CHECK(chars.size() == 64);
}

TEST_CASE("random_hex returns twice as many lower-case hex digits as bytes") {
  const std::regex format("^[0-9a-f]*$");
  CHECK(crypto::random_hex(0).empty());
  const std::string a = crypto::random_hex(32);
  CHECK(a.size() == 64);
  CHECK(std::regex_match(a, format));
  CHECK(crypto::random_hex(32) != a);
}

TEST_CASE("bcrypt_hash produces a $2b$ hash that verifies") {
  const std::optional<std::string> hash = crypto::bcrypt_hash("s3cr3t", 4);
  REQUIRE(hash.has_value());
  CHECK(hash->starts_with("$2b$04$"));
  CHECK(hash->size() == 60);
  CHECK(crypto::bcrypt_verify("s3cr3t", *hash));
}

TEST_CASE("bcrypt_verify rejects a wrong password") {
  const std::optional<std::string> hash = crypto::bcrypt_hash("s3cr3t", 4);
  REQUIRE(hash.has_value());
  CHECK_FALSE(crypto::bcrypt_verify("s3cr3T", *hash));
  CHECK_FALSE(crypto::bcrypt_verify("", *hash));
}

TEST_CASE("bcrypt_hash salts each hash") {
  const std::optional<std::string> a = crypto::bcrypt_hash("same", 4);
  const std::optional<std::string> b = crypto::bcrypt_hash("same", 4);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(*a != *b);
  CHECK(crypto::bcrypt_verify("same", *b));
}

TEST_CASE("bcrypt_verify accepts published $2a$ and $2b$ vectors") {
  // Openwall crypt_blowfish and pyca/bcrypt test vectors.
  CHECK(crypto::bcrypt_verify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  CHECK(crypto::bcrypt_verify("Kk4DQuMMfZL9o", "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"));
  CHECK_FALSE(crypto::bcrypt_verify("U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
}

TEST_CASE("bcrypt_verify accepts the $2y$ spelling of a hash") {
  const std::optional<std::string> hash = crypto::bcrypt_hash("password", 4);
  REQUIRE(hash.has_value());
  std::string as_2y = *hash;
  as_2y[2] = 'y';
  CHECK(crypto::bcrypt_verify("password", as_2y));
  CHECK_FALSE(crypto::bcrypt_verify("passwore", as_2y));
}

TEST_CASE("bcrypt_hash accepts an empty password") {
  const std::optional<std::string> hash = crypto::bcrypt_hash("", 4);
  REQUIRE(hash.has_value());
  CHECK(crypto::bcrypt_verify("", *hash));
  CHECK_FALSE(crypto::bcrypt_verify("x", *hash));
}

TEST_CASE("bcrypt_hash refuses passwords with NUL bytes and bad costs") {
  CHECK_FALSE(crypto::bcrypt_hash("ab\0cd"s, 4).has_value());
  CHECK_FALSE(crypto::bcrypt_hash("pw", 3).has_value());
  CHECK_FALSE(crypto::bcrypt_hash("pw", 32).has_value());
  CHECK_FALSE(crypto::bcrypt_hash("pw", -1).has_value());
}

TEST_CASE("bcrypt_verify is false for a password with a NUL byte") {
  const std::optional<std::string> hash = crypto::bcrypt_hash("ab", 4);
  REQUIRE(hash.has_value());
  CHECK(crypto::bcrypt_verify("ab", *hash));
  CHECK_FALSE(crypto::bcrypt_verify("ab\0cd"s, *hash));
}

TEST_CASE("bcrypt_verify is false for malformed hashes") {
  const std::optional<std::string> hash = crypto::bcrypt_hash("pw", 4);
  REQUIRE(hash.has_value());
  for (const std::string& bad : {""s, "*0"s, "*1"s, "$2b$xx"s, "$2b$"s, "$2b$04$"s, "$2b$04$short"s,
                                hash->substr(0, 59), *hash + "x", hash->substr(0, 30) + "\0"s + hash->substr(31),
                                "$2q$04$"s + hash->substr(7)}) {
    INFO("hash: " << bad);
    CHECK_FALSE(crypto::bcrypt_verify("pw", bad));
  }
}

TEST_CASE("bcrypt_verify refuses DES and MD5 crypt hashes that crypt() itself would accept") {
  // crypt("pw", "ab") and crypt("pw", "$1$saltsalt$") as libxcrypt computes them.
  CHECK_FALSE(crypto::bcrypt_verify("pw", "abzlUXK5ed5rs"));
  CHECK_FALSE(crypto::bcrypt_verify("pw", "$1$saltsalt$6SNdNaZLKst2LlSm7oPPL1"));
}

TEST_CASE("bcrypt_hash refuses passwords longer than libxcrypt accepts") {
  CHECK_FALSE(crypto::bcrypt_hash(std::string(600, 'a'), 4).has_value());
  CHECK_FALSE(crypto::bcrypt_verify(std::string(600, 'a'),
                                    "$2b$04$cVWp4XaNU8a4v1uMRum2SOtrh/N7b3Q2GpXC./QQpQqEdm89iFMka"));
}

TEST_CASE("bcrypt only looks at the first 72 bytes of a password") {
  const std::optional<std::string> hash = crypto::bcrypt_hash(std::string(72, 'a'), 4);
  REQUIRE(hash.has_value());
  CHECK(crypto::bcrypt_verify(std::string(100, 'a'), *hash));
  CHECK_FALSE(crypto::bcrypt_verify(std::string(71, 'a'), *hash));
}

TEST_CASE("constant_time_equals compares contents and lengths") {
  CHECK(crypto::constant_time_equals("", ""));
  CHECK(crypto::constant_time_equals("abc", "abc"));
  CHECK_FALSE(crypto::constant_time_equals("abc", "abd"));
  CHECK_FALSE(crypto::constant_time_equals("abc", "abcd"));
  CHECK_FALSE(crypto::constant_time_equals("", "a"));
  CHECK(crypto::constant_time_equals("a\0b"s, "a\0b"s));
  CHECK_FALSE(crypto::constant_time_equals("a\0b"s, "a\0c"s));
}
