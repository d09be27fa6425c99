// The storage engine interface: what the write path and the HTTP edge ask of
// the store of Kinto's data (objects and tombstones, the change index by
// timestamp, list timestamps, permissions, group memberships), whatever
// engine holds it. Names no engine's types; LMDB implements it
// (lmdb_engine.hpp), and PostgreSQL (postgresql_engine.hpp). Knows nothing
// of actors or HTTP; no exception leaves it.
#pragma once

#include "schema/resource.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kinto::storage {

/// Outcome of a write operation.
enum class status : std::uint8_t {
  ok,
  conflict, ///< a uniqueness rule would break (e.g. a timestamp already used in the list)
  missing,  ///< an object the write depends on (its parent) does not exist
  full,     ///< the store is full (LMDB: the map): nothing more can be written
  failed,   ///< I/O or other engine failure
  stale,    ///< the stored version is not the one the write was planned on
};

/// What a status means, for logs ("storage full", "I/O or engine failure").
std::string_view status_text(status s);

/// One stored object or tombstone, with its permissions.
struct object {
  std::uint64_t last_modified = 0;
  bool deleted = false;
  std::string data;        ///< JSON text of `data` (with id and last_modified); empty for tombstones
  std::string permissions; ///< JSON object text of its permissions; empty (or "{}") when none
};

/// Whether `permissions` (an object's) names no permission at all.
inline bool no_permissions(std::string_view permissions) { return permissions.empty() || permissions == "{}"; }

/// One entry met while walking a list by timestamp. Views live until the
/// snapshot or transaction ends or writes.
/// What a request reads next (view::read_ahead): the object `id` of `list`
/// and the objects above it (its collection, its bucket), with their
/// permissions; the groups of `members` (groups_of_any); and, when named,
/// the timestamp of the list `stamped`.
struct read_hint {
  const list_key& list;
  std::string_view id;
  std::span<const std::string_view> members = {};
  const list_key* stamped = nullptr;
};

struct change {
  std::uint64_t last_modified;
  std::string_view id;
  bool deleted;
  std::string_view data;
  std::string_view permissions; ///< JSON object text; empty when none
};

/// Called for each permission a principal holds on an object (the reverse
/// index of permissions): the object's list and id, the permission's name.
/// Returns false to stop.
using grant_visitor = std::function<bool(const list_key& list, std::string_view id, std::string_view name)>;

/// A name of the list, distinct for distinct lists: a key for the callers'
/// maps of lists (one list actor each). Not a storage key.
std::string list_id(const list_key& list);

/// Read operations, over a read snapshot or inside a write transaction.
/// "Not found" is an empty optional or an empty walk. Data the engine finds
/// damaged stops the process: nothing read from it could be trusted.
class view {
public:
  virtual ~view() = default;

  /// The object or tombstone `id` of the list; nullopt when never written.
  virtual std::optional<object> get(const list_key& list, std::string_view id) const = 0;
  /// Timestamp of the list, nullopt when it never had one.
  virtual std::optional<std::uint64_t> list_timestamp(const list_key& list) const = 0;
  /// Permissions of the object at `uri` (`/buckets/b/collections/c`) as a
  /// JSON object text; nullopt when it has none (or is not there).
  std::optional<std::string> permissions(std::string_view uri) const {
    ++permission_lookups_;
    return read_permissions(uri);
  }
  /// Group URIs whose members include `principal`.
  std::vector<std::string> groups_of(std::string_view principal) const { return groups_of_any({&principal, 1}); }
  /// Group URIs whose members include one of `principals`: the groups of
  /// each principal in turn, each group once.
  virtual std::vector<std::string> groups_of_any(std::span<const std::string_view> principals) const = 0;
  /// Walks the list by timestamp over (after, before), newest or oldest
  /// first; `before` 0 means no upper bound. Tombstones are included. Stops
  /// when `visit` returns false. Costs what it visits, not the list size.
  /// `wanted`, when given, is asked about each id first: the object of an
  /// unwanted id is not even read.
  virtual void walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
                    const std::function<bool(const change&)>& visit,
                    const std::function<bool(std::string_view id)>& wanted = {}) const = 0;
  /// Walks every object and tombstone of the list in id order: the cheapest
  /// way through a whole list (no lookup per entry).
  virtual void walk_all(const list_key& list, const std::function<bool(const change&)>& visit) const = 0;
  /// The objects on which `principal` appears in some permission, with
  /// that permission's name, through the reverse index of permissions: in
  /// every list, or in `list` alone. Costs what it visits.
  void walk_grants(std::string_view principal, const grant_visitor& visit) const {
    walk_grants_in(principal, nullptr, visit);
  }
  void walk_grants(std::string_view principal, const list_key& list, const grant_visitor& visit) const {
    walk_grants_in(principal, &list, visit);
  }
  /// A value of the server-wide facts (secrets, counters).
  virtual std::optional<std::string> meta(std::string_view key) const = 0;
  /// Says what the reads which follow concern: an engine whose reads are
  /// round trips may read it all at once. Changes no answer.
  virtual void read_ahead(const read_hint& hint) const { (void)hint; }
  /// Whether a read of this view failed (the engine lost its database on
  /// the way): its answers since, "not found" included, are not to be
  /// trusted, and whoever answers from them answers 503 instead.
  virtual bool failed() const { return false; }

  /// How many times permissions() was called on this view (diagnostics:
  /// the cost of permission filtering is counted in lookups).
  std::uint64_t permission_lookups() const { return permission_lookups_; }

