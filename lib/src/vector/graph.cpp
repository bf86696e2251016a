// Graph: the HNSW graph in memory, built and changed with hnswlib, saved to and read whole
// from vectors.hnsw.
#include "vector/graph.hpp"

#include <fmt/format.h>
// hnswlib's headers define functions that are not inline: this is the one file that
// includes them. Its manual vectorization only serves its own spaces, and its prefetches
// read one link past the end of a node's list (out of bounds, which AddressSanitizer
// reports), so it is switched off.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <system_error>
#include <thread>

#include "util/file_io.hpp"
#include "vector/graph_format.hpp"

namespace rk::vector {

namespace {

using format::Header;
using format::NodeEntry;

[[noreturn]] void fail(const std::filesystem::path& file, std::string_view what) {
    throw IndexError(fmt::format("the vector graph {}", what), file.string());
}

// The top layer of a node: floor(-ln(u) * mL) with mL = 1/ln(M) (Malkov and Yashunin 2018,
// section 4), u drawn from the label rather than from a generator the inserting threads
// share, so that the same chunks inserted in the same order make the same graph, whether
// one ingest or an import put them there, in however many batches.
int level_of(std::int64_t label, int m) {
    const std::uint64_t h = XXH3_64bits(&label, sizeof label);
    const double u = static_cast<double>((h >> 11) + 1) * 0x1p-53;  // in (0, 1]
    return static_cast<int>(-std::log(u) / std::log(static_cast<double>(m)));
}

}  // namespace

// hnswlib's view of codes: the distance between two is the bits in which they differ.
class HammingSpace final : public hnswlib::SpaceInterface<float> {
  public:
    explicit HammingSpace(std::size_t bytes) : bytes_(bytes) {}
    std::size_t get_data_size() override { return bytes_; }
    hnswlib::DISTFUNC<float> get_dist_func() override { return &measure; }
    void* get_dist_func_param() override { return &bytes_; }

  private:
    static float measure(const void* a, const void* b, const void* param) {
        return static_cast<float>(hamming(static_cast<const unsigned char*>(a),
                                          static_cast<const unsigned char*>(b),
                                          *static_cast<const std::size_t*>(param)));
    }
    std::size_t bytes_;
};

namespace {

// search_graph()'s view of hnswlib's memory: nothing to check, it was built here.
class MemoryAccess {
  public:
    explicit MemoryAccess(const hnswlib::HierarchicalNSW<float>& h) : h_(h) {}
    [[nodiscard]] std::size_t count() const { return h_.cur_element_count; }
    [[nodiscard]] std::uint32_t enter() const { return h_.enterpoint_node_; }
    [[nodiscard]] int maxlevel() const { return h_.maxlevel_; }
    void reach(std::uint32_t /*id*/, int /*level*/) const {}
    [[nodiscard]] const unsigned char* code(std::uint32_t id) const {
        return reinterpret_cast<const unsigned char*>(h_.getDataByInternalId(id));
    }
    [[nodiscard]] std::span<const std::uint32_t> links(std::uint32_t id, int level) const {
        auto* list = level == 0 ? h_.get_linklist0(id) : h_.get_linklist(id, level);
        return {reinterpret_cast<const std::uint32_t*>(list + 1), h_.getListCount(list)};
    }
    [[nodiscard]] bool deleted(std::uint32_t id) const { return h_.isMarkedDeleted(id); }
    [[nodiscard]] std::int64_t label(std::uint32_t id) const {
        return static_cast<std::int64_t>(h_.getExternalLabel(id));
    }

  private:
    const hnswlib::HierarchicalNSW<float>& h_;
};

}  // namespace

Graph::Graph(std::size_t bits, GraphParams params, std::size_t capacity)
    : bits_(bits),
      params_(params),
      space_(std::make_unique<HammingSpace>(vector::code_bytes(bits))) {
    hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        space_.get(), std::max<std::size_t>(capacity, 16), static_cast<std::size_t>(params.m),
        static_cast<std::size_t>(params.ef_construction));
    // hnswlib draws a layer for every node it is not given one for (level_of() gives 0 as
    // "none"): with no spread, the draw is always the bottom layer.
    hnsw_->mult_ = 0;
}

