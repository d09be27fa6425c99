// LMDB as the storage engine: Kinto's data in one environment, under the key
// layout of storage/README.md. Names no LMDB type, so that main can open the
// engine without seeing LMDB; beyond main, only storage/, tests and
// benchmarks include it.
#pragma once

#include "storage/engine.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kinto::storage {

struct lmdb_options {
  std::string directory;                      ///< created if missing
  std::size_t map_size = std::size_t(1) << 36; ///< 64 GiB of sparse address space
  unsigned max_readers = 512;
  /// Where the lines telling of an upgrade go (start, progress, end).
  std::function<void(const std::string&)> log = {};
};

/// Opens (creating if needed) the environment in `options.directory` and
/// its databases, upgrading a directory of an older storage format in place
/// (storage/README.md), in one transaction; nullptr with `error` set on
/// failure, and for a directory of a newer format.
[[nodiscard]] std::unique_ptr<engine> open_lmdb(const lmdb_options& options, std::string& error);

/// The limits on URIs and principals that make every key of the layout fit
/// in LMDB keys of at most `key_bytes` bytes (mdb_env_get_maxkeysize: 511
/// unless LMDB was built otherwise). The longest key is a principal and an
/// object URI together in the reverse index of permissions (`grants`), for
/// a bucket the grant on one of its history entries; a longer one would
/// fail in LMDB (MDB_BAD_VALSIZE).
key_limits lmdb_key_limits(std::size_t key_bytes);

/// What LMDB tells of an environment open_lmdb() opened (tests, benchmarks).
struct lmdb_figures {
  std::size_t max_key_bytes = 0;  ///< mdb_env_get_maxkeysize
  std::uint64_t used_bytes = 0;   ///< pages used so far (last page number + 1) times the page size
  unsigned objects_depth = 0;     ///< B-tree depth of the objects database
  unsigned changes_depth = 0;     ///< B-tree depth of the change index
};

/// The figures of `e`; nullopt when it is not an LMDB engine or LMDB cannot
/// tell.
std::optional<lmdb_figures> figures_of(const engine& e);

/// The value of an object in the `objects` database (storage/README.md).
std::string encode_object(const object& obj);
/// nullopt when `bytes` is too short to be one.
std::optional<object> decode_object(std::string_view bytes);

} // namespace kinto::storage
