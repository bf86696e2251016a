// The layout of a posting file (segment_file.hpp), shared by its reader and writer and by the
// fuzzing target that mends its checksums.
#pragma once

#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace rk::lexical::posting_file {

constexpr char kMagic[8] = {'r', 'k', '-', 'p', 'o', 's', 't', '\n'};
constexpr std::uint32_t kFormat = 2;  // 1: blocks of varints (schema 5)

struct Trailer {
    char magic[8];
    std::uint32_t format, reserved;
    std::uint64_t tag;
    std::int64_t seg, entries;
    std::uint64_t terms, pages;
    std::uint64_t table_at;
    std::uint64_t index_sum;    // XXH3 of table, sums and strings
    std::uint64_t trailer_sum;  // XXH3 of everything before it
};
static_assert(sizeof(Trailer) == 80);

struct TermRecord {
    std::uint64_t term_at;     // in strings
    std::uint64_t data_at;     // from the file's start: its head, then its pages
    std::uint64_t data_bytes;  // head and pages
    std::uint64_t sums_first;  // its first page's checksum, in sums
    std::int64_t df;
    std::uint64_t head_sum;
    std::uint32_t term_bytes, head_bytes, pages, reserved;
};
static_assert(sizeof(TermRecord) == 64);

inline std::uint64_t trailer_sum(const Trailer& t) {
    return XXH3_64bits(&t, offsetof(Trailer, trailer_sum));
}

}  // namespace rk::lexical::posting_file
