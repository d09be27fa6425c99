// When objects were created, as this process wrote them or as the other
// heads sharing its store announced: what the change feed needs to tell a
// creation from an update (the store keeps only an object's latest
// version). Bounded: the oldest creations are forgotten first. Thread-safe;
// written by the storage work of writes (write_steps), read by the feed.
//
// Each commit announces the creations it holds to the other heads
// (storage::write_transaction::announce), which also tells them that
// something changed: a message is a line `kintod-head <head id>`, then one
// line per creation, `<list id> TAB <object id> TAB <timestamp>`.
#pragma once

#include "storage/engine.hpp"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kinto::actors {

class creation_log {
public:
  explicit creation_log(std::size_t capacity = 65536) : capacity_(capacity), head_line_(new_head_line()) {}

  /// Object `id` of `list` was created (or re-created over its tombstone)
  /// with timestamp `at`, by this process: announced with the next commit.
  void created(const list_key& list, std::string_view id, std::uint64_t at) {
    const std::string lid = storage::list_id(list);
    if (announceable(lid) && announceable(id)) {
      std::lock_guard<std::mutex> lock(mutex_);
      fresh_.push_back(lid + '\t' + std::string(id) + '\t' + std::to_string(at));
    }
    remember(lid, id, at);
  }

  /// The messages announcing this head's creations since the last call (at
  /// least one, which says that something was committed), each short
  /// enough for the store's announcements.
  std::vector<std::string> announcements() {
    std::vector<std::string> out{head_line_};
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& line : fresh_) {
      if (out.back().size() + line.size() + 1 > max_message) out.push_back(head_line_);
      out.back() += '\n';
      out.back() += line;
    }
    fresh_.clear();
    return out;
  }

  /// Forgets the creations not announced yet (their transaction failed).
  void drop_unannounced() {
    std::lock_guard<std::mutex> lock(mutex_);
    fresh_.clear();
  }

  /// Takes in a message a head announced: true when it came from another
  /// head (something was committed there), false for this head's own or
  /// what is not such a message.
  bool heard(std::string_view message) {
    const std::size_t first = message.find('\n');
    const std::string_view head = message.substr(0, first);
    if (head.rfind("kintod-head ", 0) != 0 || head == head_line_) return false;
    std::string_view rest = first == std::string_view::npos ? std::string_view() : message.substr(first + 1);
    while (!rest.empty()) {
      const std::size_t end = rest.find('\n');
      const std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      const std::size_t t1 = line.find('\t'), t2 = line.rfind('\t');
      if (t1 == std::string_view::npos || t2 == t1) continue;
      std::uint64_t at = 0;
      const std::string_view stamp = line.substr(t2 + 1);
      auto [p, ec] = std::from_chars(stamp.data(), stamp.data() + stamp.size(), at);
      if (ec != std::errc() || p != stamp.data() + stamp.size()) continue;
      remember(line.substr(0, t1), line.substr(t1 + 1, t2 - t1 - 1), at);
    }
    return true;
  }

  /// When object `id` of `list` was last created, if this process wrote or
  /// heard of that creation and remembers it.
  std::optional<std::uint64_t> created_at(const list_key& list, std::string_view id) const {
    const std::string key = key_of(storage::list_id(list), id);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = when_.find(key);
    if (it == when_.end()) return std::nullopt;
    return it->second;
  }

private:
  static constexpr std::size_t max_message = 7000;

  /// Printable ASCII without '$', which the announcements' quoting keeps.
  static bool announceable(std::string_view text) {
    for (char c : text)
      if (c < 0x20 || c > 0x7e || c == '$') return false;
    return !text.empty();
  }

  static std::string new_head_line() {
    std::random_device device;
    const std::uint64_t id = (std::uint64_t(device()) << 32) ^ device();
    return "kintod-head " + std::to_string(id);
  }

  void remember(std::string_view list_id, std::string_view id, std::uint64_t at) {
    std::string key = key_of(list_id, id);
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, inserted] = when_.insert_or_assign(key, at);
    if (!inserted) return;
    order_.push_back(std::move(key));
    while (order_.size() > capacity_) {
      when_.erase(order_.front());
      order_.pop_front();
    }
  }

  static std::string key_of(std::string_view list_id, std::string_view id) {
    std::string key(list_id);
    key += '\0';
    key += id;
    return key;
  }

  const std::size_t capacity_;
  const std::string head_line_;
  std::vector<std::string> fresh_; ///< creations not announced yet
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::uint64_t> when_;
  std::deque<std::string> order_; ///< keys, oldest creation first
};

} // namespace kinto::actors
