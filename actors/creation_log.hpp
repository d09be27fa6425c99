// When objects were created, as this process wrote them: what the change
// feed needs to tell a creation from an update (the store keeps only an
// object's latest version). Bounded: the oldest creations are forgotten
// first. Thread-safe; written by the storage work of writes (write_steps),
// read by the feed.
#pragma once

#include "storage/engine.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kinto::actors {

class creation_log {
public:
  explicit creation_log(std::size_t capacity = 65536) : capacity_(capacity) {}

  /// Object `id` of `list` was created (or re-created over its tombstone)
  /// with timestamp `at`.
  void created(const list_key& list, std::string_view id, std::uint64_t at) {
    std::string key = key_of(list, id);
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, fresh] = when_.insert_or_assign(key, at);
    if (!fresh) return;
    order_.push_back(std::move(key));
    while (order_.size() > capacity_) {
      when_.erase(order_.front());
      order_.pop_front();
    }
  }

  /// When object `id` of `list` was last created, if this process wrote that
  /// creation and remembers it.
  std::optional<std::uint64_t> created_at(const list_key& list, std::string_view id) const {
    const std::string key = key_of(list, id);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = when_.find(key);
    if (it == when_.end()) return std::nullopt;
    return it->second;
  }

private:
  static std::string key_of(const list_key& list, std::string_view id) {
    std::string key = storage::list_id(list);
    key += '\0';
    key += id;
    return key;
  }

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::uint64_t> when_;
  std::deque<std::string> order_; ///< keys, oldest creation first
};

} // namespace kinto::actors
