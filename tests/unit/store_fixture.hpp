// A store in a fresh temporary directory with the write path over it (one
// worker thread): what the unit tests of core/ write through.
#pragma once

#include "actors/write_service.hpp"
#include "storage/lmdb_engine.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>

namespace kinto::test {

struct store_fixture {
  temp_dir dir;
  std::unique_ptr<storage::engine> store;
  std::unique_ptr<actors::write_service> writes;

  store_fixture() {
    std::string error;
    store = storage::open_lmdb({dir.path(), std::size_t(1) << 26, 64}, error);
    INFO(error);
    REQUIRE(store);
    actors::write_service_options options;
    options.worker_threads = 1;
    writes = std::make_unique<actors::write_service>(*store, options);
  }
};

} // namespace kinto::test