protected:
  view() = default;
  view(const view&) = default;
  view& operator=(const view&) = default;

private:
  /// permissions() of the engine, which counts the lookups.
  virtual std::optional<std::string> read_permissions(std::string_view uri) const = 0;
  /// walk_grants() of the engine: in `list` only, unless it is null.
  virtual void walk_grants_in(std::string_view principal, const list_key* list, const grant_visitor& visit) const = 0;

  mutable std::uint64_t permission_lookups_ = 0;
};

/// Read and write operations inside a write transaction. Reads see the
/// transaction's own writes.
///
/// A write answers `conflict`, `stale` or `missing` having written nothing. `full`
/// or `failed` may leave it half done: the transaction remembers the first
/// such failure, and also a read that failed otherwise than by finding
/// nothing (it answered "not found", which nothing may be decided on). From
/// then on every write answers that failure without writing, and the
/// transaction cannot commit.
class writer : public view {
public:
  /// Stores the object (or tombstone) `id` with its permissions, keeping the
  /// reverse index of permissions in step (a tombstone has none), and moves
  /// its entry in the change index from the stored version's timestamp to
  /// its new one. `previous` is
  /// the timestamp of the version the write was planned on, nullopt when it
  /// was planned on nothing stored: when the stored version is another one
  /// (or none), `stale` and nothing is written. `conflict` when another
  /// object of the list already has the new timestamp.
  [[nodiscard]] virtual status put(const list_key& list, std::string_view id, const object& obj,
                                   std::optional<std::uint64_t> previous) = 0;
  [[nodiscard]] virtual status set_list_timestamp(const list_key& list, std::uint64_t ts) = 0;
  [[nodiscard]] virtual status add_member(std::string_view principal, std::string_view group_uri) = 0;
  [[nodiscard]] virtual status remove_member(std::string_view principal, std::string_view group_uri) = 0;
  /// Removes everything below the object `uri`: its child lists with their
  /// objects, tombstones, timestamps, permissions, and the memberships of
  /// groups among them. The object itself is left to the caller.
  [[nodiscard]] virtual status erase_children(std::string_view uri) = 0;
  /// Removes an object and its change-index entry without a tombstone, and
  /// its permissions (for trimming).
  [[nodiscard]] virtual status erase_object(const list_key& list, std::string_view id) = 0;
  /// Removes `principal` from every permission and group membership
  /// (objects keep their timestamps).
  [[nodiscard]] virtual status forget_principal(std::string_view principal) = 0;
  [[nodiscard]] virtual status set_meta(std::string_view key, std::string_view value) = 0;
  /// Removes every piece of data (flush).
  [[nodiscard]] virtual status erase_everything() = 0;

  /// The first failure (`full` or `failed`) this transaction met; ok while
  /// there is none.
  virtual status failure() const = 0;
};

/// Writes nested in a write transaction (LMDB: a nested transaction; SQL: a
/// SAVEPOINT). Its reads see the enclosing transaction's state and its own
/// writes. Released, its writes become the enclosing transaction's; dropped
/// (destroyed unreleased), they vanish, leaving the enclosing transaction as
/// it was when the savepoint was opened. Until then the enclosing
/// transaction must not be used, and must outlive it.
class savepoint : public writer {
public:
  /// Makes the savepoint's writes the enclosing transaction's and ends it:
  /// only its destruction may follow. Anything but ok means none of them
  /// were kept (a failure the savepoint met earlier is answered here); the
  /// enclosing transaction is then as it was when the savepoint was opened.
  [[nodiscard]] virtual status release() = 0;
};

/// The top-level write transaction. Destroyed without commit(), it keeps
/// nothing.
class write_transaction : public writer {
public:
  /// Opens a savepoint of this transaction, which must be released or
  /// dropped before another is opened; nullptr when none can begin.
  [[nodiscard]] virtual std::unique_ptr<savepoint> open_savepoint() = 0;
  /// Commits durably and calls `done` exactly once: with ok, or with the
  /// failure (`full`, `failed`) that kept nothing of the transaction.
  /// `done` may run inline, before commit() returns (LMDB, after the fsync),
  /// or later on another thread (a remote engine). After this call the
  /// transaction is only destroyed, which it may be as soon as commit()
  /// returns.
  virtual void commit(std::function<void(status)> done) = 0;
  /// A message for the other processes sharing the store (the heads of a
  /// PostgreSQL database), sent as this transaction commits and only if it
  /// does: text of printable ASCII and newlines. Engines no other process
  /// shares drop it.
  virtual void announce(std::string message) { (void)message; }
};

