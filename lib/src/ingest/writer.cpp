// The writer's part of rk::ingest() (see writer.hpp): what each record does to the index.

#include "ingest/writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>

namespace fs = std::filesystem;

namespace rk::pipeline {

namespace {

// Tests make transactions small (RK_TEST_COMMIT_BYTES), to see what several of them do.
std::size_t commit_bytes() {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the environment is not written after start-up
    const char* v = std::getenv("RK_TEST_COMMIT_BYTES");
    return v != nullptr ? std::max<std::size_t>(1, std::strtoull(v, nullptr, 10)) : kCommitBytes;
}

}  // namespace

Writer::Writer(store::Database& db, text::Tokenizer& tokenizer, const Settings& settings,
               const vector::Layout& vectors, const vector::Embedding* embedding,
               const IngestOptions& o, const Known& known, const IngestCallbacks& cb,
               IngestReport& report, vector::GraphBuilder* graph)
    : db_(db),
      graph_(graph),
      tokenizer_(tokenizer),
      vectors_(vectors),
      embedding_(embedding),
      o_(o),
      known_(known),
      cb_(cb),
      report_(report),
      commit_bytes_(commit_bytes()),
      cutter_(o, settings, tokenizer, embedding) {}

void Writer::write(std::vector<WorkResult>& results) {
    if (stop_) return;
    if (!o_.dry_run && !tx_) {
        tx_.emplace(db_);
        writer_.emplace(db_, tokenizer_, vectors_);
    }
    // An import writes nothing after a line that stops it (a bad one, or any after the last).
    std::size_t until = 0;
    for (bool ended = end_.has_value(); until < results.size(); ++until) {
        const WorkResult& r = results[until];
        if (ended && (r.records > 0 || r.end || r.stop)) break;
        if (r.stop) {
            ++until;
            break;
        }
        ended = ended || r.end.has_value();
    }
    // Each id's last record in the round: an earlier one need not be written, as the later
    // one replaces it anyway. So a rerun over records with duplicate ids writes nothing,
    // unless a round ends between two of them.
    std::unordered_map<std::string_view, const Prepared*> last;
    for (std::size_t i = 0; i < until; ++i) {
        for (const auto& p : results[i].docs) last[p.rec.ext_id] = &p;
    }
    embed_round(results, until, last);
    for (std::size_t i = 0; i < results.size(); ++i) {
        auto& r = results[i];
        if (i == until) {
            stop_ =
                IngestNote{IngestNote::Level::error, r.first,
                           fmt::format("a line after the export's last line (at {})", end_->where)};
            break;
        }
        uncommitted_ += r.bytes;
        report_.failed += r.failed;
        report_.skipped += r.skipped;
        report_.bytes += static_cast<std::int64_t>(r.bytes);
        seen_sources_.insert(r.source);
        if (r.failed > 0) failed_sources_.insert(r.source);
        for (auto& n : r.notes) {
            if (cb_.note) cb_.note(n);
        }
        for (auto& p : r.docs) {
            write_one(p, last.at(p.rec.ext_id) != &p, writer_ ? &*writer_ : nullptr);
        }
        records_ += r.records;
        if (r.stop) {
            stop_ = std::move(r.stop);
            break;
        }
        if (r.end) {
            end_ = std::move(r.end);
            if (end_->documents != records_) {
                stop_ = IngestNote{
                    IngestNote::Level::error, end_->where,
                    fmt::format("the export's last line counts {} documents, but {} came before "
                                "it: lines of the export are missing",
                                end_->documents, records_)};
                break;
            }
        }
    }
    if (uncommitted_ >= commit_bytes_) commit();
}

void Writer::commit() {
    if (writer_) writer_->finish();
    writer_.reset();
    if (tx_) {
        tx_->commit();
        if (graph_ != nullptr) graph_->committed();
    }
    tx_.reset();
    uncommitted_ = 0;
}

void Writer::prune(const std::vector<fs::path>& roots) {
    commit();
    struct Victim {
        std::int64_t rowid;
        std::string id;
    };
    std::vector<Victim> victims;
    {
        auto st = db_.prepare("SELECT id, ext_id, source FROM documents WHERE source != ''");
        std::error_code ec;
        while (st.step()) {
            const std::string id = st.str(1), source = st.str(2);
            if (run_.contains(id)) continue;
            bool gone = false;
            if (seen_sources_.contains(source)) {
                // Read in full this run, and the document was not in it any more.
                gone = !failed_sources_.contains(source);
            } else {
                const bool under = std::any_of(roots.begin(), roots.end(), [&](const fs::path& r) {
                    const std::string rs = r.string();
                    return source == rs || (source.starts_with(rs) && source.size() > rs.size() &&
                                            (source[rs.size()] == '/' || rs.ends_with('/')));
                });
                // Only a file that is not there is gone; one we may not read is kept.
                gone = under && fs::symlink_status(source, ec).type() == fs::file_type::not_found;
            }
            if (gone) victims.push_back({st.int64(0), id});
        }
    }
    std::optional<store::Transaction> tx;
    std::optional<store::DocumentWriter> writer;
    if (!o_.dry_run) {
        tx.emplace(db_);
        writer.emplace(db_, tokenizer_, vectors_);
    }
    for (const auto& v : victims) {
        if (writer) writer->remove(v.rowid);
        if (cb_.item) cb_.item("prune", v.id);
        ++report_.pruned;
    }
    if (writer) writer->finish();
    if (tx) tx->commit();
}

// A model or a service embeds the chunks of a round's documents together (a service in
// batches), after those whose text the index holds already under the same document have taken
// their stored vector back: a changed file costs only its changed chunks. Only what will be
// written is embedded: not a record a later one with its id replaces in this round, nor one
// the index holds as it is (`last`: each id's last record in the round).
void Writer::embed_round(std::vector<WorkResult>& results, std::size_t until,
                         const std::unordered_map<std::string_view, const Prepared*>& last) {
    if (embedding_ == nullptr || embedding_->per_chunk()) return;
    std::vector<Prepared*> docs;
    for (std::size_t i = 0; i < until && i < results.size(); ++i) {
        for (auto& p : results[i].docs) {
            if (p.rec.chunks.empty() || last.at(p.rec.ext_id) != &p) continue;
            // Its row as the index holds it now: written earlier in this run, or before it.
            std::optional<std::int64_t> rowid;
            std::optional<std::string> stored;
            if (const auto run = run_.find(p.rec.ext_id); run != run_.end() && run->second.stored) {
                rowid = run->second.rowid;
                stored = run->second.stored;
            } else if (const auto before = known_.find(p.rec.ext_id); before != known_.end()) {
                rowid = before->second.rowid;
                stored = before->second.hash;
            }
            if (stored == p.rec.hash) continue;
            if (rowid) reuse_vectors(*rowid, p);
            docs.push_back(&p);
        }
    }
    cutter_.embed_rest(docs);
}

void Writer::reuse_vectors(std::int64_t rowid, Prepared& p) {
    std::unordered_map<std::string, std::string> stored;
    auto& st = db_.cached(
        "SELECT v.title, v.heading, v.body, x.data FROM chunk_view v "
        "JOIN vectors x ON x.chunk = v.id WHERE v.id IN (SELECT id FROM chunks WHERE doc = ?1)");
    st.bind(1, rowid);
    while (st.step()) {
        stored.emplace(vector::embedding_text(st.text(0), st.text(1), st.text(2)),
                       std::string(st.blob(3)));
    }
    st.reset();
    for (auto& c : p.rec.chunks) {
        if (!c.vector.encoded.empty()) continue;
        std::string text = vector::embedding_text(p.rec.title, c.heading, c.text);
        const auto it = stored.find(text);
        if (it != stored.end() && it->second.size() == embedding_->stored_size()) {
            c.vector = embedding_->kept(it->second, text);
            ++report_.vectors_reused;
        }
    }
}

// `superseded`: a later record in this round has the same id.
void Writer::write_one(Prepared& p, bool superseded, store::DocumentWriter* writer) {
    const std::string& id = p.rec.ext_id;
    const auto before = known_.find(id);
    auto [at, first] = run_.try_emplace(id);
    RunDocument& d = at->second;
    if (first) {
        if (before != known_.end()) {
            d.rowid = before->second.rowid;
            d.stored = before->second.hash;
        }
    } else {
        if (cb_.note) {
            cb_.note({IngestNote::Level::warning, p.where,
                      fmt::format("duplicate id '{}' (also at {}); the later record "
                                  "replaces it",
                                  id, d.where)});
        }
        tally(d.counted, d.chunks, -1);
        d.counted = Action::none;
        d.chunks = 0;
    }
    d.where = p.where;
    if (superseded) return;
    const Action action = before == known_.end()              ? Action::add
                          : before->second.hash == p.rec.hash ? Action::unchanged
                                                              : Action::update;
    if (action != Action::unchanged) d.chunks = static_cast<std::int64_t>(p.rec.chunks.size());
    if (d.stored != p.rec.hash) {
        if (writer != nullptr) {
            // Unchanged since before the run, so not cut by the worker, but an earlier
            // record with its id has replaced it in this run.
            if (!p.cut) {
                cutter_.cut(p, p.segments ? &*p.segments : nullptr);
                Prepared* const one[] = {&p};
                cutter_.embed_rest(one);
            }
            if (d.stored) {
                writer->replace(d.rowid, p.rec);
            } else {
                d.rowid = writer->insert(p.rec);
            }
        }
        d.stored = p.rec.hash;
    }
    d.counted = action;
    tally(action, d.chunks, 1);
    if (cb_.item) cb_.item(name(action), id);
}

void Writer::tally(Action a, std::int64_t chunks, std::int64_t n) {
    switch (a) {
        case Action::none:
            return;
        case Action::add:
            report_.added += n;
            break;
        case Action::update:
            report_.updated += n;
            break;
        case Action::unchanged:
            report_.unchanged += n;
            break;
    }
    report_.chunks += n * chunks;
}

std::string_view Writer::name(Action a) {
    switch (a) {
        case Action::add:
            return "add";
        case Action::update:
            return "update";
        case Action::unchanged:
            return "unchanged";
        case Action::none:
            break;
    }
    return "none";
}

}  // namespace rk::pipeline
