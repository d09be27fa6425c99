// Unit tests of main/service_manager: what kintod tells systemd, read from a
// datagram socket of the test's own named by NOTIFY_SOCKET, as systemd's is;
// and nothing at all without NOTIFY_SOCKET.
#include "main/service_manager.hpp"

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

namespace sm = kinto::service_manager;

namespace {

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

} // namespace

TEST_CASE("without NOTIFY_SOCKET kintod is not under a service manager and sends nothing", "[service_manager]") {
  ::unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(sm::under_service_manager());
  sm::notify_ready("listening");
  sm::notify_status("upgrading");
  sm::notify_stopping();
  ::setenv("NOTIFY_SOCKET", "", 1);
  CHECK_FALSE(sm::under_service_manager());
  sm::notify_ready("listening");
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("notify_ready sends READY=1 with the status on one line", "[service_manager]") {
  notify_socket manager;
  CHECK(sm::under_service_manager());
  sm::notify_ready("listening on http://127.0.0.1:8888\n(data: /var/lib/kintod)");
  CHECK(manager.receive() == "READY=1\nSTATUS=listening on http://127.0.0.1:8888 (data: /var/lib/kintod)");
  sm::notify_ready("");
  CHECK(manager.receive() == "READY=1");
  // NOTIFY_SOCKET stays set: the later notifications use it too.
  CHECK(sm::under_service_manager());
}

TEST_CASE("notify_status and notify_stopping send STATUS= and STOPPING=1", "[service_manager]") {
  notify_socket manager;
  sm::notify_status("upgrading the data directory: 100000 objects");
  CHECK(manager.receive() == "STATUS=upgrading the data directory: 100000 objects");
  sm::notify_stopping();
  CHECK(manager.receive() == "STOPPING=1");
  CHECK(manager.receive(100) == std::nullopt);
}
