// Keeping vectors.hnsw in step with rk.db. The database is the truth; the file is a cache of
// the graph that records the vector generation it reflects. Writers save it after they
// commit; anyone finding it missing, damaged or behind repairs it, and saves the repair when
// no writer is at work. Queries map the file rather than read it (GraphFile).
#include <fmt/format.h>

#include "rk/error.hpp"
#include "store/index_impl.hpp"
#include "vector/store.hpp"

namespace rk {

namespace {

constexpr const char* kGraphFile = "vectors.hnsw";
// Past this many vectors stored since the graph, a reader catches the graph up after all.
constexpr std::int64_t kMaxFresh = 50000;

}  // namespace

int Index::Impl::dimension() const {
    return static_cast<int>(
        db->query_int("SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'dimension'")
            .value_or(0));
}

const vector::Layout& Index::Impl::layout() const {
    if (!layout_) {
        try {
            layout_ = vector::layout(settings.embedder, has_vectors() ? dimension() : 0);
        } catch (const IndexError& e) {
            throw IndexError(e.what(), dir.string());
        }
    }
    return *layout_;
}

const vector::Embedding& Index::Impl::embedding() const {
    if (!embedding_) {
        try {
            embedding_ = vector::make_embedding(settings.embedder, dimension());
        } catch (const IndexError& e) {
            throw IndexError(e.what(), e.where().empty() ? dir.string() : e.where());
        }
        if (!embedding_) throw Error("an index without vectors has no embedder");
    }
    return *embedding_;
}

bool Index::Impl::writer_at_work() const {
    if (lock) return false;  // this process is the writer
    try {
        const store::WriterLock probe(dir / "lock", 0);
        return false;
    } catch (const LockError&) {
        return true;
    }
}

const vector::Graph& Index::Impl::graph(bool rebuild, std::string damage) const {
    const auto state = vector::read_state(*db);
    if (!rebuild && graph_ && graph_->generation == state.generation && !graph_unsaved_) {
        return *graph_;
    }
    const auto file = dir / kGraphFile;
    const auto bits = layout().bits;
    const vector::GraphParams params;
    bool changed = graph_unsaved_;
    graph_unsaved_ = false;
    if (rebuild || !graph_ || graph_->generation > state.generation) {
        graph_.reset();
        std::error_code ec;
        if (!rebuild && std::filesystem::exists(file, ec)) {
            try {
                graph_ = vector::Graph::load(file, bits);
                if (graph_->generation > state.generation) {
                    damage = "vectors.hnsw is ahead of rk.db";
                    graph_.reset();
                }
            } catch (const IndexError& e) {
                damage = e.message();
            }
        } else if (!rebuild && state.count > 0 && !lock) {
            // (A writer makes the file the first time; for anyone else it went missing.)
            damage = "vectors.hnsw is missing";
        }
        if (!graph_) {
            graph_ = vector::build_graph(*db, bits, params);
            changed = true;
        }
    }
    bool caught_up = false;
    if (graph_->generation < state.generation) {
        const auto changes = vector::catch_up(*db, *graph_, state);
        caught_up = changes.value_or(1) > 0;
        changed = true;
        // Removed vectors stay in an HNSW graph as dead nodes; past a quarter, start afresh.
        if (!changes || graph_->deleted() > graph_->size() / 4 + 64) {
            graph_ = vector::build_graph(*db, bits, params);
        }
    }
    if (!changed) return *graph_;
    bool saved = false;
    try {
        std::optional<store::WriterLock> taken;
        if (!lock) taken.emplace(dir / "lock", 0);
        graph_->save(file);
        saved = true;
        // A reader that could take the lock found no writer at work: the file was left
        // behind by one that stopped between its commit and its save.
        if (damage.empty() && caught_up && !lock && note) {
            note("vectors.hnsw was behind rk.db (a write was interrupted); brought it up to date");
        }
    } catch (const LockError&) {
        // A writer is at work and will save its own graph; this one serves from memory.
    } catch (const IndexError& e) {
        if (note) note(fmt::format("could not save vectors.hnsw: {}", e.message()));
    }
    if (!damage.empty() && note) {
        note(fmt::format("{}; rebuilt it from rk.db ({} vectors){}", damage, graph_->size(),
                         saved ? "" : ", in memory only"));
    }
    return *graph_;
}

vector::Found VectorView::search(const vector::CodeScorer& query, std::size_t n,
                                 std::size_t ef) const {
    if (file != nullptr) return file->search(query, n, ef);
    if (memory != nullptr) return memory->search(query, n, ef);
    return {};
}

std::size_t VectorView::size() const {
    return (file != nullptr ? file->size() : memory != nullptr ? memory->size() : 0) + fresh.size();
}

const VectorView& Index::Impl::vectors() const {
    const auto state = vector::read_state(*db);
    if (view_generation_ == state.generation) return view_;
    view_ = {};
    view_generation_ = -1;
    const auto file = dir / kGraphFile;
    const auto bits = layout().bits;
    std::unique_ptr<vector::GraphFile> mapped;
    try {
        mapped = vector::GraphFile::open(file, bits);
    } catch (const IndexError&) {
        // Missing or damaged: graph() below says which, and rebuilds it.
    }
    if (mapped && mapped->generation() < state.generation && writer_at_work()) {
        // A writer is adding vectors and will save the graph after its commits; rather than
        // catch the graph up (which would cost every reader what the writer already pays),
        // search the vectors stored since exactly, beside it.
        const auto behind = db->query_int(
            fmt::format("SELECT count(*) FROM vectors WHERE gen > {}", mapped->generation()));
        if (behind && *behind <= kMaxFresh) {
            auto st = db->prepare("SELECT chunk, substr(data, 1, ?2) FROM vectors WHERE gen > ?1");
            st.bind(1, mapped->generation());
            st.bind(2, static_cast<std::int64_t>(vector::code_bytes(layout().bits)));
            while (st.step()) view_.fresh.emplace(st.int64(0), std::string(st.blob(1)));
            file_ = std::move(mapped);
            view_.file = file_.get();
            view_generation_ = state.generation;
            return view_;
        }
    }
    if (!mapped || mapped->generation() != state.generation) {
        mapped.reset();
        const auto& g = graph();  // repairs the file, or keeps the graph in memory
        try {
            mapped = vector::GraphFile::open(file, bits);
            if (mapped->generation() != g.generation) mapped.reset();
        } catch (const IndexError&) {
            mapped.reset();
        }
        if (!mapped) {
            view_.memory = &g;
            view_generation_ = state.generation;
            return view_;
        }
    }
    file_ = std::move(mapped);
    view_.file = file_.get();
    view_generation_ = state.generation;
    return view_;
}

void Index::Impl::adopt_graph(std::unique_ptr<vector::Graph> graph) const {
    graph_ = std::move(graph);
    graph_unsaved_ = true;
}

void Index::Impl::graph_damaged(const vector::GraphDamage& damage) const {
    view_ = {};
    view_generation_ = -1;
    file_.reset();
    (void)graph(true, damage.message());
}

}  // namespace rk