/// A read snapshot, move-only: a consistent view of what was committed when
/// it began, held until it is destroyed, or a borrowed view of someone
/// else's (a batch session's own writes), which must outlive it. Invalid
/// when the engine could not begin one: check valid(); an invalid snapshot
/// finds nothing.
class snapshot final : public view {
public:
  snapshot() = default;
  /// Owns `engine_view`, a read-only view of the engine.
  explicit snapshot(std::unique_ptr<const view> engine_view);
  /// Reads through `borrowed`, which outlives the snapshot.
  explicit snapshot(const view& borrowed);
  snapshot(snapshot&& o) noexcept;
  snapshot& operator=(snapshot&& o) noexcept;

  bool valid() const { return target_ != nullptr; }

  std::optional<object> get(const list_key& list, std::string_view id) const override;
  std::optional<std::uint64_t> list_timestamp(const list_key& list) const override;
  std::vector<std::string> groups_of_any(std::span<const std::string_view> principals) const override;
  void walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
            const std::function<bool(const change&)>& visit,
            const std::function<bool(std::string_view id)>& wanted = {}) const override;
  void walk_all(const list_key& list, const std::function<bool(const change&)>& visit) const override;
  std::optional<std::string> meta(std::string_view key) const override;
  void read_ahead(const read_hint& hint) const override;
  bool failed() const override { return target_ && target_->failed(); }

private:
  std::optional<std::string> read_permissions(std::string_view uri) const override;
  void walk_grants_in(std::string_view principal, const list_key* list, const grant_visitor& visit) const override;

  std::unique_ptr<const view> owned_;
  const view* target_ = nullptr;
};

/// How long the object URIs and principals an engine builds its keys from
/// may be, so that every key fits (for LMDB see lmdb_key_limits()). Writers
/// refuse longer ones before they reach storage; reads of them find nothing.
class key_limits {
public:
  /// Nothing fits.
  key_limits() = default;
  /// `principal_bytes` for principals, `uri_bytes(k)` for the URI of an
  /// object of kind k.
  key_limits(std::size_t principal_bytes, const std::function<std::size_t(kind)>& uri_bytes);
  /// Longest principal (user id, group URI, system principal) in a
  /// permission or among a group's members: as long as the longest group
  /// URI, so that any group can be named.
  std::size_t principal_bytes() const { return principal_bytes_; }
  /// Longest URI of an object of kind `k` ("/buckets/b/collections/c").
  std::size_t uri_bytes(kind k) const { return uri_bytes_[static_cast<std::size_t>(k)]; }
  bool uri_fits(const list_key& list, std::string_view id) const;
  bool principal_fits(std::string_view principal) const { return principal.size() <= principal_bytes_; }
  friend bool operator==(const key_limits&, const key_limits&) = default;

private:
  static constexpr std::size_t kinds = static_cast<std::size_t>(kind::history) + 1;
  std::size_t principal_bytes_ = 0;
  std::array<std::size_t, kinds> uri_bytes_{};
};

/// Bytes of the id of a history entry (a UUID4): part of its URI, hence of
/// its keys.
inline constexpr std::size_t history_entry_id_bytes = 36;

/// How an engine that talks to a server waits for its answers without
/// holding a thread: `await(fd, ready)` calls `ready` once, on a thread of
/// the caller's event loop, when the socket `fd` is readable or failed.
using readiness = std::function<void(int fd, std::function<void()> ready)>;

/// Where Kinto's data is kept, opened at start.
class engine {
public:
  virtual ~engine() = default;

  /// A snapshot of what is committed now; check valid() (false when the
  /// engine cannot begin one). From any thread, several at once.
  virtual snapshot read() const = 0;
  /// A snapshot with `hint` read ahead, given to `then`. By default before
  /// read() returns; an engine given a readiness (wait_through) sends what
  /// it reads and returns, and `then` runs once the server answered, on a
  /// thread of that readiness. `hint` is used during the call only.
  virtual void read(const read_hint& hint, std::function<void(snapshot)> then) const;
  /// Lets the engine wait for its server through `await` (empty: it waits
  /// on the calling thread again). Set before serving, cleared after:
  /// never while reads run.
  virtual void wait_through(readiness await) { (void)await; }
  /// Begins the write transaction into `txn`; anything but ok (`full`,
  /// `failed`) means there is none. One at a time per process: the next
  /// may begin once this one is destroyed uncommitted, or its commit's
  /// `done` has run.
  [[nodiscard]] virtual status begin_write(std::unique_ptr<write_transaction>& txn) = 0;
  /// What fits in this engine's keys.
  virtual const key_limits& keys() const = 0;
  /// Calls `heard` (on a thread of the engine's) with each message that a
  /// process sharing the store announced, its own included, once it is
  /// committed; empty: nobody. Messages may be lost (a connection lost
  /// meanwhile). Engines no other process shares never call it.
  virtual void listen(std::function<void(const std::string&)> heard) { (void)heard; }
};

} // namespace kinto::storage
