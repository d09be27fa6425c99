// Kinto Admin at /v1/admin/ (kinto.plugins.admin): a build read at start
// from kinto.admin_assets_path and served with its content types, the index
// revalidated and hashed assets cached for a year, /v1/admin redirected to
// /v1/admin/, the UI's routes answered with its index, missing files with
// 404; the root view's `admin` capability; a missing build is a warning.
// (tests/browser drives the official build in chromium.)
#include "harness.hpp"

#include <filesystem>
#include <string>

using namespace kintod_test;

namespace {

const std::string index_html = "<!DOCTYPE html><html><body><div id=\"app\"></div>"
                               "<script type=\"module\" src=\"/v1/admin/assets/index-DFcXlbqv.js\"></script></body></html>";
const std::string script = "console.log('kinto admin');";

/// A Kinto Admin build, as a bundler lays it out.
struct admin_build {
  temp_dir dir;
  admin_build() {
    write_file(dir.path() + "/index.html", index_html);
    std::filesystem::create_directories(dir.path() + "/assets");
    write_file(dir.path() + "/assets/index-DFcXlbqv.js", script);
    write_file(dir.path() + "/assets/index-AGLTeJsm.css", "body { margin: 0 }");
    write_file(dir.path() + "/assets/logo-VBRiKSPX.png", std::string("\x89PNG\r\n\x1a\n", 8));
    write_file(dir.path() + "/VERSION", "6.4.1\n");
    write_file(dir.path() + "/.gitkeep", "");
  }
};

kintod_options with_admin(const std::string& path) {
  return {.settings = {{"kinto.includes", "kinto.plugins.admin"}, {"kinto.admin_assets_path", path}}};
}

} // namespace

TEST_CASE("Kinto Admin is served at /v1/admin/ with its files' types and cache rules", "[admin]") {
  admin_build build;
  kintod_process server(with_admin(build.dir.path()));

  SECTION("the index, revalidated, with a policy that lets the UI run") {
    auto r = server.request("GET", "/v1/admin/");
    REQUIRE(r.status == 200);
    CHECK(r.body == index_html);
    CHECK(r.header("Content-Type") == "text/html; charset=utf-8");
    CHECK(r.header("Cache-Control") == "no-cache");
    CHECK_THAT(r.header("Content-Security-Policy"), Catch::Contains("script-src 'self'"));
    CHECK_FALSE(r.header("ETag").empty());
    auto again = server.request("GET", "/v1/admin/", {}, {{"If-None-Match", r.header("ETag")}});
    CHECK(again.status == 304);
    CHECK(again.body.empty());
  }
  SECTION("hashed assets, cached for a year") {
    auto js = server.request("GET", "/v1/admin/assets/index-DFcXlbqv.js");
    REQUIRE(js.status == 200);
    CHECK(js.body == script);
    CHECK(js.header("Content-Type") == "text/javascript; charset=utf-8");
    CHECK(js.header("Cache-Control") == "public, max-age=31536000, immutable");
    CHECK(server.request("GET", "/v1/admin/assets/index-AGLTeJsm.css").header("Content-Type") == "text/css; charset=utf-8");
    auto png = server.request("GET", "/v1/admin/assets/logo-VBRiKSPX.png");
    CHECK(png.header("Content-Type") == "image/png");
    CHECK(png.body.size() == 8);
    auto head = server.request("HEAD", "/v1/admin/assets/index-DFcXlbqv.js");
    CHECK(head.status == 200);
    CHECK(head.body.empty());
  }
  SECTION("/v1/admin redirects to /v1/admin/") {
    auto r = server.request("GET", "/v1/admin");
    CHECK(r.status == 307);
    CHECK(r.header("Location") == server.url("/v1/admin/"));
  }
  SECTION("a route of the UI gets its index; a missing file, paths out of the build are not files") {
    auto route = server.request("GET", "/v1/admin/buckets/b/collections/c");
    CHECK(route.status == 200);
    CHECK(route.body == index_html);
    CHECK_THAT(server.request("GET", "/v1/admin/assets/missing-12345678.js"), is_kinto_error(404, 111));
    CHECK(server.request("GET", "/v1/admin/.gitkeep").body == index_html); // not the file
    CHECK(server.request("GET", "/v1/admin/../kinto.ini").status != 200);
    CHECK(server.request("GET", "/v1/admin/%2e%2e/%2e%2e/etc/passwd").body != "root");
    CHECK(server.request("GET", "/v1/admin/%2e%2e%2f%2e%2e%2fetc%2fpasswd").body.find("root:") == std::string::npos);
  }
  SECTION("only read") {
    auto r = server.request("POST", "/v1/admin/", "{}");
    CHECK_THAT(r, is_kinto_error(405, 115));
    CHECK(r.header("Allow") == "GET, HEAD");
  }
  SECTION("the root view lists the admin capability with the build's version, and the permissions endpoint") {
    auto root = server.request("GET", "/v1/");
    CHECK(at(root.json(), "capabilities.admin.version").as_string() == "6.4.1");
    CHECK(at(root.json(), "capabilities.admin.url").as_string() == "https://github.com/Kinto/kinto-admin/");
    CHECK(root.json().find("capabilities")->find("permissions_endpoint"));
  }
}

TEST_CASE("without the plugin, or without a build, /v1/admin/ answers 404", "[admin]") {
  SECTION("the plugin not included") {
    admin_build build;
    kintod_process server({.settings = {{"kinto.admin_assets_path", build.dir.path()}}});
    CHECK(server.request("GET", "/v1/admin/").status == 307); // to /v1/admin, as any unknown path
    CHECK_THAT(server.request("GET", "/v1/admin"), is_kinto_error(404, 111));
    CHECK_FALSE(server.request("GET", "/v1/").json().find("capabilities")->find("admin"));
  }
  SECTION("no build where the setting points: kintod says so and runs") {
    temp_dir empty;
    kintod_process server(with_admin(empty.path()));
    CHECK_THAT(server.request("GET", "/v1/admin/"), is_kinto_error(404, 111));
    CHECK_FALSE(server.request("GET", "/v1/").json().find("capabilities")->find("admin"));
    CHECK_THAT(server.output(), Catch::Contains("kinto.plugins.admin") && Catch::Contains("kinto.admin_assets_path"));
  }
}
