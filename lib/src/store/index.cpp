#include "rk/index.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>

#include "lexical/postings.hpp"
#include "rk/error.hpp"
#include "rk/ids.hpp"
#include "rk/json.hpp"
#include "store/documents.hpp"
#include "store/index_impl.hpp"
#include "store/schema.hpp"
#include "text/tokenizer.hpp"
#include "util/glob.hpp"
#include "vector/store.hpp"

namespace fs = std::filesystem;

namespace rk {

namespace {

constexpr const char* kDbFile = "rk.db";
constexpr const char* kLockFile = "lock";

std::optional<std::string> env(const char* name) {
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before threads
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
}

// The names `key` may stand for, in the order tried: as written, as a path relative to here,
// then the same for its unescaped form, since rk prints ids escaped (rk-query(1), IDS IN
// MACHINE FORMATS). A name that exists as written wins.
std::vector<std::string> names_for(std::string_view key) {
    std::vector<std::string> out{std::string(key), util::absolute_path(key)};
    if (auto plain = unescape_id(key); plain && *plain != key) {
        std::string absolute = util::absolute_path(*plain);
        out.push_back(std::move(*plain));
        out.push_back(std::move(absolute));
    }
    return out;
}

// Settings every connection needs. WAL lets readers go on while a writer commits;
// synchronous=NORMAL keeps every commit atomic and durable against a killed process.
// Queries read the database through a memory map instead of copying each page out of the
// kernel (as much of it as SQLite maps: 2 GiB in Debian's build), and keep up to 64 MiB of
// pages (allocated as used) across the queries of a batch or a server. A writer maps less:
// what it maps and touches counts in its resident memory, which an ingest keeps bounded.
void configure(store::Database& db, Index::Mode mode) {
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("PRAGMA cache_size = -65536");
    db.exec(mode == Index::Mode::read ? "PRAGMA mmap_size = 2147418112"
                                      : "PRAGMA mmap_size = 268435456");
    if (mode == Index::Mode::write) {
        db.exec("PRAGMA journal_mode = WAL");
        db.exec("PRAGMA synchronous = NORMAL");
        db.exec("PRAGMA journal_size_limit = 67108864");
    }
}

// Readers open read-write too, so that SQLite can recover a WAL left by a killed writer;
// a read-only file system or permission falls back to a read-only connection. A WAL-mode
// database can be read only through its -shm file, which SQLite cannot create in a directory
// this process may not write (an index on a read-only mount, or another user's): when there
// is no writer to coordinate with (no -wal beside the file), such an index is opened as
// immutable instead.
std::unique_ptr<store::Database> open_connection(const fs::path& file, Index::Mode mode) {
    using Open = store::Database::Open;
    std::unique_ptr<store::Database> db;
    try {
        db = std::make_unique<store::Database>(file, Open::read_write);
    } catch (const IndexError&) {
        if (mode == Index::Mode::write) throw;
        db = std::make_unique<store::Database>(file, Open::read_only);
    }
    try {
        configure(*db, mode);
        if (mode == Index::Mode::read) (void)db->query_int("SELECT count(*) FROM sqlite_master");
    } catch (const IndexError&) {
        std::error_code ec;
        if (mode == Index::Mode::write || sqlite3_db_readonly(db->handle(), "main") != 1 ||
            fs::exists(fs::path(file.string() + "-wal"), ec)) {
            throw;
        }
        db = std::make_unique<store::Database>(file, Open::immutable);
        configure(*db, mode);
    }
    return db;
}

std::int64_t file_size_or_zero(const fs::path& p) {
    std::error_code ec;
    const auto n = fs::file_size(p, ec);
    return ec ? 0 : static_cast<std::int64_t>(n);
}

DocumentInfo read_info(const store::Statement& st) {
    // Column order of kInfoColumns.
    DocumentInfo d;
    d.id = st.str(0);
    d.source = st.str(1);
    d.collection = st.str(2);
    d.title = st.str(3);
    d.meta = st.str(4);
    d.hash = st.str(5);
    d.bytes = st.int64(6);
    d.updated = st.int64(7);
    d.chunks = st.int64(8);
    return d;
}

constexpr const char* kInfoColumns =
    "d.ext_id, d.source, d.collection, d.title, d.meta, d.hash, d.bytes, d.updated, "
    "(SELECT count(*) FROM chunks c WHERE c.doc = d.id), d.id, d.body";

}  // namespace

IndexLocation resolve_index(const std::optional<fs::path>& flag, const fs::path& cwd) {
    if (flag && !flag->empty()) return {*flag, IndexLocation::From::flag};
    if (auto e = env("RK_INDEX")) return {fs::path(*e), IndexLocation::From::env};
    std::error_code ec;
    for (fs::path dir = cwd; !dir.empty(); dir = dir.parent_path()) {
        const fs::path candidate = dir / ".rk";
        if (fs::is_directory(candidate, ec)) return {candidate, IndexLocation::From::found};
        if (dir == dir.root_path()) break;
    }
    fs::path data;
    if (auto x = env("XDG_DATA_HOME"); x && fs::path(*x).is_absolute()) {
        data = *x;
    } else if (auto home = env("HOME")) {
        data = fs::path(*home) / ".local" / "share";
    } else {
        throw IndexError("no index given and neither XDG_DATA_HOME nor HOME is set; use --index");
    }
    return {data / "rk" / "default", IndexLocation::From::fallback};
}

text::Tokenizer& Index::Impl::query_tokenizer() const {
    if (!tokenizer_) {
        tokenizer_ = std::make_unique<text::Tokenizer>(
            db->handle(), store::fts_tokenize_arg(settings.tokenizer, settings.split_words));
    }
    return *tokenizer_;
}

store::Database& Index::Impl::second_reader() const {
    if (!second_reader_) second_reader_ = open_connection(dir / kDbFile, Mode::read);
    return *second_reader_;
}

lexical::PostingFiles& Index::Impl::posting_files() const {
    const std::lock_guard hold(posting_files_mu_);
    if (!posting_files_) {
        posting_files_ = std::make_unique<lexical::PostingFiles>(lexical::posting_dir(*db),
                                                                 [this](const std::string& m) {
                                                                     if (note) note(m);
                                                                 });
    }
    return *posting_files_;
}

void Index::Impl::sync_posting_files() const {
    if (mode != Mode::write) return;
    if (const auto problem = lexical::sync_posting_files(*db); !problem.empty() && note) {
        note(problem);
    }
}

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void Index::set_notes(std::function<void(const std::string&)> sink) {
    impl_->note = std::move(sink);
}
Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;
Index::~Index() = default;

const fs::path& Index::dir() const noexcept {
    return impl_->dir;
}
const Settings& Index::settings() const noexcept {
    return impl_->settings;
}
Index::Mode Index::mode() const noexcept {
    return impl_->mode;
}

Index Index::create(const fs::path& dir, const Settings& settings) {
    store::check_settings(settings);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        throw IndexError(fmt::format("cannot create directory: {}", ec.message()), dir.string());
    }
    auto impl = std::make_unique<Impl>();
    impl->dir = dir;
    impl->mode = Mode::write;
    impl->lock.emplace(dir / kLockFile, 3000);
    if (fs::exists(dir / kDbFile)) {
        throw IndexError("an index already exists here", dir.string());
    }
    // The database is built under another name and renamed into place, so that a process
    // killed while creating it leaves no half-made rk.db behind.
    const fs::path fresh = dir / (std::string(kDbFile) + ".new");
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
        fs::remove(fresh.string() + suffix, ec);
    }
    {
        store::Database db(fresh, store::Database::Open::create);
        db.exec("PRAGMA journal_mode = DELETE");
        store::create_schema(db, settings);
    }
    fs::rename(fresh, dir / kDbFile, ec);
    if (ec) {
        throw IndexError(fmt::format("cannot create rk.db: {}", ec.message()), dir.string());
    }
    impl->db = std::make_unique<store::Database>(dir / kDbFile, store::Database::Open::read_write);
    configure(*impl->db, Mode::write);
    impl->settings = settings;
    return Index(std::move(impl));
}

