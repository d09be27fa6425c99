// Shared by the fuzz targets: invariant checks that abort (so libFuzzer
// records the input as a crash, as it does a sanitizer report) and the
// percent-decoding of URL parts, as http/router.cpp does it.
#pragma once

#include "base/json.hpp"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

namespace kinto::fuzz {

/// Gives every thread started from now on (actors, pools) the stack kintod
/// gives its threads (json::thread_stack_bytes), as kintod's main does.
inline void give_threads_kintod_stacks() {
  pthread_attr_t attr;
  if (pthread_getattr_default_np(&attr) != 0) return;
  if (pthread_attr_setstacksize(&attr, json::thread_stack_bytes) == 0) pthread_setattr_default_np(&attr);
  pthread_attr_destroy(&attr);
}

/// Runs `work` on a thread with kintod's stack and waits for it: libFuzzer
/// runs inputs on the main thread, whose stack (RLIMIT_STACK) may be
/// smaller than what kintod allows deeply nested JSON to use.
inline void on_kintod_stack(std::function<void()> work) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, json::thread_stack_bytes);
  pthread_t thread;
  auto run = [](void* arg) -> void* {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  };
  if (pthread_create(&thread, &attr, run, &work) != 0) {
    std::fprintf(stderr, "fuzz: cannot start a thread\n");
    std::abort();
  }
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

/// Aborts with `what` on stderr when `condition` is false.
inline void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Percent-decodes `in` into `out` ('+' as a space when `plus_is_space`, for
/// query strings); false on a bad escape.
inline bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size() || hex_value(in[i + 1]) < 0 || hex_value(in[i + 2]) < 0) return false;
      out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
      i += 2;
    } else {
      out += in[i] == '+' && plus_is_space ? ' ' : in[i];
    }
  }
  return true;
}

} // namespace kinto::fuzz
