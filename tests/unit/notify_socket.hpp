// The service manager's end of sd_notify, for tests: a datagram socket in a
// fresh directory, named by NOTIFY_SOCKET in the test's environment while it
// lives, as systemd's is for a unit of Type=notify.
#pragma once

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

namespace kinto::test {

/// A datagram socket in a fresh directory, named by NOTIFY_SOCKET while it
/// lives.
struct notify_socket {
  std::string directory;
  std::string path;
  int fd = -1;

  notify_socket() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/kintod-notify-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    directory = pattern;
    path = directory + "/notify";
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  ~notify_socket() {
    ::unsetenv("NOTIFY_SOCKET");
    if (fd >= 0) ::close(fd);
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  /// The next datagram, or nullopt when none comes within `milliseconds`.
  std::optional<std::string> receive(int milliseconds = 2000) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, milliseconds) != 1) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }
};

} // namespace kinto::test
