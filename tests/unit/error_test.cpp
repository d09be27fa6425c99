// Unit tests of the error type and its rendering (errors.md).
#include "schema/error.hpp"

#include <catch2/catch.hpp>

using namespace kinto;

namespace {
json::value body_of(const error& e) {
  std::string err;
  auto v = json::parse(render(e), err);
  REQUIRE(v);
  return *v;
}
} // namespace

TEST_CASE("validation errors summarise the first detail as upstream does") {
  SECTION("name not in the description") {
    auto e = invalid_parameter("header", "If-Match", "The value should be integer between double quotes.");
    CHECK(*e.message == "If-Match in header: The value should be integer between double quotes.");
  }
  SECTION("name in the description") {
    auto e = invalid_parameter("body", "data.members.0", "'x' is not a valid user ID. data.members.0");
    CHECK(*e.message == e.details->as_array()[0].find("description")->as_string());
  }
  SECTION("no name") {
    auto e = invalid_parameter("path", std::nullopt, "Invalid object id");
    CHECK(*e.message == "path: Invalid object id");
    CHECK(body_of(e).find("details")->as_array()[0].find("name")->is_null());
  }
  SECTION("details sorted by name, null as None") {
    auto e = invalid_parameters({{"body", "zeta", "z"}, {"body", std::nullopt, "n"}, {"body", "alpha", "a"}});
    const auto& list = e.details->as_array();
    CHECK(list[0].find("name")->is_null());
    CHECK(*e.message == "body: n");
  }
}

TEST_CASE("the error body has code, errno, error and optional members") {
  auto body = body_of(object_not_found("r1", "record"));
  CHECK(body.find("code")->as_int64() == 404);
  CHECK(body.find("errno")->as_int64() == 110);
  CHECK(body.find("error")->as_string() == "Not Found");
  CHECK_FALSE(body.find("message"));
  CHECK(body.find("details")->find("resource_name")->as_string() == "record");
  auto internal = body_of(internal_error("https://example.org/"));
  CHECK(internal.find("info")->as_string() == "https://example.org/");
  CHECK(internal.find("errno")->as_int64() == 999);
}

TEST_CASE("each helper carries the status and errno of the reference") {
  CHECK(unauthorized().status == 401);
  CHECK(unauthorized().code == errnum::missing_auth_token);
  CHECK(forbidden().code == errnum::forbidden);
  CHECK(method_not_allowed().code == errnum::method_not_allowed);
  CHECK(route_not_found().code == errnum::missing_resource);
  CHECK(version_not_available().code == errnum::version_not_available);
  CHECK(precondition_failed(std::nullopt).code == errnum::modified_meanwhile);
  CHECK_FALSE(precondition_failed(std::nullopt).details);
  CHECK(conflict().status == 409);
  CHECK(backend_unavailable().code == errnum::backend);
  CHECK(request_too_large().status == 413);
  CHECK(request_too_large().code == errnum::request_too_large);
}
