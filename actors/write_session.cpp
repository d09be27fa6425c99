#include "actors/write_session.hpp"

#include "actors/write_steps.hpp"


namespace kinto::actors {

write_session::write_session(storage::store& store, MDB_txn* parent, const history_options& history)
    : store_(store), parent_(parent), history_(history) {
  if (begin() != storage::status::ok) spoiled_ = true;
}

write_session::~write_session() = default; // an unfinished transaction is aborted

storage::status write_session::begin() {
  int rc = txn_.begin(store_.env(), false, parent_);
  return rc == MDB_SUCCESS ? storage::status::ok : storage::status_of(rc);
}

storage::view write_session::read() const { return storage::view(txn_.get(), store_.dbs()); }

write_outcome write_session::write(const list_key& list, const write_command& cmd) {
  if (spoiled_ || aborted_) return failed_with(backend_unavailable());
  storage::batch b(txn_.get(), store_.dbs());
  current_state current;
  if (cmd.op != write_op::touch) current = read_current(b, list, cmd.id);
  auto prepared = prepare_write(list, cmd, current, b.list_timestamp(list).value_or(0), store_.keys());
  if (auto* refused = std::get_if<write_outcome>(&prepared)) return std::move(*refused);
  prepared_write& w = std::get<prepared_write>(prepared);
  if (!w.needs_write()) return std::move(w.outcome);
  const storage::status s = storage_work(list, cmd.id, w, cmd.author, history_)(b);
  if (s != storage::status::ok) {
    // Refusals (conflict, missing parent) check before writing; anything
    // else may have written half and spoils the transaction.
    if (s == storage::status::full || s == storage::status::failed) spoiled_ = true;
    return failed_with(failure_of(s, list));
  }
  return std::move(w.outcome);
}

storage::status write_session::run(const std::function<storage::status(storage::batch&)>& apply) {
  if (spoiled_ || aborted_) return storage::status::failed;
  storage::batch b(txn_.get(), store_.dbs());
  const storage::status s = apply(b);
  if (s != storage::status::ok) spoiled_ = true;
  return s;
}

void write_session::roll_back() {
  if (aborted_) return;
  txn_.abort();
  spoiled_ = begin() != storage::status::ok;
}

void write_session::abort() {
  txn_.abort();
  aborted_ = true;
}

storage::status write_session::finish() {
  if (aborted_) return storage::status::ok; // nothing to keep, by request
  if (spoiled_) {
    txn_.abort();
    return storage::status::failed;
  }
  return storage::status_of(txn_.commit());
}

} // namespace kinto::actors
