// The change feed (push): subscribers of a list receive what a `_since` poll
// of it would return, as it is committed. A subscriber's position is the
// timestamp of the last change it was sent; the feed finds what comes after
// it by walking the list in storage from there, on a snapshot, with the
// caller's permissions and the request's filters, exactly as a poll would.
// So nothing is lost or sent twice, whatever happens between two looks, and
// a subscriber resuming from an event id gets what follows it.
//
// When to look: after every local commit (the write path says so), and,
// every `poll_interval`, for the writes of other heads on a shared
// database. A look reads the timestamps of the lists subscribed to and of
// the lists holding their ancestors (a changed collection or bucket may
// have changed permissions); a subscriber is caught up when one moved.
// The feed works on a thread of its own; sinks take its events and write
// them out elsewhere, in their transport's form (Server-Sent Events,
// WebSocket messages).
#pragma once

#include "actors/write_service.hpp"
#include "core/ops.hpp"
#include "storage/engine.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace kinto::core {

/// One change as a subscriber receives it.
struct feed_event {
  enum class action : std::uint8_t {
    create, ///< the object did not exist at the subscriber's position
    update, ///< it did (or its creation is not known to this process)
    remove, ///< a tombstone
  };
  std::uint64_t timestamp = 0; ///< the object's last_modified
  action what = action::update;
  std::string data;            ///< JSON text of the object or tombstone, as a poll shows it
};

/// Where a subscriber's events go, written out by the transport.
/// Thread-safe.
class feed_sink {
public:
  virtual ~feed_sink() = default;
  /// Queues `e`; false once the stream is over (the client went away).
  virtual bool send(const feed_event& e) = 0;
  /// Tells an idle client the stream is alive; false once it is over.
  virtual bool heartbeat() = 0;
  /// Bytes queued and not yet taken by the client.
  virtual std::size_t queued() const = 0;
  /// Ends the stream once what is queued is written, saying why: `reason`
  /// is the JSON text of the error that ends it (permission lost, parent
  /// deleted), empty when the server stops.
  virtual void end(std::string_view reason) = 0;
  /// False once the stream is over.
  virtual bool open() const = 0;
};

struct feed_options {
  std::chrono::seconds heartbeat{30};          ///< a comment this often on an idle stream
  std::size_t max_buffer_bytes = 1024 * 1024;  ///< a subscriber waits while this much is queued for it
  std::size_t max_subscribers = 10000;         ///< beyond: refused (503)
  std::chrono::milliseconds poll_interval{1000}; ///< looks for other heads' writes; 0 = never
};

/// What a subscriber follows: a list, as one caller may read it, filtered
/// by a query (its filters and `_fields`; order and pages do not apply).
struct subscription {
  std::string user_id;
  list_key list;
  query::request q;
  /// The position: the timestamp of the last change already known. Nullopt:
  /// from the start, the live objects first (as a poll without `_since`),
  /// tombstones only for what is deleted afterwards.
  std::optional<std::uint64_t> since;
  /// Equal for subscriptions that see the same events from the same
  /// position (the caller, the list and the query): they share their walks.
  std::string key;
};

class feed {
public:
  /// Follows what `store` holds, told of every commit by `writes`.
  feed(const rules& cfg, storage::engine& store, actors::write_service& writes, feed_options options);
  ~feed();
  feed(const feed&) = delete;
  feed& operator=(const feed&) = delete;

  /// Adds a subscriber, which receives its backlog then every change, until
  /// its sink is over or the feed stops. False when `max_subscribers` are
  /// subscribed already.
  bool subscribe(subscription s, std::shared_ptr<feed_sink> sink);
  /// Something was committed: look again (from any thread, never blocks).
  void changed();
  /// The sink of a subscriber has room again (it had `max_buffer_bytes`),
  /// or is over.
  void drained(const std::shared_ptr<feed_sink>& sink);
  /// Subscribers now.
  std::size_t subscribers() const;
  /// Ends every stream and stops the feed's thread.
  void stop();

  const feed_options& options() const { return options_; }

private:
  struct subscriber;
  struct watched_list;
  void run();
  void look(const storage::view& v);
  struct walked;
  walked walk_from(const subscriber& s, const storage::view& v) const;
  void catch_up(const std::vector<subscriber*>& group, const storage::view& v);

  const rules& cfg_;
  storage::engine& store_;
  actors::write_service& writes_;
  feed_options options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool changed_ = false;
  std::deque<std::shared_ptr<subscriber>> arriving_;
  std::vector<const feed_sink*> drained_;
  std::size_t count_ = 0;

  // The feed thread's own.
  std::vector<std::shared_ptr<subscriber>> subscribers_;
  std::unordered_map<std::string, std::uint64_t> stamps_; ///< list id -> timestamp last seen
  std::thread thread_;
};

/// The text of one Server-Sent Event (`id`, `event`, `data` lines).
std::string sse_event(std::uint64_t id, std::string_view event, std::string_view data);

/// The name of an action in events: "create", "update", "delete".
std::string_view action_name(feed_event::action a);

} // namespace kinto::core
