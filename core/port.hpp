// Where a request's operations read and write. A request on its own reads
// fresh snapshots and writes through the write path (list actors, group
// commit), answered later on another thread. The requests of a batch that
// writes all go to the batch's transaction, synchronously: reads see its
// writes, and all of it is kept together or not at all
// (batch-and-plugins.md §1.4). Operations are written once, against this
// interface, and mean the same in both.
#pragma once

#include "actors/commands.hpp"
#include "core/write_rules.hpp"
#include "storage/engine.hpp"

#include <functional>

namespace kinto::actors {
class write_service;
class write_session;
} // namespace kinto::actors

namespace kinto::core {

class transaction;

/// Where work continues: a request's executor.
using executor = std::function<void(std::function<void()>)>;

/// How a storage step ended, for callers that only pass it on.
using storage_status = storage::status;

/// What a request already read of a write's target, from its view: the
/// write is planned on it first, so that the target is read once.
struct target_read {
  const storage::view& view;
  const current_state& current;
};

class port {
public:
  virtual ~port() = default;
  /// A view of the data: a fresh snapshot, or the transaction's own state.
  /// Check valid().
  virtual storage::snapshot read() const = 0;
  /// A view with `hint` read ahead, given to `then`: at once, or, when the
  /// engine waits for a database, once it answered, on another thread (an
  /// I/O thread; never an actor's). `hint` is used during the call only.
  virtual void read(const storage::read_hint& hint, std::function<void(storage::snapshot)> then) const;
  /// One object write; `done` runs once, when it is durable or refused (in
  /// a transaction: before write() returns, and durable with it). `read`,
  /// when given, is what the caller read of the target (used during the
  /// call only). A write found stale is planned again on `resume`, the
  /// request's executor (its reads may wait for the database: never on an
  /// actor's thread).
  virtual void write(const list_key& list, actors::write_command cmd, std::function<void(actors::write_outcome)> done,
                     const target_read* read, const executor& resume) = 0;
  /// Runs `body` in a transaction, alone among writers, reading what it
  /// writes (inside a transaction: in that one). `done` gets ok once what it
  /// kept is durable, or the storage failure that made it keep nothing.
  virtual void transact(std::function<void(transaction&)> body, std::function<void(storage::status)> done) = 0;
  /// Server-wide storage work (flush, user data), alone; `done` gets its status.
  virtual void apply(std::function<storage::status(storage::writer&)> work,
                     std::function<void(storage::status)> done) = 0;
  /// Runs slow work (password hashing) away from the I/O threads (inline in
  /// a transaction). False, and nothing run, when too much already waits.
  virtual bool offload(std::function<void()> work) = 0;
};

/// A batch's transaction, as a port.
class transaction : public port {
public:
  /// Drops every write made so far; later writes start afresh (a 409).
  virtual void roll_back() = 0;
  /// Drops everything: nothing of the transaction will be kept (a 5xx).
  virtual void abort() = 0;
};

/// The port of requests on their own.
class direct_port final : public port {
public:
  /// `offload` runs work on a bounded pool, returning false when it is full.
  direct_port(storage::engine& store, actors::write_service& writes, std::function<bool(std::function<void()>)> offload)
      : store_(store), writes_(writes), offload_(std::move(offload)) {}
  storage::snapshot read() const override;
  void read(const storage::read_hint& hint, std::function<void(storage::snapshot)> then) const override;
  void write(const list_key& list, actors::write_command cmd, std::function<void(actors::write_outcome)> done,
             const target_read* read, const executor& resume) override;
  void transact(std::function<void(transaction&)> body, std::function<void(storage::status)> done) override;
  void apply(std::function<storage::status(storage::writer&)> work, std::function<void(storage::status)> done) override;
  bool offload(std::function<void()> work) override { return offload_(std::move(work)); }

private:
  storage::engine& store_;
  actors::write_service& writes_;
  std::function<bool(std::function<void()>)> offload_;
};

} // namespace kinto::core
