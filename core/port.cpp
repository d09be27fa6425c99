#include "core/port.hpp"

#include "actors/write_service.hpp"
#include "actors/write_session.hpp"

namespace kinto::core {

namespace {

/// A batch session of the write path, as a transaction port.
class session_port final : public transaction {
public:
  explicit session_port(actors::write_session& session) : session_(session) {}
  storage::snapshot read() const override { return storage::snapshot(session_.read()); }
  void write(const list_key& list, actors::write_command cmd, std::function<void(actors::write_outcome)> done) override {
    done(session_.write(list, cmd));
  }
  void transact(std::function<void(transaction&)> body, std::function<void(storage::status)> done) override {
    // Already the only writer: the body's writes join this transaction.
    body(*this);
    done(session_.aborted() ? storage::status::failed : storage::status::ok);
  }
  void apply(std::function<storage::status(storage::batch&)> work, std::function<void(storage::status)> done) override {
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

storage::snapshot direct_port::read() const { return store_.read(); }

void direct_port::write(const list_key& list, actors::write_command cmd,
                        std::function<void(actors::write_outcome)> done) {
  writes_.submit(list, std::move(cmd), std::move(done));
}

void direct_port::transact(std::function<void(transaction&)> body, std::function<void(storage::status)> done) {
  writes_.run_session(
    [body = std::move(body)](actors::write_session& session) {
      session_port port(session);
      body(port);
    },
    std::move(done));
}

void direct_port::apply(std::function<storage::status(storage::batch&)> work,
                        std::function<void(storage::status)> done) {
  writes_.run_exclusive(std::move(work), std::move(done));
}

} // namespace kinto::core
