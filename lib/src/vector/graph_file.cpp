// GraphFile: vectors.hnsw mapped read-only and searched in place, checking each node the
// first time a search reaches it.
#include <fmt/format.h>

#include <fstream>

#include "util/file_io.hpp"
#include "vector/graph.hpp"
#include "vector/graph_format.hpp"

namespace rk::vector {

using format::Header;
using format::NodeEntry;

struct GraphFile::Layout {
    std::filesystem::path file;
    Header head{};
    const unsigned char* level0 = nullptr;
    const unsigned char* nodes = nullptr;
    const unsigned char* upper = nullptr;
    const unsigned char* sums = nullptr;
    std::size_t links0_bytes = 0;        // the link list at the head of a level-0 record
    std::uint32_t max0 = 0, max_up = 0;  // links a list may hold on layer 0, and above
    // Nodes whose checksum and links have been checked, one bit each.
    mutable std::vector<std::uint64_t> checked;

    [[noreturn]] void damaged(std::uint32_t id, std::string_view what) const {
        throw GraphDamage(fmt::format("the vector graph's node {} {}", id, what), file.string());
    }
    [[nodiscard]] NodeEntry entry(std::uint32_t id) const {
        NodeEntry e{};
        std::memcpy(&e, nodes + std::size_t{id} * sizeof e, sizeof e);
        return e;
    }
    [[nodiscard]] const unsigned char* record(std::uint32_t id) const {
        return level0 + std::size_t{id} * head.node_bytes;
    }
    [[nodiscard]] const unsigned char* upper_list(const NodeEntry& e, int level) const {
        return upper + (std::size_t{e.upper_first} + static_cast<std::size_t>(level) - 1) *
                           head.upper_bytes;
    }

    // Checks node `id` once: its checksum, its level, the size and targets of its lists.
    void check(std::uint32_t id) const {
        if (((checked[id / 64] >> (id % 64)) & 1U) != 0) return;
        const NodeEntry e = entry(id);
        if (e.level > static_cast<std::uint32_t>(head.maxlevel) ||
            std::uint64_t{e.upper_first} + e.level > head.upper_count) {
            damaged(id, "has a bad level");
        }
        const std::size_t lists = std::size_t{e.level} * head.upper_bytes;
        const unsigned char* mine = e.level > 0 ? upper_list(e, 1) : nullptr;
        std::uint64_t sum = 0;
        std::memcpy(&sum, sums + std::size_t{id} * sizeof sum, sizeof sum);
        if (sum != format::node_sum(record(id), head.node_bytes, e, mine, lists)) {
            damaged(id, "fails its checksum");
        }
        for (std::uint32_t level = 0; level <= e.level; ++level) {
            const unsigned char* list =
                level == 0 ? record(id) : upper_list(e, static_cast<int>(level));
            const std::uint32_t n = format::list_count(list);
            if (n > (level == 0 ? max0 : max_up)) damaged(id, "has an overfull link list");
            for (std::uint32_t j = 0; j < n; ++j) {
                std::uint32_t to = 0;
                std::memcpy(&to, list + 4 + 4 * std::size_t{j}, sizeof to);
                if (to >= head.count) damaged(id, "links outside the graph");
            }
        }
        checked[id / 64] |= std::uint64_t{1} << (id % 64);
    }
};

namespace {

// search_graph()'s view of the mapped file.
class FileAccess {
  public:
    explicit FileAccess(const GraphFile::Layout& l) : l_(l) {}
    [[nodiscard]] std::size_t count() const { return l_.head.count; }
    [[nodiscard]] std::uint32_t enter() const { return l_.head.enter; }
    [[nodiscard]] int maxlevel() const { return l_.head.maxlevel; }
    void reach(std::uint32_t id, int level) const {
        l_.check(id);
        if (l_.entry(id).level < static_cast<std::uint32_t>(level)) {
            l_.damaged(id, "is linked from a layer it is not on");
        }
    }
    [[nodiscard]] const unsigned char* code(std::uint32_t id) const {
        return l_.record(id) + l_.links0_bytes;
    }
    [[nodiscard]] std::span<const std::uint32_t> links(std::uint32_t id, int level) const {
        const unsigned char* list = level == 0 ? l_.record(id) : l_.upper_list(l_.entry(id), level);
        // Lists are 4-byte aligned within their records, which sit at multiples of 4.
        return {reinterpret_cast<const std::uint32_t*>(list + 4), format::list_count(list)};
    }
    [[nodiscard]] bool deleted(std::uint32_t id) const {
        return format::marked_deleted(l_.record(id));
    }
    [[nodiscard]] std::int64_t label(std::uint32_t id) const {
        std::int64_t label = 0;
        std::memcpy(&label, code(id) + l_.head.code_bytes, sizeof label);
        return label;
    }

