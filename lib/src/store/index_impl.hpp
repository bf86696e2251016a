// What an open Index holds. Internal: the rest of the library reaches the database here.
#pragma once

#include <memory>
#include <optional>

#include "rk/index.hpp"
#include "store/lock.hpp"
#include "store/sqlite.hpp"

namespace rk {

struct Index::Impl {
    std::filesystem::path dir;
    Settings settings;
    Mode mode = Mode::read;
    std::optional<store::WriterLock> lock;  // held for a writer's lifetime, taken first
    std::unique_ptr<store::Database> db;
};

}  // namespace rk
