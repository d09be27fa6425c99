// The caller's principals and the refusal of a permission decision.
#include "http/call.hpp"

namespace kinto::http {

void resolve_principals(call& c) {
  // An invalid snapshot finds no group: storage failures are answered by
  // the handler's own read.
  c.who = core::resolve_caller(std::move(c.who.user_id), c.read());
}

error denied(const call& c) { return c.who.authenticated() ? forbidden() : unauthorized(); }

} // namespace kinto::http
