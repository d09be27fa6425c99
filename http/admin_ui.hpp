// Kinto Admin at /v1/admin/ (`kinto.plugins.admin`): a build of the web UI,
// read once at start from `kinto.admin_assets_path` and served from memory.
// No path a client sends reaches the filesystem: a request names one of the
// files read at start, or is a route of the UI (its index.html).
#pragma once

#include "http/message.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kinto::http {

/// The files of a Kinto Admin build, by their path below its directory.
class admin_assets {
public:
  struct file {
    std::string body;
    std::string content_type;
    std::string etag;      ///< quoted, from the content
    bool immutable = false; ///< a hashed asset name: cached for a year
  };

  /// Reads the build in `directory` (its index.html and every regular file
  /// below it); nullopt, with `error` saying why, when there is none.
  static std::optional<admin_assets> load(const std::string& directory, std::string& error);

  /// The file at `relative` ("assets/index-1a2b.js"), or null.
  const file* find(std::string_view relative) const;
  const file& index() const { return files_.at("index.html"); }
  /// The build's VERSION file, trimmed; empty without one.
  const std::string& version() const { return version_; }
  std::size_t size() const { return files_.size(); }

private:
  std::map<std::string, file, std::less<>> files_;
  std::string version_;
};

/// The answer to a GET or HEAD of `/admin/<rest>` (the path after /v1): a
/// file of the build, index.html for `/admin/` and for a route of the UI
/// (a path with no file extension), 304 when `if_none_match` names the
/// file's ETag, or nullopt for a missing file (a 404).
std::optional<response> admin_response(const admin_assets& assets, std::string_view path,
                                       std::optional<std::string_view> if_none_match);

/// The MIME type kintod serves a file with, from its extension.
std::string content_type_of(std::string_view name);

} // namespace kinto::http
