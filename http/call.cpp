// The caller's principals and the refusal of a permission decision.
#include "http/call.hpp"

namespace kinto::http {

void resolve_principals(call& c) {
  storage::snapshot snap = c.read();
  // Without a snapshot the caller holds no group: storage failures are
  // answered by the handler's own read.
  if (snap.valid()) {
    c.who = core::resolve_caller(std::move(c.who.user_id), snap);
  } else {
    c.who = core::caller{std::move(c.who.user_id), {}};
    if (c.who.authenticated()) c.who.principals = {c.who.user_id, std::string(everyone), std::string(authenticated)};
    else c.who.principals = {std::string(everyone)};
  }
}

error denied(const call& c) { return c.who.authenticated() ? forbidden() : unauthorized(); }

} // namespace kinto::http