Index Index::open(const fs::path& dir, Mode mode, int lock_wait_ms) {
    std::error_code ec;
    if (!fs::exists(dir / kDbFile, ec)) {
        throw IndexError("no index here (create one with `rk init` or `rk ingest`)", dir.string());
    }
    auto impl = std::make_unique<Impl>();
    impl->dir = dir;
    impl->mode = mode;
    if (mode == Mode::write) impl->lock.emplace(dir / kLockFile, lock_wait_ms);
    impl->db = open_connection(dir / kDbFile, mode);
    const bool upgraded = store::migrate(*impl->db);
    impl->settings = store::load_settings(*impl->db);
    // An upgrade may have written the postings again; the files follow them now rather than
    // at the next write (a reader has no lock to write them under, and reads the rows).
    if (upgraded) impl->sync_posting_files();
    return Index(std::move(impl));
}

Index Index::open_or_create(const fs::path& dir, const Settings& settings, bool* created) {
    std::error_code ec;
    const bool exists = fs::exists(dir / kDbFile, ec);
    if (created != nullptr) *created = !exists;
    return exists ? open(dir, Mode::write) : create(dir, settings);
}

std::optional<Document> Index::get(std::string_view id_or_path) const {
    auto& db = *impl_->db;
    const std::string q =
        fmt::format("SELECT {} FROM documents d WHERE d.ext_id = ?", kInfoColumns);
    auto by_id = db.prepare(q);
    auto find = [&](std::string_view key) -> std::optional<Document> {
        by_id.bind(1, key);
        if (!by_id.step()) {
            by_id.reset();
            return std::nullopt;
        }
        Document doc;
        doc.info = read_info(by_id);
        const std::int64_t rowid = by_id.int64(9);
        doc.text = by_id.str(10);
        by_id.reset();
        auto chunks = db.prepare(
            "SELECT seq, heading, start, end, tokens FROM chunks WHERE doc=? ORDER BY seq");
        chunks.bind(1, rowid);
        while (chunks.step()) {
            Chunk c{chunks.int64(0), chunks.str(1),   chunks.int64(2),
                    chunks.int64(3), chunks.int64(4), {}};
            const auto size = static_cast<std::int64_t>(doc.text.size());
            if (c.start >= 0 && c.start <= c.end && c.end <= size) {
                c.text = doc.text.substr(static_cast<std::size_t>(c.start),
                                         static_cast<std::size_t>(c.end - c.start));
            }
            doc.chunks.push_back(std::move(c));
        }
        return doc;
    };
    auto find_any = [&](std::string_view key) -> std::optional<Document> {
        for (const auto& name : names_for(key)) {
            if (auto d = find(name)) return d;
        }
        return std::nullopt;
    };
    if (auto d = find_any(id_or_path)) return d;
    // "ID#SEQ": one chunk of a document. The '#' is the last one as written, so an id that
    // holds one itself still names its chunks.
    const auto hash = id_or_path.rfind('#');
    if (hash == std::string_view::npos) return std::nullopt;
    const std::string_view seq_text = id_or_path.substr(hash + 1);
    if (seq_text.empty() || seq_text.size() >= 10 ||
        seq_text.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    auto d = find_any(id_or_path.substr(0, hash));
    if (!d) return std::nullopt;
    const std::int64_t seq = std::stoll(std::string(seq_text));
    for (auto& c : d->chunks) {
        if (c.seq == seq) {
            Chunk one = std::move(c);
            d->text = one.text;
            d->chunks = {std::move(one)};
            d->one_chunk = true;
            return d;
        }
    }
    return std::nullopt;
}

std::vector<DocumentInfo> Index::list(const ListFilter& filter) const {
    auto& db = *impl_->db;
    auto st = db.prepare(fmt::format(
        "SELECT {} FROM documents d WHERE (?1 IS NULL OR d.collection = ?1) ORDER BY d.id",
        kInfoColumns));
    if (filter.collection) {
        st.bind(1, *filter.collection);
    } else {
        st.bind_null(1);
    }
    std::vector<DocumentInfo> out;
    const std::optional<util::DocumentGlob> glob =
        filter.glob ? std::optional<util::DocumentGlob>(*filter.glob) : std::nullopt;
    while (st.step()) {
        DocumentInfo d = read_info(st);
        if (glob && !glob->matches(d.id, d.source)) continue;
        out.push_back(std::move(d));
    }
    return out;
}

std::vector<std::string> Index::remove(const std::vector<std::string>& selectors,
                                       const std::optional<std::string>& collection) {
    if (impl_->mode != Mode::write) throw IndexError("index is open read-only", dir().string());
    auto& db = *impl_->db;
    std::vector<std::pair<std::int64_t, std::string>> victims;
    {
        auto st = db.prepare("SELECT id, ext_id, source, collection FROM documents ORDER BY id");
        // A selector names documents by id, a file (or the JSONL file of records) by path, as
        // get() reads names; only one that names nothing so and has glob characters is a glob,
        // so that an id such as 'notes[1].md' removes that document alone.
        std::vector<std::vector<std::string>> names;
        names.reserve(selectors.size());
        for (const auto& s : selectors) names.push_back(names_for(s));
        std::vector<bool> named(selectors.size(), false);
        auto names_it = [&](std::size_t i, const std::string& id, const std::string& source) {
            for (const auto& n : names[i]) {
                if (id == n || (!source.empty() && source == n)) return true;
            }
            return false;
        };
        while (st.step()) {
            const std::string id = st.str(1), source = st.str(2);
            bool hit = collection && st.text(3) == *collection;
            for (std::size_t i = 0; i < selectors.size(); ++i) {
                if (names_it(i, id, source)) hit = named[i] = true;
            }
            if (hit) victims.emplace_back(st.int64(0), id);
        }
        std::vector<util::DocumentGlob> globs;
        for (std::size_t i = 0; i < selectors.size(); ++i) {
            if (!named[i] && util::has_glob_chars(selectors[i])) globs.emplace_back(selectors[i]);
        }
        if (!globs.empty()) {
            std::vector<std::int64_t> named_rows;  // in rowid order, as the scan went
            named_rows.reserve(victims.size());
            for (const auto& v : victims) named_rows.push_back(v.first);
            st.reset();
            while (st.step()) {
                const std::int64_t rowid = st.int64(0);
                if (std::binary_search(named_rows.begin(), named_rows.end(), rowid)) continue;
                const std::string id = st.str(1), source = st.str(2);
                for (const auto& g : globs) {
                    if (g.matches(id, source)) {
                        victims.emplace_back(rowid, id);
                        break;
                    }
                }
            }
            std::sort(victims.begin(), victims.end());
        }
    }
    std::vector<std::string> removed;
    store::Transaction tx(db);
    store::DocumentWriter writer(db, impl_->query_tokenizer(), impl_->layout());
    for (auto& [rowid, id] : victims) {
        writer.remove(rowid);
        removed.push_back(std::move(id));
    }
    writer.finish();
    tx.commit();
    impl_->sync_posting_files();
    if (impl_->has_vectors()) (void)impl_->graph();
    return removed;
}

Stats Index::stats() const {
    auto& db = *impl_->db;
    Stats s;
    s.settings = impl_->settings;
    s.schema_version = static_cast<int>(db.query_int("PRAGMA user_version").value_or(0));
    s.documents = db.query_int("SELECT count(*) FROM documents").value_or(0);
    s.chunks = db.query_int("SELECT count(*) FROM chunks").value_or(0);
    s.text_bytes = db.query_int("SELECT total(bytes) FROM documents").value_or(0);
    s.updated = db.query_int("SELECT max(updated) FROM documents").value_or(0);
    s.created =
        std::stoll(db.query_text("SELECT value FROM settings WHERE key='created'").value_or("0"));
    auto st = db.prepare(
        "SELECT collection, count(*) FROM documents GROUP BY collection ORDER BY collection");
    while (st.step()) s.collections.emplace_back(st.str(0), st.int64(1));
    s.posting_segments = db.query_int("SELECT count(*) FROM lex_segments").value_or(0);
    s.dead_chunks = db.query_int("SELECT count(*) FROM lex_dead").value_or(0);
    s.db_bytes = file_size_or_zero(impl_->dir / kDbFile);
    s.wal_bytes = file_size_or_zero(impl_->dir / (std::string(kDbFile) + "-wal"));
    s.vectors = vector::read_state(db).count;
    s.dimension = impl_->has_vectors() ? impl_->dimension() : 0;
    s.vector_bytes = static_cast<std::int64_t>(impl_->layout().stored_size);
    s.graph_bytes = file_size_or_zero(impl_->dir / "vectors.hnsw");
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(lexical::posting_dir(db), ec)) {
        s.posting_file_bytes += file_size_or_zero(f.path());
    }
    return s;
}

