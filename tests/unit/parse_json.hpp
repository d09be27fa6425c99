// JSON text a test writes by hand, parsed; the test fails when it is not JSON.
#pragma once

#include "base/json.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

namespace kinto::test {

inline json::value parse(std::string_view text) {
  std::string err;
  auto v = json::parse(text, err);
  INFO(err);
  REQUIRE(v);
  return *v;
}

} // namespace kinto::test
