// Cryptographic helpers: thin wrappers over OpenSSL, libuuid and libxcrypt,
// adding only strict input checks. Depends on base/log only (its last words).
#include "base/crypto.hpp"
#include "base/log.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <crypt.h>
#include <uuid/uuid.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <memory>

namespace kinto::crypto {
namespace {

/// A failing digest or random source means the process cannot produce safe
/// identities or secrets at all; going on with an empty value would be worse.
[[noreturn]] void fatal(const char* what) {
  log::critical(std::string("fatal: ") + what + " failed");
  std::abort();
}

const unsigned char* bytes_of(std::string_view s) {
  // OpenSSL may reject a null pointer even with a zero length.
  static const unsigned char empty = 0;
  return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
}

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

void random_bytes(unsigned char* out, std::size_t size) {
  while (size > 0) {
    const int chunk = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
    if (RAND_bytes(out, chunk) != 1) {
      fatal("RAND_bytes");
    }
    out += chunk;
    size -= static_cast<std::size_t>(chunk);
  }
}

/// Uniform index in [0, n) for n <= 256, by rejection sampling over bytes.
std::size_t random_index(std::size_t n) {
  const unsigned limit = 256 - 256 % static_cast<unsigned>(n);
  for (;;) {
    unsigned char b = 0;
    random_bytes(&b, 1);
    if (b < limit) {
      return b % n;
    }
  }
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// Multiples of 3 (encoding) and 4 (decoding) keep chunks independent.
constexpr std::size_t encode_chunk = 3 * 1024 * 1024;
constexpr std::size_t decode_chunk = 4 * 1024 * 1024;

} // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  if (key.size() > INT_MAX ||
      HMAC(EVP_sha256(), bytes_of(key), static_cast<int>(key.size()), bytes_of(message), message.size(), md.data(),
           &size) == nullptr) {
    fatal("HMAC-SHA256");
  }
  return to_hex(md.data(), size);
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  if (EVP_Digest(bytes_of(data), data.size(), md.data(), &size, EVP_sha256(), nullptr) != 1) {
    fatal("SHA-256");
  }
  return to_hex(md.data(), size);
}

std::string md5_uuid(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  if (EVP_Digest(bytes_of(data), data.size(), md.data(), &size, EVP_md5(), nullptr) != 1 || size != 16) {
    fatal("MD5");
  }
  std::string hex = to_hex(md.data(), size);
  for (std::size_t at : {8, 13, 18, 23}) hex.insert(at, 1, '-');
  return hex;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::size_t padding = 0;
  if (text.ends_with("==")) {
    padding = 2;
  } else if (text.ends_with('=')) {
    padding = 1;
  }
  // EVP_DecodeBlock skips surrounding whitespace and accepts '=' in odd
  // places; only the plain alphabet followed by at most two '=' gets through.
  if (!std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(padding), is_base64_char)) {
    return std::nullopt;
  }
  std::string out((text.size() / 4) * 3, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  for (std::size_t pos = 0; pos < text.size(); pos += decode_chunk) {
    const std::size_t n = std::min(decode_chunk, text.size() - pos);
    if (EVP_DecodeBlock(dst, bytes_of(text.substr(pos)), static_cast<int>(n)) < 0) {
      return std::nullopt;
    }
    dst += n / 4 * 3;
  }
  // EVP_DecodeBlock writes a zero byte for each '='.
  out.resize(out.size() - padding);
  return out;
}

std::string base64_encode(std::string_view data) {
  std::string out((data.size() + 2) / 3 * 4, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  for (std::size_t pos = 0; pos < data.size(); pos += encode_chunk) {
    const std::size_t n = std::min(encode_chunk, data.size() - pos);
    dst += EVP_EncodeBlock(dst, bytes_of(data.substr(pos)), static_cast<int>(n));
  }
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string out = base64_encode(data);
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string standard(text);
  for (char& c : standard) {
    if (c == '+' || c == '/') {
      return std::nullopt;
    }
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    }
  }
  return base64_decode(standard);
}

std::string uuid4() {
  uuid_t id;
  uuid_generate_random(id);
  std::array<char, 37> text{};
  uuid_unparse_lower(id, text.data());
  return std::string(text.data(), 36);
}

std::string random_name_id() {
  // The first 62 characters are the alphanumerics allowed first.
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
  std::string id;
  id += alphabet[random_index(62)];
  while (id.size() < 8) {
    id += alphabet[random_index(alphabet.size())];
  }
  return id;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  random_bytes(reinterpret_cast<unsigned char*>(raw.data()), raw.size());
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::optional<std::string> bcrypt_hash(std::string_view password, int cost) {
  if (cost < 4 || cost > 31 || password.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, setting.data(),
                       static_cast<int>(setting.size())) == nullptr) {
    return std::nullopt;
  }
  // struct crypt_data is tens of kilobytes: too big for a coroutine or actor stack.
  auto data = std::make_unique<crypt_data>();
  const std::string phrase(password);
  const char* hashed = crypt_r(phrase.c_str(), setting.data(), data.get());
  if (hashed == nullptr || !std::string_view(hashed).starts_with("$2b$")) {
    return std::nullopt;
  }
  return std::string(hashed);
}

bool bcrypt_verify(std::string_view password, std::string_view hash) {
  // Only bcrypt: crypt_r would also accept DES or MD5 settings, and a
  // failure token such as "*0" must never be compared against itself.
  const bool bcrypt_prefix = hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$");
  if (!bcrypt_prefix || password.find('\0') != std::string_view::npos ||
      hash.find('\0') != std::string_view::npos) {
    return false;
  }
  auto data = std::make_unique<crypt_data>();
  const std::string phrase(password);
  const std::string setting(hash);
  const char* hashed = crypt_r(phrase.c_str(), setting.c_str(), data.get());
  if (hashed == nullptr || hashed[0] == '*') {
    return false;
  }
  return constant_time_equals(hashed, hash);
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    // Still compare something of the same size so the work done does not
    // depend on the contents.
    (void)CRYPTO_memcmp(a.data(), a.data(), a.size());
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace kinto::crypto
