// Unit tests of main/service_manager: what kintod tells systemd, read from a
// datagram socket of the test's own named by NOTIFY_SOCKET, as systemd's is;
// and nothing at all without NOTIFY_SOCKET.
#include "main/service_manager.hpp"

#include "notify_socket.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

namespace sm = kinto::service_manager;

using kinto::test::notify_socket;

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