Graph::~Graph() = default;

void Graph::save(const std::filesystem::path& file) const {
    const auto& h = *hnsw_;
    const std::size_t n = h.cur_element_count;
    Header head{};
    std::memcpy(head.magic, format::kMagic, sizeof format::kMagic);
    head.format = format::kFormat;
    head.code_bytes = static_cast<std::uint32_t>(code_bytes());
    head.m = static_cast<std::uint32_t>(params_.m);
    head.ef_construction = static_cast<std::uint32_t>(params_.ef_construction);
    head.generation = generation;
    head.count = n;
    head.deleted = h.num_deleted_;
    head.maxlevel = n > 0 ? h.maxlevel_ : -1;
    head.enter = n > 0 ? h.enterpoint_node_ : 0;
    head.node_bytes = h.size_data_per_element_;
    head.upper_bytes = h.size_links_per_element_;
    std::vector<NodeEntry> entries(n);
    std::uint64_t upper = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto level = static_cast<std::uint32_t>(h.element_levels_[i]);
        entries[i] = {static_cast<std::uint32_t>(upper), level};
        upper += level;
    }
    if (upper > UINT32_MAX) throw IndexError("the vector graph is too large to save", file);
    head.upper_count = upper;
    head.level0_at = format::align(sizeof(Header));
    head.nodes_at = format::align(head.level0_at + n * head.node_bytes);
    head.upper_at = format::align(head.nodes_at + n * sizeof(NodeEntry));
    head.sums_at = format::align(head.upper_at + upper * head.upper_bytes);
    head.file_bytes = head.sums_at + n * sizeof(std::uint64_t);
    head.header_sum = format::header_sum(head);

    // Each node's checksum covers its record, its entry and its upper lists.
    const auto* level0 = reinterpret_cast<const unsigned char*>(h.data_level0_memory_);
    std::vector<std::uint64_t> sums(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t lists = entries[i].level * head.upper_bytes;
        sums[i] = format::node_sum(level0 + i * head.node_bytes, head.node_bytes, entries[i],
                                   reinterpret_cast<const unsigned char*>(h.linkLists_[i]), lists);
    }
    // Only the writer saves, so another process's temporary file is one that died mid-save.
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(file.parent_path(), ec)) {
        if (entry.path().filename().string().starts_with(file.filename().string() + ".tmp-")) {
            std::filesystem::remove(entry.path(), ec);
        }
    }
    auto tmp = file;
    tmp += fmt::format(".tmp-{}", ::getpid());
    try {
        // Written as it is read from memory, so that saving takes no second copy of the graph.
        util::FileWriter out(tmp);
        out.write(&head, sizeof head);
        out.pad_to(head.level0_at);
        out.write(level0, n * head.node_bytes);
        out.pad_to(head.nodes_at);
        out.write(entries.data(), n * sizeof(NodeEntry));
        out.pad_to(head.upper_at);
        for (std::size_t i = 0; i < n; ++i) {
            if (entries[i].level > 0)
                out.write(h.linkLists_[i], entries[i].level * head.upper_bytes);
        }
        out.pad_to(head.sums_at);
        out.write(sums.data(), n * sizeof(std::uint64_t));
        if (out.written() != head.file_bytes)
            throw IndexError("wrote a graph of the wrong size", tmp);
        out.finish();
    } catch (const IndexError&) {
        std::filesystem::remove(tmp, ec);  // a full disk keeps no half file
        throw;
    }
    // Tests kill rk here, between the SQLite commit and the rename, as a crash could.
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the environment is not written after start-up
    if (const char* at = std::getenv("RK_TEST_KILL_AT");
        at && std::string_view(at) == "graph-rename") {
        (void)::raise(SIGKILL);
    }
    util::replace_file(tmp, file, "the vector graph");
}

