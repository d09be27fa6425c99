// Pieces shared by kintod's benchmark programs: reproducible benchmark
// records, argument parsing and duration formatting. Header-only; used only
// under bench/.
#pragma once

#include <charconv>
#include <iostream>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace kinto::bench {

/// A version-4 UUID drawn from `rng`, so that datasets are reproducible.
inline std::string uuid4(std::mt19937_64& rng) {
  const std::uint64_t hi = (rng() & ~std::uint64_t(0xf000)) | 0x4000;
  const std::uint64_t lo = (rng() & ~(std::uint64_t(0xc) << 60)) | (std::uint64_t(0x8) << 60);
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", unsigned(hi >> 32), unsigned((hi >> 16) & 0xffff),
                unsigned(hi & 0xffff), unsigned(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return text;
}

/// A record of about 200 bytes, as a client would write it.
inline std::string record_text(std::mt19937_64& rng, std::size_t i, std::string_view id, std::uint64_t ts) {
  std::string out = "{\"title\":\"t";
  out += std::to_string(rng());
  out += "\",\"n\":";
  out += std::to_string(i);
  out += ",\"done\":false,\"tags\":[\"a\",\"b\"],\"note\":\"benchmark record, of a size typical of a small "
         "object\",\"id\":\"";
  out += id;
  out += "\",\"last_modified\":";
  out += std::to_string(ts);
  out += '}';
  return out;
}

/// A whole number in [min, max] from a command-line value; nullopt with
/// `error` set otherwise.
inline std::optional<std::size_t> parse_count(std::string_view name, const char* raw, std::size_t min, std::size_t max,
                                              std::string& error) {
  if (!raw) {
    error = std::string(name) + " needs a value";
    return std::nullopt;
  }
  std::string_view text(raw);
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    error = std::string(name) + ": not a whole number: '" + std::string(text) + "'";
    return std::nullopt;
  }
  if (n < min || n > max) {
    error = std::string(name) + ": " + std::string(text) + " is outside " + std::to_string(min) + ".." +
            std::to_string(max);
    return std::nullopt;
  }
  return n;
}

/// Thrown to leave main with an exit code once destructors have run (so
/// temporary data is removed on every way out).
struct stop {
  int code;
};

/// The body of a benchmark's main(): what `body` returns, or the code of
/// the `stop` it threw.
template <class Body> int exit_code_of(Body body) {
  try {
    return body();
  } catch (const stop& s) {
    return s.code;
  }
}

/// Bad arguments: a clear message and the usage on stderr, exit code 2.
[[noreturn]] inline void refuse(std::string_view program, std::string_view usage, const std::string& message) {
  std::cerr << program << ": " << message << "\n" << usage;
  throw stop{2};
}

/// A whole-number argument in [min, max], or refuse().
inline std::size_t count_arg(std::string_view program, std::string_view usage, std::string_view name, const char* raw,
                             std::size_t min, std::size_t max) {
  std::string error;
  auto n = parse_count(name, raw, min, max, error);
  if (!n) refuse(program, usage, error);
  return *n;
}

/// "2.31 us", "23.2 us", "555.0 ms", "1.41 s".
inline std::string duration_text(double ns) {
  char text[32];
  if (ns < 1e4) std::snprintf(text, sizeof text, "%.2f us", ns / 1e3);
  else if (ns < 1e7) std::snprintf(text, sizeof text, "%.1f us", ns / 1e3);
  else if (ns < 1e10) std::snprintf(text, sizeof text, "%.1f ms", ns / 1e6);
  else std::snprintf(text, sizeof text, "%.2f s", ns / 1e9);
  return text;
}

} // namespace kinto::bench
