// Keeping vectors.hnsw in step with rk.db. The database is the truth; the file is a cache of
// the graph that records the vector generation it reflects. Writers save it after they
// commit; anyone finding it missing, damaged or behind repairs it, and saves the repair when
// no writer is at work.
#include <fmt/format.h>

#include <cstring>
#include <fstream>

#include "rk/error.hpp"
#include "store/index_impl.hpp"
#include "vector/store.hpp"

namespace rk {

namespace {

constexpr const char* kGraphFile = "vectors.hnsw";
// Past this many vectors stored since the graph, a reader catches the graph up after all.
constexpr std::int64_t kMaxFresh = 50000;

// The generation a graph file reflects, from its header alone; -1 if unreadable.
std::int64_t file_generation(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    char header[48] = {};
    if (!in.read(header, sizeof header)) return -1;
    std::int64_t generation = -1;
    std::memcpy(&generation, header + 24, sizeof generation);
    return generation;
}

}  // namespace

const embed::BuiltinEmbedder& Index::Impl::embedder() const {
    if (!embedder_) {
        const auto made = make_embedder(settings.embedder);
        if (!made) throw Error("an index without vectors has no embedder");
        embedder_ = std::make_unique<embed::BuiltinEmbedder>(made->dimension());
    }
    return *embedder_;
}

const vector::Graph& Index::Impl::graph(bool rebuild) const {
    const auto state = vector::read_state(*db);
    if (!rebuild && graph_ && graph_->generation == state.generation) return *graph_;
    const auto file = dir / kGraphFile;
    const auto dimension = static_cast<std::size_t>(embedder().dimension());
    const vector::GraphParams params;
    std::string damage;  // why the file could not be used, for the note
    bool changed = false;
    if (rebuild || !graph_ || graph_->generation > state.generation) {
        graph_.reset();
        std::error_code ec;
        if (!rebuild && std::filesystem::exists(file, ec)) {
            try {
                graph_ = vector::Graph::load(file, dimension);
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
            graph_ = vector::build_graph(*db, dimension, params);
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
            graph_ = vector::build_graph(*db, dimension, params);
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

const char* VectorView::vector(std::int64_t chunk) const {
    if (const auto it = fresh.find(chunk); it != fresh.end()) return it->second.data();
    return graph->vector(chunk);
}

std::vector<std::int64_t> VectorView::labels() const {
    auto out = graph->labels();
    for (const auto& [chunk, v] : fresh) {
        if (!graph->contains(chunk)) out.push_back(chunk);
    }
    return out;
}

const VectorView& Index::Impl::vectors() const {
    const auto state = vector::read_state(*db);
    if (graph_ && graph_->generation == state.generation) {
        view_.graph = graph_.get();
        view_.fresh.clear();
        return view_;
    }
    if (graph_ && view_.graph == graph_.get() && view_generation_ == state.generation) {
        return view_;
    }
    const auto file = dir / kGraphFile;
    bool writer_at_work = false;
    if (!lock) {
        try {
            const store::WriterLock probe(dir / "lock", 0);
        } catch (const LockError&) {
            writer_at_work = true;
        }
    }
    if (writer_at_work) {
        // Take the writer's last saved graph if it is newer than ours and not ahead of rk.db.
        const auto saved = file_generation(file);
        if (!graph_ || (saved > graph_->generation && saved <= state.generation)) {
            try {
                auto loaded =
                    vector::Graph::load(file, static_cast<std::size_t>(embedder().dimension()));
                if (loaded->generation <= state.generation) graph_ = std::move(loaded);
            } catch (const IndexError&) {
                // graph() below rebuilds it, with a note.
            }
        }
        const auto behind =
            graph_ ? db->query_int(fmt::format("SELECT count(*) FROM vectors WHERE gen > {}",
                                               graph_->generation))
                   : std::nullopt;
        if (graph_ && behind && *behind <= kMaxFresh) {
            view_.graph = graph_.get();
            view_.fresh.clear();
            auto st = db->prepare("SELECT chunk, data FROM vectors WHERE gen > ?1");
            st.bind(1, graph_->generation);
            while (st.step()) view_.fresh.emplace(st.int64(0), std::string(st.blob(1)));
            view_generation_ = state.generation;
            return view_;
        }
    }
    view_.graph = &graph();
    view_.fresh.clear();
    view_generation_ = state.generation;
    return view_;
}

}  // namespace rk