  private:
    const GraphFile::Layout& l_;
};

}  // namespace

std::unique_ptr<GraphFile> GraphFile::open(const std::filesystem::path& file, std::size_t bits) {
    auto fail = [&](std::string_view what) -> void {
        throw IndexError(fmt::format("the vector graph {}", what), file.string());
    };
    std::unique_ptr<GraphFile> g(new GraphFile());
    try {
        // A search reads a few hundred nodes of under 1 KiB each, scattered over the file.
        g->map_ = std::make_unique<util::MappedFile>(file, util::MappedFile::Access::random);
    } catch (const IndexError&) {
        fail("cannot be read");
    }
    const std::size_t size = g->map_->size();
    if (size < sizeof(Header)) fail("is truncated");
    g->layout_ = std::make_unique<Layout>();
    auto& l = *g->layout_;
    l.file = file;
    const unsigned char* base = g->map_->data();
    std::memcpy(&l.head, base, sizeof l.head);
    const Header& h = l.head;
    if (std::memcmp(h.magic, format::kMagic, sizeof format::kMagic) != 0) {
        fail("is not an rk graph file");
    }
    if (h.format != format::kFormat) fail(fmt::format("has unknown format {}", h.format));
    if (h.header_sum != format::header_sum(h)) fail("fails its header checksum");
    if (h.code_bytes != code_bytes(bits)) {
        fail(fmt::format("has codes of {} bits, the index {}", h.code_bytes * 8, bits));
    }
    if (h.file_bytes != size) fail("is truncated or too long");
    if (h.m < 2 || h.m > 256) fail("has bad parameters");
    l.max0 = 2 * h.m;
    l.max_up = h.m;
    l.links0_bytes = 4 + 4 * std::size_t{l.max0};
    if (h.node_bytes != format::node_record_bytes(h.m, h.code_bytes) ||
        h.upper_bytes != format::upper_list_bytes(h.m)) {
        fail("has records of another size");
    }
    if (h.count > (1ULL << 31) ||
        (h.count > 0 && (h.enter >= h.count || h.maxlevel < 0 || h.maxlevel > 64))) {
        fail("has a bad entry point");
    }
    auto section = [&](std::uint64_t at, std::uint64_t count, std::uint64_t each) {
        if (at % 8 != 0 || !format::section_fits(at, count, each, size)) fail("has a bad section");
        return base + at;
    };
    l.level0 = section(h.level0_at, h.count, h.node_bytes);
    l.nodes = section(h.nodes_at, h.count, sizeof(NodeEntry));
    l.upper = section(h.upper_at, h.upper_count, h.upper_bytes);
    l.sums = section(h.sums_at, h.count, sizeof(std::uint64_t));
    l.checked.assign((h.count + 63) / 64, 0);
    return g;
}

GraphFile::~GraphFile() = default;

std::int64_t GraphFile::generation() const {
    return layout_->head.generation;
}

std::size_t GraphFile::size() const {
    return layout_->head.count - layout_->head.deleted;
}

Found GraphFile::search(const CodeScorer& query, std::size_t n, std::size_t ef) const {
    return format::search_graph(FileAccess(*layout_), query, n, ef);
}

std::int64_t file_generation(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    Header h{};
    if (!in.read(reinterpret_cast<char*>(&h), sizeof h)) return -1;
    if (std::memcmp(h.magic, format::kMagic, sizeof format::kMagic) != 0 ||
        h.format != format::kFormat || h.header_sum != format::header_sum(h)) {
        return -1;
    }
    return h.generation;
}

}  // namespace rk::vector
