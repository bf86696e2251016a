#include "vector/graph.hpp"

#include <fcntl.h>
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
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>
#include <thread>

#include "rk/error.hpp"

namespace rk::vector {

namespace {

constexpr char kMagic[8] = {'r', 'k', '-', 'h', 'n', 's', 'w', '\n'};
constexpr std::uint32_t kFormat = 1;

struct Header {
    char magic[8];
    std::uint32_t format, dimension, m, ef_construction;
    std::int64_t generation;
    std::uint64_t payload_bytes, checksum;
};
static_assert(sizeof(Header) == 48);

std::string error_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

template <typename T>
void put(std::string& out, const T& v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Reads from the payload, refusing to run past its end.
class Reader {
  public:
    Reader(std::string_view bytes, const std::filesystem::path& file)
        : bytes_(bytes), file_(file) {}
    template <typename T>
    T get() {
        T v{};
        std::memcpy(&v, take(sizeof v), sizeof v);
        return v;
    }
    const char* take(std::size_t n) {
        if (n > bytes_.size() - at_) fail("ends early");
        const char* p = bytes_.data() + at_;
        at_ += n;
        return p;
    }
    [[nodiscard]] bool done() const { return at_ == bytes_.size(); }
    [[noreturn]] void fail(std::string_view what) const {
        throw IndexError(fmt::format("the vector graph {}", what), file_.string());
    }

  private:
    std::string_view bytes_;
    std::size_t at_ = 0;
    const std::filesystem::path& file_;
};

void write_synced(const std::filesystem::path& file, const std::string& bytes) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw IndexError(fmt::format("cannot write: {}", error_text(errno)), file);
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = errno;
            ::close(fd);
            throw IndexError(fmt::format("cannot write: {}", error_text(err)), file);
        }
        done += static_cast<std::size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced) throw IndexError(fmt::format("cannot sync: {}", error_text(errno)), file);
}

}  // namespace

// hnswlib's view of encoded vectors: distance 1 - cosine.
class Int8Space final : public hnswlib::SpaceInterface<float> {
  public:
    explicit Int8Space(std::size_t dimension) : dimension_(dimension) {}
    std::size_t get_data_size() override { return encoded_size(dimension_); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return &measure; }
    void* get_dist_func_param() override { return &dimension_; }

  private:
    static float measure(const void* a, const void* b, const void* param) {
        return distance(static_cast<const char*>(a), static_cast<const char*>(b),
                        *static_cast<const std::size_t*>(param));
    }
    std::size_t dimension_;
};

Graph::Graph(std::size_t dimension, GraphParams params, std::size_t capacity)
    : dimension_(dimension), params_(params), space_(std::make_unique<Int8Space>(dimension)) {
    hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        space_.get(), std::max<std::size_t>(capacity, 16), static_cast<std::size_t>(params.m),
        static_cast<std::size_t>(params.ef_construction));
}

Graph::~Graph() = default;

void Graph::save(const std::filesystem::path& file) const {
    const auto& h = *hnsw_;
    std::string payload;
    payload.reserve(h.cur_element_count * (h.size_data_per_element_ + 8) + 64);
    put(payload, std::uint64_t{h.cur_element_count});
    put(payload, std::int32_t{h.maxlevel_});
    put(payload, std::uint32_t{h.enterpoint_node_});
    payload.append(h.data_level0_memory_, h.cur_element_count * h.size_data_per_element_);
    for (std::size_t i = 0; i < h.cur_element_count; ++i) {
        const auto level = static_cast<std::uint32_t>(h.element_levels_[i]);
        put(payload, level);
        if (level > 0) payload.append(h.linkLists_[i], h.size_links_per_element_ * level);
    }
    Header head{};
    std::memcpy(head.magic, kMagic, sizeof kMagic);
    head.format = kFormat;
    head.dimension = static_cast<std::uint32_t>(dimension_);
    head.m = static_cast<std::uint32_t>(params_.m);
    head.ef_construction = static_cast<std::uint32_t>(params_.ef_construction);
    head.generation = generation;
    head.payload_bytes = payload.size();
    head.checksum = XXH3_64bits(payload.data(), payload.size());
    std::string bytes(reinterpret_cast<const char*>(&head), sizeof head);
    bytes += payload;

    // Only the writer saves, so another process's temporary file is one that died mid-save.
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(file.parent_path(), ec)) {
        if (entry.path().filename().string().starts_with(file.filename().string() + ".tmp-")) {
            std::filesystem::remove(entry.path(), ec);
        }
    }
    auto tmp = file;
    tmp += fmt::format(".tmp-{}", ::getpid());
    write_synced(tmp, bytes);
    // Tests kill rk here, between the SQLite commit and the rename, as a crash could.
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the environment is not written after start-up
    if (const char* at = std::getenv("RK_TEST_KILL_AT");
        at && std::string_view(at) == "graph-rename") {
        (void)::raise(SIGKILL);
    }
    std::filesystem::rename(tmp, file, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw IndexError(fmt::format("cannot replace the vector graph: {}", ec.message()), file);
    }
    // The rename is durable once the directory is.
    const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
}