std::string stats_json(const Index& index) {
    const Stats s = index.stats();
    JsonWriter w;
    w.begin_object()
        .key("index")
        .value(index.dir().string())
        .key("schema_version")
        .value(s.schema_version)
        .key("documents")
        .value(s.documents)
        .key("chunks")
        .value(s.chunks)
        .key("text_bytes")
        .value(s.text_bytes)
        .key("db_bytes")
        .value(s.db_bytes)
        .key("wal_bytes")
        .value(s.wal_bytes)
        .key("created")
        .value(s.created)
        .key("updated")
        .value(s.updated)
        .key("settings")
        .begin_object()
        .key("embedder")
        .value(s.settings.embedder)
        .key("tokenizer")
        .value(s.settings.tokenizer)
        .key("chunk_size")
        .value(s.settings.chunk_size)
        .key("chunk_overlap")
        .value(s.settings.chunk_overlap)
        .end_object()
        .key("postings")
        .begin_object()
        .key("segments")
        .value(s.posting_segments)
        .key("dead_chunks")
        .value(s.dead_chunks)
        .key("file_bytes")
        .value(s.posting_file_bytes)
        .end_object()
        .key("vectors")
        .begin_object()
        .key("count")
        .value(s.vectors)
        .key("dimension")
        .value(s.dimension)
        .key("bytes_per_chunk")
        .value(s.vector_bytes)
        .key("graph_bytes")
        .value(s.graph_bytes)
        .end_object()
        .key("collections")
        .begin_object();
    for (const auto& [name, n] : s.collections) w.key(name).value(n);
    w.end_object().end_object();
    return w.take();
}

