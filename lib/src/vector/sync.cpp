// Keeping vectors.hnsw in step with rk.db. The database is the truth; the file is a cache of
// the graph that records the vector generation it reflects. Writers save it after they
// commit; anyone finding it missing, damaged or behind repairs it, and saves the repair when
// no writer is at work.
#include <fmt/format.h>

#include "rk/error.hpp"
#include "store/index_impl.hpp"
#include "vector/store.hpp"

namespace rk {

namespace {

constexpr const char* kGraphFile = "vectors.hnsw";

}  // namespace

const embed::BuiltinEmbedder& Index::Impl::embedder() const {
    if (!embedder_) {
        embedder_ =
            std::make_unique<embed::BuiltinEmbedder>(make_embedder(settings.embedder)->dimension());
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
        } else if (!rebuild && state.count > 0) {
            damage = "vectors.hnsw is missing";
        }
        if (!graph_) {
            graph_ = vector::build_graph(*db, dimension, params);
            changed = true;
        }
    }
    bool caught_up = false;
    if (graph_->generation < state.generation) {
        caught_up = vector::catch_up(*db, *graph_, state) > 0;
        changed = true;
        // Removed vectors stay in an HNSW graph as dead nodes; past a quarter, start afresh.
        if (graph_->deleted() > graph_->size() / 4 + 64) {
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

}  // namespace rk