std::unique_ptr<Graph> Graph::load(const std::filesystem::path& file, std::size_t bits) {
    std::ifstream in(file, std::ios::binary);
    if (!in) fail(file, "cannot be read");
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() < sizeof(Header)) fail(file, "is truncated");
    Header head{};
    std::memcpy(&head, bytes.data(), sizeof head);
    if (std::memcmp(head.magic, format::kMagic, sizeof format::kMagic) != 0) {
        fail(file, "is not an rk graph file");
    }
    if (head.format != format::kFormat)
        fail(file, fmt::format("has unknown format {}", head.format));
    if (head.header_sum != format::header_sum(head)) fail(file, "fails its header checksum");
    if (head.code_bytes != vector::code_bytes(bits)) {
        fail(file, fmt::format("has codes of {} bits, the index {}", head.code_bytes * 8, bits));
    }
    if (head.m < 2 || head.m > 256 || head.ef_construction < 1 || head.ef_construction > 10000) {
        fail(file, "has bad parameters");
    }
    if (head.file_bytes != bytes.size()) fail(file, "is truncated or too long");
    const auto count = head.count;
    if (count > (1ULL << 31) ||
        (count > 0 && (head.enter >= count || head.maxlevel < 0 || head.maxlevel > 64))) {
        fail(file, "has a bad entry point");
    }
    // Sizes and sections are checked before the graph is made for `count` nodes: a damaged
    // count once made it allocate gigabytes for a file of a few hundred bytes (found by
    // fuzzing).
    if (head.node_bytes != format::node_record_bytes(head.m, head.code_bytes) ||
        head.upper_bytes != format::upper_list_bytes(head.m)) {
        fail(file, "has records of another size");
    }
    auto section = [&](std::uint64_t at, std::uint64_t items, std::uint64_t each) {
        if (!format::section_fits(at, items, each, bytes.size())) fail(file, "has a bad section");
        return reinterpret_cast<const unsigned char*>(bytes.data()) + at;
    };
    const unsigned char* level0 = section(head.level0_at, count, head.node_bytes);
    const unsigned char* nodes = section(head.nodes_at, count, sizeof(NodeEntry));
    const unsigned char* upper = section(head.upper_at, head.upper_count, head.upper_bytes);
    const unsigned char* sums = section(head.sums_at, count, sizeof(std::uint64_t));
    auto g = std::make_unique<Graph>(
        bits, GraphParams{static_cast<int>(head.m), static_cast<int>(head.ef_construction)},
        count + count / 4);
    g->generation = head.generation;
    auto& h = *g->hnsw_;
    const auto n = static_cast<std::size_t>(count);
    if (head.node_bytes != h.size_data_per_element_ ||
        head.upper_bytes != h.size_links_per_element_) {
        fail(file, "has records of another size");
    }
    std::memcpy(h.data_level0_memory_, level0, n * head.node_bytes);
    h.cur_element_count = n;  // from here on the destructor frees what is allocated
    for (std::size_t i = 0; i < n; ++i) {
        NodeEntry e{};
        std::memcpy(&e, nodes + i * sizeof e, sizeof e);
        if (e.level > static_cast<std::uint32_t>(head.maxlevel)) {
            fail(file, "has a node above the top layer");
        }
        if (std::uint64_t{e.upper_first} + e.level > head.upper_count) {
            fail(file, "has a bad link list");
        }
        const std::size_t lists = e.level * head.upper_bytes;
        const unsigned char* mine = upper + std::uint64_t{e.upper_first} * head.upper_bytes;
        std::uint64_t sum = 0;
        std::memcpy(&sum, sums + i * sizeof sum, sizeof sum);
        if (sum !=
            format::node_sum(level0 + i * head.node_bytes, head.node_bytes, e, mine, lists)) {
            fail(file, fmt::format("fails its checksum at node {}", i));
        }
        if (e.level == 0) continue;
        h.linkLists_[i] = static_cast<char*>(std::malloc(lists));
        if (h.linkLists_[i] == nullptr) throw Error("out of memory reading the vector graph");
        std::memcpy(h.linkLists_[i], mine, lists);
        h.element_levels_[i] = static_cast<int>(e.level);
    }
    // Every link must name a node of this graph on a layer it is on.
    for (std::size_t i = 0; i < n; ++i) {
        const auto id = static_cast<hnswlib::tableint>(i);
        for (int level = 0; level <= h.element_levels_[i]; ++level) {
            auto* list = level == 0 ? h.get_linklist0(id) : h.get_linklist(id, level);
            const std::size_t links = h.getListCount(list);
            if (links > (level == 0 ? h.maxM0_ : h.maxM_)) fail(file, "has an overfull node");
            const auto* to = reinterpret_cast<const hnswlib::tableint*>(list + 1);
            for (std::size_t j = 0; j < links; ++j) {
                if (to[j] >= n || h.element_levels_[to[j]] < level) fail(file, "has a bad link");
            }
        }
        if (!h.label_lookup_.emplace(h.getExternalLabel(id), id).second) {
            fail(file, "has a label twice");
        }
        if (h.isMarkedDeleted(id)) ++h.num_deleted_;
    }
    if (h.num_deleted_ != head.deleted) fail(file, "miscounts its removed nodes");
    h.maxlevel_ = count > 0 ? head.maxlevel : -1;
    h.enterpoint_node_ = count > 0 ? head.enter : static_cast<hnswlib::tableint>(-1);
    if (count > 0 && h.element_levels_[head.enter] != head.maxlevel) {
        fail(file, "has a bad entry point");
    }
    return g;
}

