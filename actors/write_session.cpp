// A batch session's writes live in a savepoint of the committer's group
// transaction: rolling back drops the savepoint and opens another, finishing
// releases it into the group.
#include "actors/write_session.hpp"

#include "actors/write_steps.hpp"

namespace kinto::actors {

write_session::write_session(storage::engine& engine, storage::write_transaction& group,
                             const history_options& history, creation_log* creations)
    : engine_(engine), group_(group), history_(history), creations_(creations) {
  begin();
}

write_session::~write_session() = default; // an unreleased savepoint is dropped

void write_session::begin() {
  writes_ = group_.open_savepoint();
  spoiled_ = writes_ == nullptr;
}

const storage::view& write_session::read() const {
  // Without a savepoint (dropped, or none could begin) the session has no
  // writes of its own: what it sees is the group's state.
  if (!writes_) return group_;
  return *writes_;
}

write_outcome write_session::write(const list_key& list, planned_write w) {
  if (spoiled_ || aborted_) return failed_with(backend_unavailable());
  storage::writer& b = *writes_;
  stamp(w.plan, b.list_timestamp(list).value_or(0), now_ms());
  storage::status s = apply_write(b, list, w, history_, creations_);
  if (s != storage::status::ok) {
    // Refusals (conflict, missing parent) check before writing; anything
    // else may have written half and spoils the savepoint.
    if (b.failure() != storage::status::ok) s = b.failure();
    if (s == storage::status::full || s == storage::status::failed) spoiled_ = true;
    return failed_with(failure_of(s, list));
  }
  return outcome_of(w);
}

storage::status write_session::run(const std::function<storage::status(storage::writer&)>& apply) {
  if (spoiled_ || aborted_) return storage::status::failed;
  const storage::status s = apply(*writes_);
  if (s != storage::status::ok) spoiled_ = true;
  return s;
}

void write_session::roll_back() {
  if (aborted_) return;
  writes_.reset();
  begin();
}

void write_session::abort() {
  writes_.reset();
  aborted_ = true;
}

storage::status write_session::finish() {
  if (aborted_) return storage::status::ok; // nothing to keep, by request
  if (spoiled_) {
    writes_.reset();
    return storage::status::failed;
  }
  const storage::status s = writes_->release();
  writes_.reset();
  return s;
}

} // namespace kinto::actors
