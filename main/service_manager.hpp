// Telling the service manager (systemd, a unit of Type=notify) how kintod is
// doing: ready once it serves, stopping once it stops accepting. Each call
// does nothing when kintod was not started by one (NOTIFY_SOCKET unset), so
// callers need not check.
#pragma once

#include <string_view>

namespace kinto::service_manager {

/// Whether a service manager waits for these notifications (NOTIFY_SOCKET
/// is set and not empty).
bool under_service_manager();

/// READY=1, with `status` (one line; newlines become spaces) as the unit's
/// status text when not empty: call it once the server listens.
void notify_ready(std::string_view status);

/// The unit's status text alone (a long start, such as a storage upgrade).
void notify_status(std::string_view status);

/// STOPPING=1: call it once a stop has begun (SIGTERM or SIGINT received).
void notify_stopping();

} // namespace kinto::service_manager