Health Index::verify() const {
    auto& db = *impl_->db;
    Health h;
    auto problem = [&](std::string p) {
        h.ok = false;
        h.problems.push_back(std::move(p));
    };
    {
        auto st = db.prepare("PRAGMA integrity_check");
        while (st.step()) {
            if (st.text(0) != "ok") problem(fmt::format("sqlite: {}", st.text(0)));
        }
    }
    if (sqlite3_db_readonly(db.handle(), "main") == 1) {
        h.unchecked.emplace_back(
            "full-text index: FTS5 checks itself only through a write, and this process may "
            "only read the index");
    } else {
        try {
            // rank = 1 also compares the index with the content it was built from.
            db.exec("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)");
        } catch (const IndexError& e) {
            problem(fmt::format("full-text index: {}", e.what()));
        }
    }
    const auto orphans =
        db.query_int("SELECT count(*) FROM chunks WHERE doc NOT IN (SELECT id FROM documents)");
    if (orphans.value_or(0) > 0) problem(fmt::format("{} chunks have no document", *orphans));
    const auto empty =
        db.query_int("SELECT count(*) FROM documents WHERE id NOT IN (SELECT doc FROM chunks)");
    if (empty.value_or(0) > 0) problem(fmt::format("{} documents have no chunks", *empty));
    const auto bad_ranges = db.query_int(
        "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.doc "
        "WHERE c.start < 0 OR c.end < c.start OR c.end > d.bytes");
    if (bad_ranges.value_or(0) > 0) {
        problem(fmt::format("{} chunks have byte ranges outside their document", *bad_ranges));
    }
    try {
        for (auto& p : lexical::verify_postings(db, impl_->query_tokenizer())) {
            problem(fmt::format("lexical postings: {}", p));
        }
    } catch (const IndexError& e) {
        problem(fmt::format("lexical postings: {}", e.what()));
    }
    for (auto& p : lexical::verify_posting_files(db)) problem(fmt::format("posting files: {}", p));
    if (!impl_->has_vectors()) {
        const auto stored = db.query_int("SELECT count(*) FROM vectors").value_or(0);
        if (stored > 0) problem(fmt::format("vectors: {} stored in an index without them", stored));
        return h;
    }
    // vectors.hnsw is derived: missing, damaged or behind, it is repaired here as by any
    // command (with a note); what must hold is that the graph then matches the vectors.
    const vector::Graph* graph = nullptr;
    try {
        graph = &impl_->graph();
    } catch (const Error& e) {
        problem(fmt::format("vectors: {}", e.message()));
    }
    std::vector<std::string> vector_problems;
    try {
        vector::verify_vectors(db, impl_->embedding(), graph, vector_problems);
    } catch (const Error& e) {
        problem(fmt::format("vectors: {}", e.message()));
    }
    for (const auto& p : vector_problems) problem(fmt::format("vectors: {}", p));
    return h;
}

