// rk serve's reading of a request target: the query string split and percent-decoded, then
// checked as search, get and stats arguments, and the search run over a small index. The
// input is the request target ("/search?q=retry&k=3").
#include <string>

#include "index_fixture.hpp"
#include "rk/error.hpp"
#include "serve/calls.hpp"
#include "serve/http_module.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const rk::fuzz::IndexFixture fixture;
    static const rk::Index index = rk::Index::open(fixture.dir(), rk::Index::Mode::read);
    const std::string target(reinterpret_cast<const char*>(data), size);
    const auto params = rk::serve::query_params(target);
    try {
        (void)rk::serve::search_result(index, rk::serve::search_args(params));
    } catch (const rk::UsageError&) {
    } catch (const rk::InputError&) {
    }
    try {
        const auto args = rk::serve::get_args(target.substr(0, target.find('?')), params);
        (void)rk::serve::get_result(index, args);
    } catch (const rk::UsageError&) {
    } catch (const rk::InputError&) {
    }
    try {
        rk::serve::stats_args(params);
    } catch (const rk::UsageError&) {
    }
    return 0;
}
