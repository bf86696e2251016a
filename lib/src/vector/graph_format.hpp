// What graph.cpp (writing, and reading whole) and graph_file.cpp (mapping) share: the file's
// header and checksums, and the HNSW search itself, over either.
#pragma once

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <queue>
#include <span>
#include <vector>

#include "vector/codec.hpp"
#include "vector/graph.hpp"

namespace rk::vector::format {

constexpr char kMagic[8] = {'r', 'k', '-', 'h', 'n', 's', 'w', '\n'};
constexpr std::uint32_t kFormat = 2;
constexpr std::size_t kAlign = 64;

struct Header {
    char magic[8];
    std::uint32_t format, code_bytes, m, ef_construction;
    std::int64_t generation;
    std::uint64_t count, deleted;  // nodes, and of them removed
    std::int32_t maxlevel;
    std::uint32_t enter;
    std::uint64_t node_bytes;   // one level-0 record: link count, 2M links, code, label
    std::uint64_t upper_bytes;  // one upper-layer list: link count, M links
    std::uint64_t upper_count;  // upper-layer lists in all
    std::uint64_t level0_at, nodes_at, upper_at, sums_at, file_bytes;
    std::uint64_t header_sum;  // XXH3 of everything before it
};
static_assert(sizeof(Header) == 128);

// Per node: the first of its upper-layer lists (one per layer above 0) and its level.
struct NodeEntry {
    std::uint32_t upper_first;
    std::uint32_t level;
};

inline std::uint64_t align(std::uint64_t n) {
    return (n + kAlign - 1) / kAlign * kAlign;
}

// Whether a section of `count` items of `each` bytes at offset `at` lies within a file of
// `size` bytes. The product is checked for overflow: the counts come from the file, and a
// wrapped product once let a damaged upper_count pass for a small section.
inline bool section_fits(std::uint64_t at, std::uint64_t count, std::uint64_t each,
                         std::uint64_t size) {
    std::uint64_t bytes = 0;
    return !__builtin_mul_overflow(count, each, &bytes) && at <= size && bytes <= size - at;
}

// The sizes of a level-0 record and of an upper-layer list for `m` links a list and codes of
// `code_bytes` bytes, as hnswlib lays them out.
inline std::uint64_t node_record_bytes(std::uint64_t m, std::uint64_t code_bytes) {
    return 4 + 8 * m + code_bytes + sizeof(std::int64_t);  // 2m links of 4 bytes
}
inline std::uint64_t upper_list_bytes(std::uint64_t m) {
    return 4 + 4 * m;
}

inline std::uint64_t header_sum(const Header& h) {
    return XXH3_64bits(&h, offsetof(Header, header_sum));
}

// A node's checksum: its level-0 record, its entry and its upper-layer lists.
inline std::uint64_t node_sum(const unsigned char* record, std::size_t record_bytes,
                              const NodeEntry& entry, const unsigned char* upper,
                              std::size_t upper_bytes) {
    std::uint64_t seed = XXH3_64bits(&entry, sizeof entry);
    if (upper_bytes > 0) seed ^= XXH3_64bits(upper, upper_bytes);
    return XXH3_64bits_withSeed(record, record_bytes, seed);
}

// hnswlib's level-0 and upper-layer lists start with a 32-bit word: the link count in its
// low 16 bits, the deleted mark in bit 0 of its third byte.
inline std::uint32_t list_count(const unsigned char* list) {
    std::uint16_t n = 0;
    std::memcpy(&n, list, sizeof n);
    return n;
}
inline bool marked_deleted(const unsigned char* list) {
    return (list[2] & 0x01U) != 0;
}

// Searches an HNSW graph as hnswlib does: greedy descent through the upper layers, then a
// best-first search `ef` wide on the bottom one, which passes through removed nodes without
// returning them. `Access` reads nodes from memory or from a mapped file:
//   count(), enter(), maxlevel();
//   reach(id, level): `id` is linked from a list of `level`; checks that it is a node on that
//     layer (and, for a file, its checksum), else throws GraphDamage;
//   code(id), links(id, level) (a span of ids), deleted(id), label(id).
// Scores at most kMaxScored codes.
template <typename Access>
Found search_graph(const Access& a, const CodeScorer& q, std::size_t n, std::size_t ef) {
    Found found;
    if (a.count() == 0 || n == 0) return found;
    ef = std::max(ef, n);
    std::uint32_t at = a.enter();
    a.reach(at, a.maxlevel());
    float best = q.score(a.code(at));
    std::size_t scored = 1;
    for (int level = a.maxlevel(); level > 0; --level) {
        for (bool moved = true; moved;) {
            moved = false;
            for (const std::uint32_t next : a.links(at, level)) {
                a.reach(next, level);
                const float s = q.score(a.code(next));
                ++scored;
                if (s > best) {
                    best = s;
                    at = next;
                    moved = true;
                }
            }
        }
    }
    using Entry = std::pair<float, std::uint32_t>;  // score, node
    // Candidates to expand, best first; results kept, worst first (so it can be dropped).
    std::priority_queue<Entry> candidates;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> results;
    std::vector<std::uint64_t> visited((a.count() + 63) / 64, 0);
    auto visit = [&](std::uint32_t id) {
        const bool seen = ((visited[id / 64] >> (id % 64)) & 1U) != 0;
        visited[id / 64] |= std::uint64_t{1} << (id % 64);
        return !seen;
    };
    visit(at);
    candidates.emplace(best, at);
    if (!a.deleted(at)) results.emplace(best, at);
    while (!candidates.empty() && scored < kMaxScored) {
        const auto [score, node] = candidates.top();
        if (results.size() >= ef && score < results.top().first) break;
        candidates.pop();
        for (const std::uint32_t next : a.links(node, 0)) {
            if (!visit(next)) continue;
            a.reach(next, 0);
            const float s = q.score(a.code(next));
            ++scored;
            if (results.size() < ef || s > results.top().first) {
                candidates.emplace(s, next);
                if (!a.deleted(next)) {
                    results.emplace(s, next);
                    if (results.size() > ef) results.pop();
                }
            }
        }
    }
    while (results.size() > n) results.pop();
    found.nearest.resize(results.size());
    for (auto i = found.nearest.size(); i-- > 0; results.pop()) {
        found.nearest[i] = {a.label(results.top().second), results.top().first};
    }
    found.scored = scored;
    return found;
}

}  // namespace rk::vector::format
