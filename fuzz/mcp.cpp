// rk mcp's JSON-RPC reader: lines of JSON in, one JSON reply a line out, over a small index
// (so that tools/call runs searches and gets with whatever arguments the input holds). Every
// reply must itself be valid JSON.
#include <simdjson.h>

#include <sstream>
#include <string>

#include "index_fixture.hpp"
#include "rk/serve.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const rk::fuzz::IndexFixture index;
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    std::ostringstream out;
    rk::serve_mcp(index.dir(), in, out, nullptr);
    static simdjson::dom::parser parser;
    std::istringstream replies(out.str());
    for (std::string line; std::getline(replies, line);) {
        simdjson::dom::element reply;
        if (parser.parse(line).get(reply) != simdjson::SUCCESS) __builtin_trap();
    }
    return 0;
}
