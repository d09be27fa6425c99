// Reads or durably creates a secret file (see stored_secret.hpp): temp file
// with O_EXCL and mode 0600, fsync, rename, fsync of the directory, so that a
// crash at any point leaves either no secret or the whole of it.
#include "http/stored_secret.hpp"

#include "base/crypto.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kinto::http {

namespace {

constexpr std::size_t secret_bytes = 32;

std::string failure(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

/// The trimmed content of `path`; nullopt with `error` empty when the file
/// does not exist, with `error` set when it cannot be read or is empty.
std::optional<std::string> read_secret(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) error = failure("cannot open", path);
    return std::nullopt;
  }
  std::string text;
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = failure("cannot read", path);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  if (text.empty()) {
    error = path + " is empty; remove it to have a new secret generated (user ids will change)";
    return std::nullopt;
  }
  return text;
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// fsync of a directory, so that a rename in it is durable.
bool sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

/// Stores `secret` at `path` as described in stored_secret.hpp.
bool write_secret(const std::string& path, const std::string& secret, std::string& error) {
  const std::string temp = path + ".tmp";
  // A temporary file can only be left by a start that died before its
  // rename: nobody ever used what it holds.
  if (::unlink(temp.c_str()) != 0 && errno != ENOENT) return error = failure("cannot remove", temp), false;
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return error = failure("cannot create", temp), false;
  // The umask can only take bits away; fchmod makes the mode exactly 0600.
  const bool written = ::fchmod(fd, 0600) == 0 && write_all(fd, secret + "\n") && ::fsync(fd) == 0;
  if (!written) error = failure("cannot write", temp);
  if (::close(fd) != 0 && written) error = failure("cannot write", temp);
  if (!error.empty()) {
    ::unlink(temp.c_str());
    return false;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    error = failure("cannot rename " + temp + " to", path);
    ::unlink(temp.c_str());
    return false;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (!sync_directory(dir)) return error = failure("cannot sync directory", dir), false;
  return true;
}

} // namespace

std::optional<stored_secret> load_or_create_secret(const std::string& path, std::string& error) {
  error.clear();
  if (auto existing = read_secret(path, error)) return stored_secret{std::move(*existing), false};
  if (!error.empty()) return std::nullopt;
  stored_secret created{crypto::random_hex(secret_bytes), true};
  if (!write_secret(path, created.value, error)) return std::nullopt;
  return created;
}

} // namespace kinto::http
