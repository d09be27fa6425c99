#include "http/admin_ui.hpp"

#include "base/crypto.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace kinto::http {

namespace {

namespace fs = std::filesystem;

/// Whether `name` carries a content hash, as a bundler names its output
/// ("index-DFcXlbqv.js": a dash, then 8 or more letters and digits before
/// the extension), below `assets/`.
bool hashed(std::string_view relative) {
  if (relative.rfind("assets/", 0) != 0) return false;
  const std::size_t dot = relative.rfind('.');
  const std::size_t dash = relative.rfind('-', dot);
  if (dot == std::string_view::npos || dash == std::string_view::npos || dot - dash - 1 < 8) return false;
  const std::string_view tag = relative.substr(dash + 1, dot - dash - 1);
  return std::all_of(tag.begin(), tag.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::optional<std::string> read_whole(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return out.str();
}

/// The extension of the last segment of `path`, without its dot; empty when
/// it has none.
std::string_view extension_of(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::size_t dot = name.rfind('.');
  return dot == std::string_view::npos || dot == 0 ? std::string_view() : name.substr(dot + 1);
}

} // namespace

std::string content_type_of(std::string_view name) {
  std::string ext(extension_of(name));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::map<std::string, std::string, std::less<>> types{
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"ico", "image/x-icon"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"wasm", "application/wasm"},
  };
  if (auto it = types.find(ext); it != types.end()) return it->second;
  // VERSION and other files without a known extension.
  return ext.empty() ? "text/plain; charset=utf-8" : "application/octet-stream";
}

std::optional<admin_assets> admin_assets::load(const std::string& directory, std::string& error) {
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(directory, ec);
  if (ec || !fs::is_regular_file(root / "index.html", ec)) {
    error = "no Kinto Admin build in " + directory + " (its index.html is missing)";
    return std::nullopt;
  }
  admin_assets out;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string relative = it->path().lexically_relative(root).generic_string();
    // Hidden files (.gitkeep, editors' files) are not part of the build.
    if (relative.empty() || relative.front() == '.' || relative.find("/.") != std::string::npos) continue;
    auto body = read_whole(it->path());
    if (!body) {
      error = "cannot read " + it->path().string();
      return std::nullopt;
    }
    file f;
    f.content_type = content_type_of(relative);
    f.etag = "\"" + crypto::sha256_hex(*body).substr(0, 32) + "\"";
    f.immutable = hashed(relative);
    f.body = std::move(*body);
    out.files_.emplace(relative, std::move(f));
  }
  if (ec) {
    error = "cannot list " + directory + ": " + ec.message();
    return std::nullopt;
  }
  if (auto v = out.files_.find("VERSION"); v != out.files_.end()) {
    std::string version = v->second.body;
    while (!version.empty() && std::isspace(static_cast<unsigned char>(version.back()))) version.pop_back();
    out.version_ = std::move(version);
  }
  return out;
}

const admin_assets::file* admin_assets::find(std::string_view relative) const {
  auto it = files_.find(relative);
  return it == files_.end() ? nullptr : &it->second;
}

std::optional<response> admin_response(const admin_assets& assets, std::string_view path,
                                       std::optional<std::string_view> if_none_match) {
  constexpr std::string_view prefix = "/admin/";
  const std::string_view relative = path.substr(std::min(path.size(), prefix.size()));
  const admin_assets::file* f = relative.empty() ? &assets.index() : assets.find(relative);
  // A route of the UI (no extension) is its index; a missing file is not.
  if (!f && extension_of(relative).empty()) f = &assets.index();
  if (!f) return std::nullopt;
  response res;
  res.set("ETag", f->etag);
  // The index names the hashed assets of its build: it is checked again
  // each time, they never change.
  res.set("Cache-Control", f->immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (if_none_match && *if_none_match == f->etag) {
    res.status = 304;
    return res;
  }
  res.set("Content-Type", f->content_type);
  res.body = f->body;
  return res;
}

} // namespace kinto::http
