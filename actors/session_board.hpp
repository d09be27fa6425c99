// Where the bodies of batch sessions wait for the committer, by ticket: a
// message names a session, it does not carry its code. Internal to actors/.
#pragma once

#include "storage/engine.hpp"

#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace kinto::actors {

class session_board {
public:
  using body = std::function<storage::status(storage::write_transaction&)>;
  /// Keeps `b` until run(); returns its ticket.
  std::uint64_t post(body b) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::uint64_t ticket = ++last_;
    bodies_.emplace(ticket, std::move(b));
    return ticket;
  }
  /// Runs the body of `ticket` in `txn` and forgets it; `failed` when unknown.
  storage::status run(std::uint64_t ticket, storage::write_transaction& txn) {
    body b;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = bodies_.find(ticket);
      if (it == bodies_.end()) return storage::status::failed;
      b = std::move(it->second);
      bodies_.erase(it);
    }
    return b(txn);
  }

private:
  std::mutex mutex_;
  std::uint64_t last_ = 0;
  std::unordered_map<std::uint64_t, body> bodies_;
};

} // namespace kinto::actors
