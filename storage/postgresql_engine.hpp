// PostgreSQL as the storage engine: Kinto's data in upstream Kinto's schema
// (postgresql_schema.hpp), shared by any number of kintod heads and
// upstream Kinto processes. Names no libpq type, so that main can open the
// engine without seeing libpq; beyond main, only storage/ and tests include
// it.
#pragma once

#include "storage/engine.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace kinto::storage {

struct postgresql_options {
  /// libpq URI of the database (kinto.storage_url); the permission tables
  /// must be in the same one, so that a write and its permissions commit
  /// together.
  std::string url;
  /// Connections kept open for reads (kinto.storage_pool_size); the write
  /// transaction has one more of its own.
  std::size_t pool_size = 25;
  /// How long a read waits for a free connection before the request is
  /// answered 503 (kinto.storage_pool_timeout).
  std::chrono::milliseconds pool_timeout{30000};
  /// Connections older than this are closed when returned to the pool
  /// (kinto.storage_pool_recycle; zero or less: never).
  std::chrono::seconds pool_recycle{-1};
  /// How long a connection attempt may take (libpq connect_timeout).
  std::chrono::seconds connect_timeout{5};
  /// Where the lines about the database go (schema created, connection lost).
  std::function<void(const std::string&)> log = {};
};

/// Opens the engine on `options.url`, creating upstream's schema there when
/// the database has none; nullptr with `error` set when the database cannot
/// be reached or holds a schema of another version than this build's (then
/// `kintod migrate` or upstream's `kinto migrate` brings it there).
[[nodiscard]] std::unique_ptr<engine> open_postgresql(const postgresql_options& options, std::string& error);

} // namespace kinto::storage
