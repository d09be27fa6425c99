// A secret kept in a file of the data directory: generated at the first start
// and read back at every later one, so that what is derived from it (user ids)
// never changes across restarts. Depends on schema/ (random bytes) only.
#pragma once

#include <optional>
#include <string>

namespace kinto::http {

/// A secret and where it came from.
struct stored_secret {
  std::string value;
  bool generated = false; ///< true when this start created the file
};

/// The secret stored in the file `path`, whose trailing whitespace is not
/// part of it. When the file does not exist, generates 32 random bytes as 64
/// lower-case hex characters and stores them durably: a temporary file next to
/// `path` created with O_EXCL and mode 0600, written, fsynced, renamed to
/// `path`, then the directory fsynced. The directory must exist. Returns
/// nullopt with `error` set when the file cannot be read or written, or is
/// empty (a secret is never silently replaced: it would change every user id).
[[nodiscard]] std::optional<stored_secret> load_or_create_secret(const std::string& path, std::string& error);

} // namespace kinto::http