void Index::rebuild(bool reembed) {
    if (impl_->mode != Mode::write) throw IndexError("index is open read-only", dir().string());
    auto& db = *impl_->db;
    store::Transaction tx(db);
    db.exec("INSERT INTO chunks_fts(chunks_fts) VALUES('rebuild')");
    lexical::rebuild_postings(db, impl_->query_tokenizer());
    if (impl_->has_vectors()) {
        if (reembed || impl_->layout().per_chunk) {
            vector::rebuild_vectors(db, impl_->embedding());
        } else {
            (void)vector::repair_vectors(db, impl_->layout(), [&]() -> const vector::Embedding& {
                return impl_->embedding();
            });
        }
    }
    tx.commit();
    impl_->sync_posting_files();
    if (impl_->has_vectors()) (void)impl_->graph(true);
}

void Index::optimize() {
    if (impl_->mode != Mode::write) throw IndexError("index is open read-only", dir().string());
    {
        store::Transaction tx(*impl_->db);
        impl_->db->exec("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')");
        lexical::optimize_postings(*impl_->db);
        tx.commit();
    }
    impl_->sync_posting_files();
    // A fresh graph drops the dead nodes removed vectors leave behind.
    if (impl_->has_vectors()) (void)impl_->graph(impl_->graph().deleted() > 0);
    impl_->db->exec("VACUUM");
    impl_->db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace rk
