// Online backup and restore of an LMDB data directory: a compacted,
// consistent copy taken in one read transaction while a server writes (what
// was committed before the copy began is in it), a check that opens a copy
// and walks every database, and a restore that checks first and refuses a
// directory a running kintod holds.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace kinto::storage {

/// What a copy holds, and what making it took.
struct lmdb_copy_summary {
  std::uint64_t objects = 0;    ///< entries of the objects database (tombstones included)
  std::uint64_t entries = 0;    ///< entries of every database
  unsigned databases = 0;       ///< named databases walked
  std::uint64_t bytes = 0;      ///< size of the copy's data file
  double seconds = 0;
};

/// Bytes written so far, and about how many the copy will take (the used
/// pages of the source: compaction makes it no larger).
using copy_progress = std::function<void(std::uint64_t written, std::uint64_t expected)>;

/// Copies the environment in `data_dir` into the new or empty directory
/// `destination` (its data.mdb), compacted, fsynced, then checks the copy.
[[nodiscard]] std::optional<lmdb_copy_summary> back_up_lmdb(const std::string& data_dir, const std::string& destination,
                                                            const copy_progress& progress, std::string& error);

/// Opens the copy in `dir` read-only and walks every database.
[[nodiscard]] std::optional<lmdb_copy_summary> check_lmdb_copy(const std::string& dir, std::string& error);

/// Puts the copy in `source` (checked first) in place of the data in
/// `data_dir`, durably; refuses while a kintod has `data_dir` open.
[[nodiscard]] std::optional<lmdb_copy_summary> restore_lmdb(const std::string& source, const std::string& data_dir,
                                                            std::string& error);

/// Holds the lock that says a kintod has the directory open (kintod.lock,
/// an advisory lock released when the process ends, however it ends).
/// Invalid when another process holds it.
class data_dir_lock {
public:
  /// Takes the lock of `dir`, without waiting; `error` says why not.
  data_dir_lock(const std::string& dir, std::string& error);
  ~data_dir_lock();
  data_dir_lock(const data_dir_lock&) = delete;
  data_dir_lock& operator=(const data_dir_lock&) = delete;
  bool held() const { return fd_ >= 0; }

private:
  int fd_ = -1;
};

} // namespace kinto::storage
