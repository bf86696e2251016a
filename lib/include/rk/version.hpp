#pragma once

#include <string_view>

namespace rk {

// The library's version, "MAJOR.MINOR.PATCH".
std::string_view version() noexcept;

}  // namespace rk
