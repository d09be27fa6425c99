// Unit tests of the permission rules: the inheritance table of
// auth-permissions.md §4.1, settings names, listing and implied names.
#include "schema/permissions.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace kinto;
using namespace kinto::permissions;

namespace {

bool grants(const requirement& r, std::string_view uri, std::string_view name) {
  return std::any_of(r.entries.begin(), r.entries.end(), [&](const entry& e) { return e.uri == uri && e.name == name; });
}

bool has_setting(const requirement& r, std::string_view name) {
  return std::find(r.settings.begin(), r.settings.end(), name) != r.settings.end();
}

const list_key buckets{"", kind::bucket};
const list_key collections{"/buckets/b", kind::collection};
const list_key groups{"/buckets/b", kind::group};
const list_key records{"/buckets/b/collections/c", kind::record};

} // namespace

TEST_CASE("reading a record is granted by read or write on it, its collection or its bucket") {
  auto r = required(records, "r", action::read);
  for (auto uri : {"/buckets/b", "/buckets/b/collections/c", "/buckets/b/collections/c/records/r"}) {
    CHECK(grants(r, uri, "read"));
    CHECK(grants(r, uri, "write"));
  }
  CHECK_FALSE(grants(r, "/buckets/b/collections/c", "record:create"));
  CHECK(has_setting(r, "record_read_principals"));
  CHECK(has_setting(r, "record_write_principals"));
}

TEST_CASE("writing is granted by write only, inherited from the ancestors") {
  auto r = required(records, "r", action::write);
  CHECK(grants(r, "/buckets/b", "write"));
  CHECK(grants(r, "/buckets/b/collections/c", "write"));
  CHECK(grants(r, "/buckets/b/collections/c/records/r", "write"));
  CHECK_FALSE(grants(r, "/buckets/b", "read"));
  CHECK(r.entries.size() == 3);
}

TEST_CASE("creating is granted by the parent's create permission or write") {
  auto rec = required(records, "", action::create);
  CHECK(grants(rec, "/buckets/b/collections/c", "record:create"));
  CHECK(grants(rec, "/buckets/b", "write"));
  CHECK(has_setting(rec, "record_create_principals"));
  auto col = required(collections, "", action::create);
  CHECK(grants(col, "/buckets/b", "collection:create"));
  CHECK_FALSE(grants(col, "/buckets/b", "group:create"));
  auto grp = required(groups, "", action::create);
  CHECK(grants(grp, "/buckets/b", "group:create"));
}

TEST_CASE("create permissions let one read the parent's attributes but not list its children") {
  auto read_bucket = required(buckets, "b", action::read);
  CHECK(grants(read_bucket, "/buckets/b", "collection:create"));
  CHECK(grants(read_bucket, "/buckets/b", "group:create"));
  auto list_groups = required(groups, "", action::read_all);
  CHECK_FALSE(grants(list_groups, "/buckets/b", "group:create"));
  CHECK(grants(list_groups, "/buckets/b", "read"));
  auto read_collection = required(collections, "c", action::read);
  CHECK(grants(read_collection, "/buckets/b/collections/c", "record:create"));
}

TEST_CASE("top-level bucket actions are granted by settings only") {
  CHECK(required(buckets, "", action::create).settings == std::vector<std::string>{"bucket_create_principals"});
  CHECK(required(buckets, "", action::read_all).settings == std::vector<std::string>{"bucket_read_principals"});
  CHECK(required(buckets, "", action::write_all).settings == std::vector<std::string>{"bucket_write_principals"});
  CHECK(required(buckets, "", action::create).entries.empty());
}

TEST_CASE("listing names and implied permissions follow the reference") {
  CHECK(listing_names(kind::bucket).size() == 4);
  CHECK(listing_names(kind::record) == std::vector<std::string_view>{"read", "write"});
  auto bucket_write = implied(kind::bucket, "write");
  CHECK(bucket_write.size() == 5);
  CHECK(std::find(bucket_write.begin(), bucket_write.end(), "read:attributes") != bucket_write.end());
  CHECK(implied(kind::record, "write") == std::vector<std::string>{"write", "read"});
  CHECK(implied(kind::collection, "record:create") == std::vector<std::string>{"record:create", "read:attributes"});
}
