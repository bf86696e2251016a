#include "rk/version.hpp"

namespace rk {

std::string_view version() noexcept {
    return RK_VERSION;
}

}  // namespace rk
