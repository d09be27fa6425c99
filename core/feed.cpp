// The change feed (see feed.hpp): one thread takes arriving subscribers,
// looks at the timestamps they depend on, and catches up each one whose
// timestamps moved, all on one snapshot per pass.
#include "core/feed.hpp"

#include "base/json.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_set>

namespace kinto::core {

namespace {

using clock = std::chrono::steady_clock;

/// The lists whose timestamps say that what a subscriber of `list` may see
/// changed: the list itself, and the lists holding its ancestors (their
/// permissions, their existence) and its bucket's groups (memberships).
std::vector<list_key> watched_lists(const list_key& list) {
  std::vector<list_key> out{list};
  const std::string& parent = list.parent;
  constexpr std::string_view buckets = "/buckets/";
  if (parent.rfind(buckets, 0) == 0) {
    const std::size_t end = parent.find('/', buckets.size());
    const std::string bucket = parent.substr(0, end);
    if (end != std::string::npos) out.push_back(list_key{bucket, kind::collection});
    out.push_back(list_key{bucket, kind::group});
    out.push_back(list_key{"", kind::bucket});
  }
  return out;
}

/// Why the stream of a subscriber that fell behind ends.
const std::string& fell_behind() {
  static const std::string text = [] {
    error e = backend_unavailable();
    e.message = "This subscriber fell behind by more than push_max_buffer_bytes: resume after the last event received";
    return render(e);
  }();
  return text;
}

} // namespace

struct feed::subscriber {
  subscription sub;
  std::shared_ptr<feed_sink> sink;
  std::vector<list_key> watched;
  std::uint64_t position = 0;  ///< timestamp of the last change walked
  /// Without a position to start from: the objects up to this timestamp
  /// are the backlog, sent without tombstones, as a poll without `_since`.
  std::optional<std::uint64_t> backlog_end;
  bool dirty = true;           ///< to catch up at the next pass
  bool waiting = false;        ///< its sink is full: until it drains
  bool behind = false;         ///< changes came while it was full: its stream ends
  std::uint64_t full_at = 0;   ///< the list's timestamp when it was found full
  bool over = false;
  clock::time_point last_sent = clock::now();
};

std::string sse_event(std::uint64_t id, std::string_view event, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 48);
  if (id) out.append("id: ").append(std::to_string(id)).append("\n");
  out.append("event: ").append(event).append("\n");
  // JSON text has no raw newline; any other text is split into data lines.
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = data.find('\n', start);
    out.append("data: ").append(data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    out.append("\n");
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out.append("\n");
  return out;
}

std::string_view action_name(feed_event::action a) {
  switch (a) {
    case feed_event::action::create: return "create";
    case feed_event::action::remove: return "delete";
    default: return "update";
  }
}

feed::feed(const rules& cfg, storage::engine& store, actors::write_service& writes, feed_options options)
    : cfg_(cfg), store_(store), writes_(writes), options_(options), thread_([this] { run(); }) {
  writes_.on_commit([this] { changed(); });
}

feed::~feed() { stop(); }

bool feed::subscribe(subscription s, std::shared_ptr<feed_sink> sink) {
  auto sub = std::make_shared<subscriber>();
  sub->watched = watched_lists(s.list);
  if (s.since) sub->position = *s.since;
  sub->sub = std::move(s);
  sub->sink = std::move(sink);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || count_ >= options_.max_subscribers) return false;
    ++count_;
    arriving_.push_back(std::move(sub));
  }
  wake_.notify_one();
  return true;
}

void feed::changed() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    changed_ = true;
  }
  wake_.notify_one();
}

void feed::drained(const std::shared_ptr<feed_sink>& sink) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    drained_.push_back(sink.get());
  }
  wake_.notify_one();
}

std::size_t feed::subscribers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_;
}

void feed::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  writes_.on_commit({});
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& s : subscribers_) s->sink->end({});
  for (auto& s : arriving_) s->sink->end({});
  subscribers_.clear();
  arriving_.clear();
  count_ = 0;
}