void Graph::add(const std::vector<std::pair<std::int64_t, std::string>>& items, unsigned threads) {
    auto& h = *hnsw_;
    for (const auto& [label, code] : items) {
        if (code.size() != code_bytes()) {
            throw IndexError(fmt::format("code of chunk {} has {} bytes, expected {}", label,
                                         code.size(), code_bytes()));
        }
        if (h.label_lookup_.contains(static_cast<hnswlib::labeltype>(label))) {
            throw Error(fmt::format("vector graph: label {} added twice", label));
        }
    }
    if (h.cur_element_count + items.size() > h.max_elements_) {
        h.resizeIndex(std::max(h.cur_element_count + items.size(), h.max_elements_ * 3 / 2));
    }
    std::atomic<std::size_t> next{0};
    auto work = [&] {
        for (std::size_t i = next++; i < items.size(); i = next++) {
            h.addPoint(items[i].second.data(), static_cast<hnswlib::labeltype>(items[i].first),
                       level_of(items[i].first, params_.m));
        }
    };
    threads = std::max(1U, std::min<unsigned>(threads, static_cast<unsigned>(items.size() / 64)));
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
}

void Graph::remove(std::int64_t label) {
    auto& h = *hnsw_;
    const auto it = h.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
    if (it != h.label_lookup_.end() && !h.isMarkedDeleted(it->second)) h.markDelete(it->first);
}

bool Graph::knows(std::int64_t label) const {
    return hnsw_->label_lookup_.contains(static_cast<hnswlib::labeltype>(label));
}

const unsigned char* Graph::code(std::int64_t label) const {
    const auto& h = *hnsw_;
    const auto it = h.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
    if (it == h.label_lookup_.end() || h.isMarkedDeleted(it->second)) return nullptr;
    return reinterpret_cast<const unsigned char*>(h.getDataByInternalId(it->second));
}

std::vector<std::int64_t> Graph::labels() const {
    const auto& h = *hnsw_;
    std::vector<std::int64_t> out;
    out.reserve(h.label_lookup_.size());
    for (const auto& [label, id] : h.label_lookup_) {
        if (!h.isMarkedDeleted(id)) out.push_back(static_cast<std::int64_t>(label));
    }
    return out;
}

Found Graph::search(const CodeScorer& query, std::size_t n, std::size_t ef) const {
    return format::search_graph(MemoryAccess(*hnsw_), query, n, ef);
}

std::size_t Graph::size() const {
    return hnsw_->label_lookup_.size() - hnsw_->num_deleted_;
}
std::size_t Graph::deleted() const {
    return hnsw_->num_deleted_;
}

}  // namespace rk::vector
