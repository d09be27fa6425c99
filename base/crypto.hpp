// Cryptographic helpers over well-kept libraries: OpenSSL (HMAC, SHA-256, MD5,
// base64, random bytes), libuuid and libxcrypt (bcrypt). No hand-written crypto.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kinto::crypto {

/// Lower-case hex of HMAC-SHA256(key, message).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);
/// Lower-case hex of SHA-256(data).
std::string sha256_hex(std::string_view data);
/// The MD5 digest of `data` written as a UUID (`8-4-4-4-12`, lower-case hex,
/// no version bits set), as Python's `UUID(md5(data).hexdigest())`: a stable
/// name, not a secret.
std::string md5_uuid(std::string_view data);
/// Strict standard base64 (with padding); nullopt on any invalid input.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view data);
/// URL-safe base64 (RFC 4648 §5) with padding, and its strict decoder.
std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view text);
/// Random version-4 UUID, lower-case `8-4-4-4-12`.
std::string uuid4();
/// Random 8-character id: first from [a-zA-Z0-9], then [a-zA-Z0-9_-].
std::string random_name_id();
/// `bytes` cryptographically random bytes as lower-case hex.
std::string random_hex(std::size_t bytes);
/// bcrypt ($2b$) hash of `password` with the given cost (4..31); nullopt on failure.
std::optional<std::string> bcrypt_hash(std::string_view password, int cost);
/// True when `password` matches the bcrypt `hash`; the final comparison is
/// constant-time. False for malformed hashes.
bool bcrypt_verify(std::string_view password, std::string_view hash);
/// Compares in time independent of where the inputs differ.
bool constant_time_equals(std::string_view a, std::string_view b);

} // namespace kinto::crypto
