// Unit tests of the resource vocabulary: ids, URIs, permission names.
#include "schema/resource.hpp"

#include <catch2/catch.hpp>

using namespace kinto;

TEST_CASE("ids follow the id rules of each kind") {
  CHECK(valid_id(kind::bucket, "blog"));
  CHECK(valid_id(kind::record, "a-b_C9"));
  CHECK_FALSE(valid_id(kind::bucket, "__beers__"));
  CHECK_FALSE(valid_id(kind::bucket, ""));
  CHECK_FALSE(valid_id(kind::record, "a b"));
  CHECK_FALSE(valid_id(kind::record, "a.b"));
  CHECK(valid_id(kind::account, "alice@example.com"));
  CHECK(valid_id(kind::account, "a+b.c"));
  CHECK_FALSE(valid_id(kind::account, ".alice"));
}

TEST_CASE("object URIs and owners of lists") {
  list_key records{"/buckets/b/collections/c", kind::record};
  CHECK(records.object_uri("r") == "/buckets/b/collections/c/records/r");
  CHECK(list_key{"", kind::bucket}.object_uri("b") == "/buckets/b");
  auto owner = owner_of(records.parent);
  REQUIRE(owner);
  CHECK(owner->list == list_key{"/buckets/b", kind::collection});
  CHECK(owner->id == "c");
  auto bucket = owner_of("/buckets/b");
  REQUIRE(bucket);
  CHECK(bucket->list == list_key{"", kind::bucket});
  CHECK(bucket->id == "b");
  CHECK_FALSE(owner_of(""));
}

TEST_CASE("each kind accepts its own permission names") {
  CHECK(is_permission_of(kind::bucket, "collection:create"));
  CHECK(is_permission_of(kind::collection, "record:create"));
  CHECK_FALSE(is_permission_of(kind::record, "record:create"));
  CHECK_FALSE(is_permission_of(kind::bucket, "record:create"));
  CHECK(is_permission_of(kind::group, "read"));
}
