#include "vector/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "rk/error.hpp"

namespace rk::vector {

namespace {

constexpr std::size_t kBatch = 4096;  // vectors read into memory at a time

}  // namespace

void distinct_buckets(const std::vector<embed::Gram>& grams, std::vector<std::uint32_t>& out) {
    [[gnu::tls_model("initial-exec")]] thread_local std::vector<std::uint64_t> marks(
        embed::kDfBuckets / 64, 0);
    std::vector<std::uint64_t>& seen = marks;
    out.clear();
    out.reserve(grams.size());
    for (const auto& g : grams) {
        const std::uint32_t b = embed::df_bucket(g.hash);
        std::uint64_t& word = seen[b / 64];
        const std::uint64_t bit = std::uint64_t{1} << (b % 64);
        if ((word & bit) == 0) {
            word |= bit;
            out.push_back(b);
        }
    }
    for (const auto b : out) seen[b / 64] = 0;
}

namespace {

void put_state(store::Database& db, std::string_view key, std::int64_t value) {
    db.cached("INSERT OR REPLACE INTO vec_state(key, value) VALUES(?1, ?2)")
        .bind(1, key)
        .bind(2, value)
        .run();
}

unsigned cores() {
    return std::max(1U, std::thread::hardware_concurrency());
}

// Compares vec_df with the document frequencies counted from the chunks' text, `df`.
void check_df(store::Database& db, const std::vector<std::int32_t>& df,
              std::vector<std::string>& problems) {
    std::int64_t wrong = 0;
    auto stored = db.prepare("SELECT bucket, df FROM vec_df");
    std::vector<std::int32_t> seen(embed::kDfBuckets, 0);
    while (stored.step()) {
        const auto b = stored.int64(0);
        if (b < 0 || b >= embed::kDfBuckets || stored.int64(1) != df[b]) ++wrong;
        if (b >= 0 && b < embed::kDfBuckets) seen[b] = 1;
    }
    for (std::uint32_t b = 0; b < embed::kDfBuckets; ++b) {
        if (df[b] != 0 && seen[b] == 0) ++wrong;
    }
    if (wrong > 0) {
        problems.push_back(fmt::format("{} n-gram document frequencies are wrong", wrong));
    }
}

}  // namespace

std::string embedding_text(std::string_view title, std::string_view heading,
                           std::string_view body) {
    std::string text;
    text.reserve(title.size() + heading.size() + body.size() + 2);
    text.append(title).append("\n").append(heading).append("\n").append(body);
    return text;
}

VectorState read_state(store::Database& db) {
    VectorState s;
    auto& st = db.cached("SELECT key, value FROM vec_state");
    while (st.step()) {
        if (st.text(0) == "generation") s.generation = st.int64(1);
        if (st.text(0) == "count") s.count = st.int64(1);
    }
    st.reset();
    return s;
}

VectorWriter::VectorWriter(store::Database& db, bool count_grams)
    : db_(db), count_grams_(count_grams), df_delta_(count_grams ? embed::kDfBuckets : 0, 0) {}

std::int64_t VectorWriter::generation() {
    if (!gen_) gen_ = read_state(db_).generation + 1;
    return *gen_;
}

void VectorWriter::add(std::int64_t chunk, const ChunkVector& v) {
    db_.cached("INSERT INTO vectors(chunk, gen, data) VALUES(?1, ?2, ?3)")
        .bind(1, chunk)
        .bind(2, generation())
        .bind_blob(3, v.encoded)
        .run();
    ++added_;
    for (const auto b : v.df_buckets) {
        if (df_delta_[b]++ == 0) touched_.push_back(b);
    }
}

void VectorWriter::remove_document(std::int64_t doc) {
    if (count_grams_) uncount_grams(doc);
    db_.cached("DELETE FROM vectors WHERE chunk IN (SELECT id FROM chunks WHERE doc = ?1)")
        .bind(1, doc)
        .run();
    const auto removed = db_.changes();
    removed_ += removed;
    if (removed > 0) (void)generation();
}

std::int64_t VectorWriter::remove_unfit(std::size_t stored_size) {
    db_.cached(
           "DELETE FROM vectors WHERE chunk NOT IN (SELECT id FROM chunks) OR length(data) != ?1")
        .bind(1, static_cast<std::int64_t>(stored_size))
        .run();
    const auto removed = db_.changes();
    removed_ += removed;
    if (removed > 0) (void)generation();
    return removed;
}

void VectorWriter::uncount_grams(std::int64_t doc) {
    // The removed chunks' n-grams leave the document frequencies; they are recounted from
    // the text, which is still there.
    auto& texts = db_.cached(
        "SELECT v.title, v.heading, v.body FROM chunk_view v JOIN vectors x ON x.chunk = v.id "
        "WHERE v.id IN (SELECT id FROM chunks WHERE doc = ?1)");
    texts.bind(1, doc);
    std::vector<embed::Gram> grams;
    std::vector<std::uint32_t> buckets;
    while (texts.step()) {
        embed::BuiltinEmbedder::grams(embedding_text(texts.text(0), texts.text(1), texts.text(2)),
                                      grams);
        distinct_buckets(grams, buckets);
        for (const auto b : buckets) {
            if (df_delta_[b]-- == 0) touched_.push_back(b);
        }
    }
    texts.reset();
}

void VectorWriter::finish() {
    auto& upsert = db_.cached(
        "INSERT INTO vec_df(bucket, df) VALUES(?1, ?2) "
        "ON CONFLICT(bucket) DO UPDATE SET df = df + excluded.df");
    for (const auto b : touched_) {
        if (df_delta_[b] != 0) upsert.bind(1, std::int64_t{b}).bind(2, df_delta_[b]).run();
        df_delta_[b] = 0;
    }
    touched_.clear();
    if (gen_) {
        const auto s = read_state(db_);
        put_state(db_, "generation", *gen_);
        put_state(db_, "count", s.count + added_ - removed_);
        db_.exec("DELETE FROM vec_df WHERE df <= 0");
    }
    gen_.reset();
    added_ = removed_ = 0;
}

namespace {

// Embeds the chunks `st` reads (id, title, heading, body) into `writer`, kBatch at a time;
// `embedding` is called for only when there is one. Returns how many.
std::int64_t embed_rows(store::Statement& st, const std::function<const Embedding&()>& embedding,
                        VectorWriter& writer) {
    std::int64_t embedded = 0;
    std::vector<std::int64_t> ids;
    std::vector<std::string> texts;
    std::vector<ChunkVector> vectors;
    auto flush = [&] {
        if (ids.empty()) return;
        const std::vector<std::string_view> views(texts.begin(), texts.end());
        embedding().embed(views, vectors);
        for (std::size_t i = 0; i < ids.size(); ++i) writer.add(ids[i], vectors[i]);
        embedded += std::ssize(ids);
        ids.clear();
        texts.clear();
    };
    while (st.step()) {
        ids.push_back(st.int64(0));
        texts.push_back(embedding_text(st.text(1), st.text(2), st.text(3)));
        if (ids.size() == kBatch) flush();
    }
    flush();
    return embedded;
}

}  // namespace

void rebuild_vectors(store::Database& db, const Embedding& embedding) {
    db.exec("DELETE FROM vectors; DELETE FROM vec_df;");
    VectorWriter writer(db, embedding.counts_grams());
    auto st = db.prepare("SELECT id, title, heading, body FROM chunk_view ORDER BY id");
    (void)embed_rows(
        st, [&]() -> const Embedding& { return embedding; }, writer);
    put_state(db, "count", 0);  // finish() adds what was written
    writer.finish();
}

std::int64_t repair_vectors(store::Database& db, const Layout& layout,
                            const std::function<const Embedding&()>& embedding) {
    VectorWriter writer(db, false);
    std::int64_t changes = writer.remove_unfit(layout.stored_size);
    auto st = db.prepare(
        "SELECT id, title, heading, body FROM chunk_view "
        "WHERE id NOT IN (SELECT chunk FROM vectors) ORDER BY id");
    changes += embed_rows(st, embedding, writer);
    writer.finish();
    // The count was kept by adding and subtracting; a repair is for when that went wrong.
    put_state(db, "count", db.query_int("SELECT count(*) FROM vectors").value_or(0));
    return changes;
}

std::unique_ptr<Graph> build_graph(store::Database& db, std::size_t bits, GraphParams params) {
    const auto state = read_state(db);
    auto graph = std::make_unique<Graph>(bits, params, static_cast<std::size_t>(state.count) + 16);
    graph->generation = state.generation;
    std::vector<std::pair<std::int64_t, std::string>> batch;
    auto st = db.prepare("SELECT chunk, substr(data, 1, ?1) FROM vectors ORDER BY chunk");
    st.bind(1, static_cast<std::int64_t>(code_bytes(bits)));
    while (st.step()) {
        batch.emplace_back(st.int64(0), std::string(st.blob(1)));
        if (batch.size() == kBatch) {
            graph->add(batch, cores());
            batch.clear();
        }
    }
    graph->add(batch, cores());
    return graph;
}

std::optional<std::size_t> catch_up(store::Database& db, Graph& graph, VectorState state) {
    // The vectors stored since the graph's generation go in, in chunk order on one thread as
    // the background builder puts them (so that the same chunks make the same graph, whoever
    // inserted how many: export and import keep rankings). One the graph holds already (put
    // there by a builder that stopped part way) stays; a chunk id the graph knows with another
    // code was stored again, and hnswlib "updates" a label it has seen on a path with
    // undefined behaviour: the graph must be built afresh instead.
    const auto bytes = graph.code_bytes();
    std::size_t changes = 0;
    std::vector<std::pair<std::int64_t, std::string>> batch;
    auto fresh =
        db.prepare("SELECT chunk, substr(data, 1, ?2) FROM vectors WHERE gen > ?1 ORDER BY chunk");
    fresh.bind(1, graph.generation).bind(2, static_cast<std::int64_t>(bytes));
    while (fresh.step()) {
        const std::int64_t chunk = fresh.int64(0);
        const std::string_view code = fresh.blob(1);
        if (graph.knows(chunk)) {
            const unsigned char* held = graph.code(chunk);
            if (held == nullptr || code.size() != bytes ||
                std::memcmp(held, code.data(), bytes) != 0) {
                return std::nullopt;
            }
            continue;
        }
        batch.emplace_back(chunk, std::string(code));
        ++changes;
        if (batch.size() == kBatch) {
            graph.add(batch, 1);
            batch.clear();
        }
    }
    graph.add(batch, 1);
    // Tests kill rk here, with the graph caught up in memory only, as a crash could (whether
    // the background builder left anything for this step or not, which timing decides).
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the environment is not written after start-up
    if (const char* at = std::getenv("RK_TEST_KILL_AT");
        at != nullptr && std::string_view(at) == "graph-build") {
        (void)::raise(SIGKILL);
    }
    // Chunks removed since leave the graph (as dead nodes).
    std::unordered_set<std::int64_t> live;
    auto all = db.prepare("SELECT chunk FROM vectors");
    while (all.step()) live.insert(all.int64(0));
    for (const auto label : graph.labels()) {
        if (!live.contains(label)) {
            graph.remove(label);
            ++changes;
        }
    }
    graph.generation = state.generation;
    return changes;
}

void verify_vectors(store::Database& db, const Embedding& embedding, const Graph* graph,
                    std::vector<std::string>& problems) {
    const auto state = read_state(db);
    std::vector<std::int32_t> df(embedding.counts_grams() ? embed::kDfBuckets : 0, 0);
    std::int64_t rows = 0;
    auto st = db.prepare(
        "SELECT c.id, x.data IS NULL, x.data, v.title, v.heading, v.body FROM chunks c "
        "LEFT JOIN vectors x ON x.chunk = c.id JOIN chunk_view v ON v.id = c.id ORDER BY c.id");
    while (st.step()) {
        const auto chunk = st.int64(0);
        const std::string text = embedding.reads_text() || embedding.counts_grams()
                                     ? embedding_text(st.text(3), st.text(4), st.text(5))
                                     : std::string();
        if (st.int64(1) != 0) {
            if (embedding.counts_grams()) {
                std::vector<std::string> ignored;
                embedding.check(chunk, text, {}, ignored, df);
            }
            problems.push_back(fmt::format("chunk {} has no vector", chunk));
            continue;
        }
        ++rows;
        embedding.check(chunk, text, st.blob(2), problems, df);
        if (graph != nullptr) {
            const auto* in_graph = graph->code(chunk);
            const std::size_t bytes = graph->code_bytes();
            if (in_graph == nullptr) {
                problems.push_back(fmt::format("chunk {} is missing from vectors.hnsw", chunk));
            } else if (std::string_view(reinterpret_cast<const char*>(in_graph), bytes) !=
                       st.blob(2).substr(0, bytes)) {
                problems.push_back(fmt::format("chunk {}'s code in vectors.hnsw differs", chunk));
            }
        }
    }
    const auto orphans =
        db.query_int("SELECT count(*) FROM vectors WHERE chunk NOT IN (SELECT id FROM chunks)");
    if (orphans.value_or(0) > 0) {
        problems.push_back(fmt::format("{} vectors belong to no chunk", *orphans));
    }
    if (rows + orphans.value_or(0) != state.count) {
        problems.push_back(fmt::format("vector count is {}, but {} are stored", state.count,
                                       rows + orphans.value_or(0)));
    }
    if (embedding.counts_grams()) check_df(db, df, problems);
    if (graph != nullptr && graph->size() != static_cast<std::size_t>(rows)) {
        problems.push_back(
            fmt::format("vectors.hnsw holds {} vectors, rk.db {}", graph->size(), rows));
    }
}

}  // namespace rk::vector
