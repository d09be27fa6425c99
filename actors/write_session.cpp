#include "actors/write_session.hpp"

#include "actors/write_steps.hpp"

#include <unordered_map>

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
  auto prepared = prepare_write(list, cmd, current, b.list_timestamp(list).value_or(0));
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
  changed_.add(w.changed);
  return std::move(w.outcome);
}

storage::status write_session::run(const std::function<storage::status(storage::batch&)>& apply) {
  if (spoiled_ || aborted_) return storage::status::failed;
  storage::batch b(txn_.get(), store_.dbs());
  const storage::status s = apply(b);
  if (s != storage::status::ok) spoiled_ = true;
  changed_.everything = true; // such work may touch anything
  return s;
}

authorization write_session::authorize(const authorization_request& request) const {
  const storage::view snap = read();
  // Lookups live as long as this decision: no cache outlives the session's writes.
  std::unordered_map<std::string, std::vector<std::string>> groups;
  std::unordered_map<std::string, json::value> acls;
  authorization_sources direct;
  direct.groups_of = [&](const std::string& principal) -> const std::vector<std::string>& {
    auto it = groups.find(principal);
    if (it == groups.end()) it = groups.emplace(principal, snap.groups_of(principal)).first;
    return it->second;
  };
  direct.acl_of = [&](const std::string& uri) -> const json::value& {
    auto it = acls.find(uri);
    if (it == acls.end()) {
      json::value perms = json::value::object();
      std::string err;
      if (auto text = snap.permissions(uri))
        if (auto parsed = json::parse(*text, err)) perms = std::move(*parsed);
      it = acls.emplace(uri, std::move(perms)).first;
    }
    return it->second;
  };
  return decide(request, snap, direct);
}

void write_session::roll_back() {
  if (aborted_) return;
  txn_.abort();
  changed_ = invalidation{};
  spoiled_ = begin() != storage::status::ok;
}

void write_session::abort() {
  txn_.abort();
  changed_ = invalidation{};
  aborted_ = true;
}

storage::status write_session::finish() {
  if (aborted_) return storage::status::ok; // nothing to keep, by request
  if (spoiled_) {
    txn_.abort();
    changed_ = invalidation{};
    return storage::status::failed;
  }
  int rc = txn_.commit();
  if (rc != MDB_SUCCESS) {
    changed_ = invalidation{};
    return storage::status_of(rc);
  }
  return storage::status::ok;
}

} // namespace kinto::actors
