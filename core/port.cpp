#include "core/port.hpp"

#include "actors/write_service.hpp"
#include "actors/write_session.hpp"
#include "core/write_rules.hpp"

#include <memory>

namespace kinto::core {

namespace {

/// A batch session of the write path, as a transaction port.
class session_port final : public transaction {
public:
  explicit session_port(actors::write_session& session) : session_(session) {}
  using port::read;
  storage::snapshot read() const override { return storage::snapshot(session_.read()); }
  void write(const list_key& list, actors::write_command cmd, std::function<void(actors::write_outcome)> done,
             const target_read* read, const executor&) override {
    // Planned on the session's own state, which nothing else changes meanwhile.
    auto planned = read ? plan_on(read->view, read->current, list, cmd, session_.keys())
                        : plan_against(session_.read(), list, cmd, session_.keys());
    if (auto* answered = std::get_if<actors::write_outcome>(&planned)) return done(std::move(*answered));
    done(session_.write(list, std::move(std::get<actors::planned_write>(planned))));
  }
  void transact(std::function<void(transaction&)> body, std::function<void(storage::status)> done) override {
    // Already the only writer: the body's writes join this transaction.
    body(*this);
    done(session_.aborted() ? storage::status::failed : storage::status::ok);
  }
  void apply(std::function<storage::status(storage::writer&)> work, std::function<void(storage::status)> done) override {
    done(session_.run(work));
  }
  bool offload(std::function<void()> work) override {
    work(); // the session's thread is the writer's; nothing else waits on it
    return true;
  }
  void roll_back() override { session_.roll_back(); }
  void abort() override { session_.abort(); }

private:
  actors::write_session& session_;
};

} // namespace

void port::read(const storage::read_hint& hint, std::function<void(storage::snapshot)> then) const {
  storage::snapshot snap = read();
  if (snap.valid()) snap.read_ahead(hint);
  then(std::move(snap));
}

storage::snapshot direct_port::read() const { return store_.read(); }

void direct_port::read(const storage::read_hint& hint, std::function<void(storage::snapshot)> then) const {
  store_.read(hint, std::move(then));
}

namespace {

/// Plans `cmd` on a fresh snapshot and submits it; a write found stale (its
/// target or its list changed after the snapshot) is planned again on what
/// is stored, on `resume`.
void plan_and_submit(storage::engine& store, actors::write_service& writes, const list_key& list,
                     std::shared_ptr<const actors::write_command> cmd, std::function<void(actors::write_outcome)> done,
                     executor resume, const target_read* read = nullptr) {
  std::variant<actors::planned_write, actors::write_outcome> planned;
  if (read) {
    planned = plan_on(read->view, read->current, list, *cmd, store.keys());
  } else {
    storage::snapshot snap = store.read();
    if (!snap.valid()) return done(actors::failed_with(backend_unavailable()));
    planned = plan_against(snap, list, *cmd, store.keys());
  }
  if (auto* answered = std::get_if<actors::write_outcome>(&planned)) return done(std::move(*answered));
  writes.submit(list, std::move(std::get<actors::planned_write>(planned)),
                [&store, &writes, list, cmd, done = std::move(done), resume](actors::write_outcome outcome) mutable {
                  if (!outcome.stale) return done(std::move(outcome));
                  executor again = resume;
                  again([&store, &writes, list, cmd, done = std::move(done), resume = std::move(resume)]() mutable {
                    plan_and_submit(store, writes, list, cmd, std::move(done), std::move(resume));
                  });
                });
}

} // namespace

void direct_port::write(const list_key& list, actors::write_command cmd,
                        std::function<void(actors::write_outcome)> done, const target_read* read,
                        const executor& resume) {
  plan_and_submit(store_, writes_, list, std::make_shared<const actors::write_command>(std::move(cmd)), std::move(done),
                  resume, read);
}

void direct_port::transact(std::function<void(transaction&)> body, std::function<void(storage::status)> done) {
  writes_.run_session(
    [body = std::move(body)](actors::write_session& session) {
      session_port port(session);
      body(port);
    },
    std::move(done));
}

void direct_port::apply(std::function<storage::status(storage::writer&)> work,
                        std::function<void(storage::status)> done) {
  writes_.run_exclusive(std::move(work), std::move(done));
}

} // namespace kinto::core
