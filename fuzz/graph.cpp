// The vector graph file, vectors.hnsw, damaged: mapped and searched (GraphFile, as queries
// read it, checking each node the first time a search reaches it) and read whole
// (Graph::load, as rk index verify and writers read it).
//
// The file carries checksums (its header's and each node's), which random bytes almost
// never match, so the first byte of an input says what to mend before the file is written:
// bit 0 the header's magic, format, code size and checksum, bit 1 each node's checksum.
// Mended, mutations reach the checks of sizes, offsets, levels and links behind them.
#include "vector/graph.hpp"

#include <array>
#include <cstring>
#include <string>

#include "rk/error.hpp"
#include "scratch_file.hpp"
#include "vector/graph_format.hpp"

namespace {

namespace format = rk::vector::format;

// Codes of 64 bits keep a node's record small (2M links, 8 bytes of code, a label).
constexpr std::size_t kBits = 64;

// Whether [at, at + count * each) lies within `size` bytes, without overflow.
bool within(std::uint64_t at, std::uint64_t count, std::uint64_t each, std::size_t size) {
    std::uint64_t bytes = 0;
    return !__builtin_mul_overflow(count, each, &bytes) && at <= size && bytes <= size - at;
}

// Rewrites each node's checksum as a writer would have, where the header's sections allow.
void mend_nodes(std::string& file) {
    format::Header h{};
    std::memcpy(&h, file.data(), sizeof h);
    const std::size_t size = file.size();
    if (h.count > 4096 || !within(h.level0_at, h.count, h.node_bytes, size) ||
        !within(h.nodes_at, h.count, sizeof(format::NodeEntry), size) ||
        !within(h.sums_at, h.count, sizeof(std::uint64_t), size)) {
        return;
    }
    auto* base = reinterpret_cast<unsigned char*>(file.data());
    for (std::uint64_t i = 0; i < h.count; ++i) {
        format::NodeEntry e{};
        std::memcpy(&e, base + h.nodes_at + i * sizeof e, sizeof e);
        const unsigned char* upper = nullptr;
        std::uint64_t lists = 0;
        if (e.level > 0) {
            if (!within(h.upper_at, std::uint64_t{e.upper_first} + e.level, h.upper_bytes, size)) {
                continue;
            }
            upper = base + h.upper_at + std::uint64_t{e.upper_first} * h.upper_bytes;
            lists = std::uint64_t{e.level} * h.upper_bytes;
        }
        const std::uint64_t sum =
            format::node_sum(base + h.level0_at + i * h.node_bytes, h.node_bytes, e, upper, lists);
        std::memcpy(base + h.sums_at + i * sizeof sum, &sum, sizeof sum);
    }
}

void mend_header(std::string& file) {
    format::Header h{};
    std::memcpy(&h, file.data(), sizeof h);
    std::memcpy(h.magic, format::kMagic, sizeof h.magic);
    h.format = format::kFormat;
    h.code_bytes = static_cast<std::uint32_t>(rk::vector::code_bytes(kBits));
    h.header_sum = format::header_sum(h);
    std::memcpy(file.data(), &h, sizeof h);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static rk::fuzz::ScratchFile scratch("vectors.hnsw");
    static const rk::vector::CodeScorer query([] {
        std::array<float, kBits> projection{};
        for (std::size_t i = 0; i < kBits; ++i) projection[i] = (i % 3 == 0 ? -1.0F : 0.5F);
        return rk::vector::CodeScorer(projection);
    }());
    if (size == 0) return 0;
    const unsigned mode = data[0];
    std::string file(reinterpret_cast<const char*>(data + 1), size - 1);
    if (file.size() >= sizeof(format::Header)) {
        if ((mode & 2U) != 0) mend_nodes(file);
        if ((mode & 1U) != 0) mend_header(file);
    }
    const auto& path = scratch.write(file.data(), file.size());
    (void)rk::vector::file_generation(path);
    try {
        const auto graph = rk::vector::GraphFile::open(path, kBits);
        (void)graph->size();
        (void)graph->search(query, 4, 16);
    } catch (const rk::IndexError&) {
        // GraphDamage included: the caller rebuilds the graph.
    }
    try {
        const auto graph = rk::vector::Graph::load(path, kBits);
        (void)graph->labels();
        (void)graph->search(query, 4, 16);
    } catch (const rk::IndexError&) {
    }
    return 0;
}
