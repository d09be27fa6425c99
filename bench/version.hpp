// `--version` for the bench tools: the build's source, version, commit and
// build, as kintod --version and /__version__ print them.
#pragma once

#include "http/build_info.hpp"

#include <cstdio>
#include <string_view>

namespace kinto::bench {

/// Prints the build's version and returns true when the one argument is
/// `--version`.
inline bool print_version(int argc, char** argv) {
  if (argc != 2 || std::string_view(argv[1]) != "--version") return false;
  std::puts(kinto::http::build_info::version_json);
  return true;
}

} // namespace kinto::bench
