// A request's way to the data: straight to the store and the actors, or,
// for the requests of a batch that writes, through the batch's session.
#include "http/call.hpp"

#include "actors/write_session.hpp"

namespace kinto::http {

storage::snapshot call::read() const {
  if (req.session) return storage::snapshot(req.session->read());
  return a.store.read();
}

void call::submit(const list_key& list, actors::write_command cmd,
                  std::function<void(actors::write_outcome)> done) const {
  if (req.session) return done(req.session->write(list, cmd));
  a.writes.submit(list, std::move(cmd), std::move(done));
}

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

void call::run_exclusive(std::function<storage::status(storage::batch&)> apply,
                         std::function<void(storage::status)> done) const {
  if (req.session) return done(req.session->run(apply));
  a.writes.run_exclusive(std::move(apply), std::move(done));
}

void call::run_blocking(std::function<void()> work) const {
  if (req.session) return work();
  a.run_blocking(std::move(work));
}

} // namespace kinto::http