void feed::run() {
  auto next_poll = clock::now() + options_.poll_interval;
  for (;;) {
    bool look_now = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Heartbeats are checked every second at least.
      auto deadline = clock::now() + std::chrono::seconds(1);
      if (options_.poll_interval.count() > 0) deadline = std::min(deadline, next_poll);
      wake_.wait_until(lock, deadline,
                       [this] { return stopping_ || changed_ || !arriving_.empty() || !drained_.empty(); });
      if (stopping_) return;
      while (!arriving_.empty()) {
        subscribers_.push_back(std::move(arriving_.front()));
        arriving_.pop_front();
      }
      if (!drained_.empty()) {
        const std::unordered_set<const feed_sink*> woken(drained_.begin(), drained_.end());
        for (auto& s : subscribers_)
          if (woken.count(s->sink.get())) s->waiting = false, s->dirty = true;
        drained_.clear();
      }
      look_now = std::exchange(changed_, false);
    }
    const auto now = clock::now();
    if (options_.poll_interval.count() > 0 && now >= next_poll) {
      look_now = true;
      next_poll = now + options_.poll_interval;
    }
    const bool work = look_now || std::any_of(subscribers_.begin(), subscribers_.end(),
                                              [](const auto& s) { return s->dirty && !s->waiting; });
    if (work) {
      storage::snapshot v = store_.read();
      if (v.valid() && look_now) look(v);
      // Subscribers that would walk the same way from the same position
      // share the walk.
      std::map<std::tuple<std::string, std::uint64_t, std::optional<std::uint64_t>, bool>, std::vector<subscriber*>>
        groups;
      if (v.valid() && !v.failed())
        for (auto& s : subscribers_) {
          if (s->behind && !s->over) {
            // What is queued still goes out; the client resumes after it.
            s->sink->end(fell_behind());
            s->over = true;
          }
          if (s->over || !s->dirty || s->waiting) continue;
          if (!s->sink->open()) {
            s->over = true;
            continue;
          }
          groups[{s->sub.key, s->position, s->backlog_end, s->sub.since.has_value()}].push_back(s.get());
        }
      for (auto& [key, group] : groups) catch_up(group, v);
      if (!v.valid() || v.failed()) {
        // The store is unavailable, or went away during the pass (what
        // was read then is not trusted): try again shortly.
        changed();
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
        continue;
      }
    }
    // Idle streams get a comment, which also finds the clients gone.
    for (auto& s : subscribers_) {
      if (!s->over && !s->sink->open()) s->over = true;
      if (s->over || now - s->last_sent < options_.heartbeat) continue;
      if (!s->sink->heartbeat()) s->over = true;
      s->last_sent = now;
    }
    const auto before = subscribers_.size();
    subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(), [](const auto& s) { return s->over; }),
                       subscribers_.end());
    if (before != subscribers_.size()) {
      std::lock_guard<std::mutex> lock(mutex_);
      count_ -= before - subscribers_.size();
    }
  }
}

void feed::look(const storage::view& v) {
  struct looked {
    std::uint64_t timestamp;
    bool moved;
  };
  std::unordered_map<std::string, looked> moved;
  for (auto& s : subscribers_) {
    std::uint64_t own_timestamp = 0; // of the list itself, watched first
    for (const auto& list : s->watched) {
      const std::string id = storage::list_id(list);
      auto it = moved.find(id);
      if (it == moved.end()) {
        const std::uint64_t ts = v.list_timestamp(list).value_or(0);
        auto& seen = stamps_[id];
        it = moved.emplace(id, looked{ts, seen != ts}).first;
        seen = ts;
      }
      if (it->second.moved) s->dirty = true;
      if (&list == &s->watched.front()) own_timestamp = it->second.timestamp;
    }
    // Its client has not taken what it holds, and its list has changed
    // since: it has fallen behind.
    if (s->waiting && own_timestamp > s->full_at) s->behind = true;
  }
  // Forget the timestamps no subscriber depends on any more.
  for (auto it = stamps_.begin(); it != stamps_.end();) it = moved.count(it->first) ? std::next(it) : stamps_.erase(it);
}