std::unique_ptr<Graph> Graph::load(const std::filesystem::path& file, std::size_t dimension) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw IndexError("the vector graph cannot be read", file.string());
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Reader r(bytes, file);
    const auto head = r.get<Header>();
    if (std::memcmp(head.magic, kMagic, sizeof kMagic) != 0) r.fail("is not an rk graph file");
    if (head.format != kFormat) r.fail(fmt::format("has unknown format {}", head.format));
    if (head.dimension != dimension) {
        r.fail(fmt::format("has {} dimensions, the index {}", head.dimension, dimension));
    }
    if (head.m < 2 || head.m > 256 || head.ef_construction < 1 || head.ef_construction > 10000) {
        r.fail("has bad parameters");
    }
    if (head.payload_bytes != bytes.size() - sizeof(Header)) r.fail("is truncated or too long");
    if (XXH3_64bits(bytes.data() + sizeof(Header), head.payload_bytes) != head.checksum) {
        r.fail("fails its checksum");
    }

    const auto count = r.get<std::uint64_t>();
    const auto maxlevel = r.get<std::int32_t>();
    const auto enter = r.get<std::uint32_t>();
    if (count > (1ULL << 31) || (count > 0 && (enter >= count || maxlevel < 0 || maxlevel > 64))) {
        r.fail("has a bad entry point");
    }
    auto g = std::make_unique<Graph>(
        dimension, GraphParams{static_cast<int>(head.m), static_cast<int>(head.ef_construction)},
        count + count / 4);
    g->generation = head.generation;
    auto& h = *g->hnsw_;
    const auto n = static_cast<std::size_t>(count);
    std::memcpy(h.data_level0_memory_, r.take(n * h.size_data_per_element_),
                n * h.size_data_per_element_);
    h.cur_element_count = n;  // from here on the destructor frees what is allocated
    for (std::size_t i = 0; i < n; ++i) {
        const auto level = r.get<std::uint32_t>();
        if (level > static_cast<std::uint32_t>(maxlevel)) r.fail("has a node above the top layer");
        if (level == 0) continue;
        const std::size_t size = h.size_links_per_element_ * level;
        h.linkLists_[i] = static_cast<char*>(std::malloc(size));
        if (h.linkLists_[i] == nullptr) throw Error("out of memory reading the vector graph");
        std::memcpy(h.linkLists_[i], r.take(size), size);
        h.element_levels_[i] = static_cast<int>(level);
    }
    if (!r.done()) r.fail("has trailing bytes");
    // Every link must name a node of this graph on a layer it is on.
    for (std::size_t i = 0; i < n; ++i) {
        const auto id = static_cast<hnswlib::tableint>(i);
        for (int level = 0; level <= h.element_levels_[i]; ++level) {
            auto* list = level == 0 ? h.get_linklist0(id) : h.get_linklist(id, level);
            const std::size_t links = h.getListCount(list);
            if (links > (level == 0 ? h.maxM0_ : h.maxM_)) r.fail("has an overfull node");
            const auto* to = reinterpret_cast<const hnswlib::tableint*>(list + 1);
            for (std::size_t j = 0; j < links; ++j) {
                if (to[j] >= n || h.element_levels_[to[j]] < level) r.fail("has a bad link");
            }
        }
        if (!h.label_lookup_.emplace(h.getExternalLabel(id), id).second) {
            r.fail("has a label twice");
        }
        if (h.isMarkedDeleted(id)) ++h.num_deleted_;
    }
    h.maxlevel_ = count > 0 ? maxlevel : -1;
    h.enterpoint_node_ = count > 0 ? enter : static_cast<hnswlib::tableint>(-1);
    if (count > 0 && h.element_levels_[enter] != maxlevel) r.fail("has a bad entry point");
    return g;
}

void Graph::add(const std::vector<std::pair<std::int64_t, std::string>>& items, unsigned threads) {
    auto& h = *hnsw_;
    std::size_t fresh = 0;
    for (const auto& [label, v] : items) {
        if (v.size() != encoded_size(dimension_)) {
            throw IndexError(fmt::format("vector of chunk {} has {} bytes, expected {}", label,
                                         v.size(), encoded_size(dimension_)));
        }
        if (h.label_lookup_.contains(static_cast<hnswlib::labeltype>(label))) {
            throw Error(fmt::format("vector graph: label {} added twice", label));
        }
        ++fresh;
    }
    if (h.cur_element_count + fresh > h.max_elements_) {
        h.resizeIndex(std::max(h.cur_element_count + fresh, h.max_elements_ * 3 / 2));
    }
    std::atomic<std::size_t> next{0};
    auto work = [&] {
        for (std::size_t i = next++; i < items.size(); i = next++) {
            h.addPoint(items[i].second.data(), static_cast<hnswlib::labeltype>(items[i].first));
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

bool Graph::contains(std::int64_t label) const {
    return vector(label) != nullptr;
}

bool Graph::knows(std::int64_t label) const {
    return hnsw_->label_lookup_.contains(static_cast<hnswlib::labeltype>(label));
}

const char* Graph::vector(std::int64_t label) const {
    const auto& h = *hnsw_;
    const auto it = h.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
    if (it == h.label_lookup_.end() || h.isMarkedDeleted(it->second)) return nullptr;
    return h.getDataByInternalId(it->second);
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

std::size_t Graph::size() const {
    return hnsw_->label_lookup_.size() - hnsw_->num_deleted_;
}
std::size_t Graph::deleted() const {
    return hnsw_->num_deleted_;
}

std::vector<std::pair<std::int64_t, float>> Graph::search(const std::string& query, std::size_t k,
                                                          std::size_t ef) const {
    std::vector<std::pair<std::int64_t, float>> out;
    if (k == 0 || size() == 0) return out;
    hnsw_->setEf(std::max(ef, k));
    auto found = hnsw_->searchKnn(query.data(), k);
    out.resize(found.size());
    for (auto i = found.size(); i-- > 0;) {
        out[i] = {static_cast<std::int64_t>(found.top().second), found.top().first};
        found.pop();
    }
    return out;
}

}  // namespace rk::vector
