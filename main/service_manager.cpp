// kinto::service_manager (service_manager.hpp) over libsystemd's sd_notify.
#include "main/service_manager.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace kinto::service_manager {

namespace {

/// Sends `message` (newline-separated assignments). NOTIFY_SOCKET is kept:
/// later notifications use it too.
void send(const std::string& message) {
  if (under_service_manager()) (void)::sd_notify(0, message.c_str());
}

/// STATUS=<text> on one line.
std::string status_line(std::string_view status) {
  std::string line = "STATUS=";
  line.append(status);
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}

} // namespace

bool under_service_manager() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket && *socket;
}

void notify_ready(std::string_view status) {
  std::string message = "READY=1";
  if (!status.empty()) message += "\n" + status_line(status);
  send(message);
}

void notify_status(std::string_view status) {
  send(status_line(status));
}

void notify_stopping() {
  send("STOPPING=1");
}

} // namespace kinto::service_manager