/// What a walk from a position found for the subscribers at it: their
/// events, where it stopped, and whether it reached the end; or the error
/// that ends their streams.
struct feed::walked {
  std::vector<feed_event> events;
  std::size_t bytes = 0;
  std::uint64_t position = 0;
  std::optional<std::uint64_t> backlog_end;
  bool complete = true;
  std::optional<std::string> end;
};

feed::walked feed::walk_from(const subscriber& s, const storage::view& v) const {
  walked out;
  out.position = s.position;
  out.backlog_end = s.backlog_end;
  auto access = list_visibility(cfg_, s.sub.user_id, s.sub.list, v);
  if (auto* f = std::get_if<failure>(&access)) {
    // Permission lost, or the parent deleted: the streams end saying why.
    out.end = render(f->e);
    return out;
  }
  const storage::visibility& visible = std::get<storage::visibility>(access);
  if (!s.sub.since && !s.backlog_end) out.backlog_end = v.list_timestamp(s.sub.list).value_or(0);
  const bool evaluate = !s.sub.q.filters.empty() || s.sub.q.fields.has_value();
  v.walk(s.sub.list, s.position, 0, false, [&](const storage::change& ch) {
    if (out.bytes >= options_.max_buffer_bytes) {
      out.complete = false;
      return false;
    }
    out.position = ch.last_modified;
    if (ch.deleted && out.backlog_end && ch.last_modified <= *out.backlog_end) return true;
    if (visible && !visible(ch.id)) return true;
    std::string text;
    if (evaluate) {
      json::value object = storage::change_value(ch);
      if (!query::matches_all(s.sub.q.filters, object)) return true;
      text = json::serialize(s.sub.q.fields && !ch.deleted ? query::project(object, *s.sub.q.fields) : object);
    } else {
      text = storage::change_text(ch);
    }
    // Created after the position: new to the subscriber. The backlog of a
    // subscriber without a position is all new to it.
    feed_event::action what = feed_event::action::remove;
    if (!ch.deleted) {
      const bool in_backlog = !s.sub.since && out.backlog_end && ch.last_modified <= *out.backlog_end;
      const auto created = in_backlog ? std::nullopt : writes_.creations().created_at(s.sub.list, ch.id);
      what = in_backlog || (created && *created > s.position) ? feed_event::action::create : feed_event::action::update;
    }
    out.bytes += text.size() + 64;
    out.events.push_back(feed_event{ch.last_modified, what, std::move(text)});
    return true;
  });
  return out;
}

void feed::catch_up(const std::vector<subscriber*>& group, const storage::view& v) {
  const walked w = walk_from(*group.front(), v);
  const std::uint64_t list_ts = v.list_timestamp(group.front()->sub.list).value_or(0);
  // A read failed on the way: the subscribers stay where they were, to
  // catch up on the next pass.
  if (v.failed()) return;
  const auto now = clock::now();
  for (subscriber* s : group) {
    s->dirty = false;
    if (w.end) {
      s->sink->end(*w.end);
      s->over = true;
      continue;
    }
    for (const auto& e : w.events) {
      if (!s->sink->send(e)) {
        s->over = true;
        break;
      }
      s->last_sent = now;
    }
    s->position = w.position;
    s->backlog_end = w.backlog_end;
    // Full: it waits until its client takes what it has; otherwise what is
    // left is walked at the next pass.
    if (s->sink->queued() >= options_.max_buffer_bytes) {
      s->waiting = true;
      s->full_at = list_ts;
    }
    else if (!w.complete) s->dirty = true;
  }
}

} // namespace kinto::core
