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

actors::authorization call::authorize(const actors::authorization_request& request) const {
  if (req.session) return req.session->authorize(request);
  storage::snapshot snap = read();
  if (snap.valid()) return actors::decide(request, snap);
  // No snapshot: answer as for an anonymous caller with no rights.
  actors::authorization none;
  none.principals.emplace_back(everyone);
  none.allowed.assign(request.checks.size(), false);
  none.holds.assign(request.holdings.size(), false);
  return none;
}

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
