#include "vector/builder.hpp"

#include "store/sqlite.hpp"
#include "vector/store.hpp"

namespace rk::vector {

namespace {

constexpr std::size_t kBatch = 4096;  // vectors read, then inserted, at a time

}  // namespace

GraphBuilder::GraphBuilder(const std::filesystem::path& db_file,
                           const std::filesystem::path& graph_file, std::size_t bits,
                           GraphParams params)
    : bits_(bits), params_(params) {
    thread_ = std::thread([this, db_file, graph_file] { run(db_file, graph_file); });
}

GraphBuilder::~GraphBuilder() {
    (void)finish();
}

void GraphBuilder::committed() {
    {
        const std::lock_guard<std::mutex> hold(mutex_);
        pending_ = true;
    }
    wake_.notify_one();
}

std::unique_ptr<Graph> GraphBuilder::finish() {
    {
        const std::lock_guard<std::mutex> hold(mutex_);
        stop_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    return usable_ ? std::move(graph_) : nullptr;
}

void GraphBuilder::run(const std::filesystem::path& db_file,
                       const std::filesystem::path& graph_file) {
    try {
        store::Database db(db_file, store::Database::Open::read_only);
        {
            const store::ReadTransaction snapshot(db);
            const auto state = read_state(db);
            std::error_code ec;
            if (std::filesystem::exists(graph_file, ec)) {
                try {
                    graph_ = Graph::load(graph_file, bits_);
                    // A graph behind rk.db (the writer's first commit came before this
                    // snapshot, or a writer died before saving) is kept: it takes the vectors
                    // stored since, as the catch-up at the end would.
                    if (graph_->generation > state.generation) {
                        damage_ = "vectors.hnsw is ahead of rk.db";
                        graph_.reset();
                    }
                } catch (const IndexError& e) {
                    damage_ = e.message();
                }
            }
            if (!graph_) {
                // No usable file: start empty, and take every vector.
                graph_ = std::make_unique<Graph>(bits_, params_,
                                                 static_cast<std::size_t>(state.count) + kBatch);
                graph_->generation = 0;
            }
        }
        const auto code = static_cast<std::int64_t>(code_bytes(bits_));
        // What has been read so far. The graph keeps the generation it started from: it takes
        // the vectors stored since but does not drop those removed since, which the catch-up
        // at the end does (it keeps what the graph holds already).
        std::int64_t seen = graph_->generation;
        for (;;) {
            {
                std::unique_lock<std::mutex> hold(mutex_);
                wake_.wait(hold, [&] { return pending_ || stop_; });
                if (stop_) return;
                pending_ = false;
            }
            // What the commits since the last pass stored, read in one snapshot and inserted
            // outside it, so that the writer's log can be checkpointed meanwhile.
            std::vector<std::pair<std::int64_t, std::string>> fresh;
            std::int64_t generation = 0;
            {
                const store::ReadTransaction snapshot(db);
                generation = read_state(db).generation;
                auto st = db.prepare(
                    "SELECT chunk, substr(data, 1, ?3) FROM vectors WHERE gen > ?1 AND gen <= ?2 "
                    "ORDER BY chunk");
                st.bind(1, seen).bind(2, generation).bind(3, code);
                while (st.step()) {
                    if (graph_->knows(st.int64(0))) {
                        usable_ = false;  // a chunk id stored again: build afresh at the end
                        return;
                    }
                    fresh.emplace_back(st.int64(0), std::string(st.blob(1)));
                }
            }
            for (std::size_t at = 0; at < fresh.size(); at += kBatch) {
                {
                    const std::lock_guard<std::mutex> hold(mutex_);
                    if (stop_) return;  // the end's catch-up takes the rest
                }
                const auto end = std::min(fresh.size(), at + kBatch);
                graph_->add({fresh.begin() + static_cast<std::ptrdiff_t>(at),
                             fresh.begin() + static_cast<std::ptrdiff_t>(end)},
                            1);
            }
            seen = generation;
        }
    } catch (const std::exception&) {
        usable_ = false;  // the end builds or catches up the graph as it would have anyway
    }
}

}  // namespace rk::vector
