// The query parser: whatever the user types becomes quoted FTS5 terms, never FTS5 syntax.
#include "lexical/query.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "text/utf8.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto terms = rk::lexical::parse_query(text);
    for (const auto& term : terms) {
        // The parser promises valid UTF-8 (invalid bytes repaired); FTS5 would reject less.
        if (rk::text::utf8_first_invalid(term.text)) __builtin_trap();
        (void)rk::lexical::fts_atom(term);
    }
    (void)rk::lexical::fts_expressions(terms);
    // The limit on ranked terms takes another path through the dedup.
    (void)rk::lexical::fts_expressions(terms, 2);
    return 0;
}
