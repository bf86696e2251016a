#include "store/schema.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>

#include "embed/registry.hpp"
#include "lexical/postings.hpp"
#include "rk/error.hpp"
#include "rk/version.hpp"
#include "text/snowball.hpp"
#include "text/tokenizer.hpp"
#include "vector/store.hpp"

namespace rk::store {

namespace {

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Version 1. Documents keep their full text (for `rk get` and lossless export); chunks are
// byte ranges of it, not copies. FTS5 indexes each chunk's text with its document's title
// and heading path, reading them back (for snippets, deletes and rebuilds) through a view.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE documents(
  id INTEGER PRIMARY KEY,
  ext_id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL DEFAULT '',
  collection TEXT NOT NULL,
  title TEXT NOT NULL DEFAULT '',
  meta TEXT NOT NULL DEFAULT '{}',
  hash TEXT NOT NULL,
  body TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  updated INTEGER NOT NULL
);
CREATE INDEX documents_source ON documents(source);
CREATE INDEX documents_collection ON documents(collection);
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY,
  doc INTEGER NOT NULL REFERENCES documents(id),
  seq INTEGER NOT NULL,
  heading TEXT NOT NULL DEFAULT '',
  start INTEGER NOT NULL,
  end INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  lex_len INTEGER NOT NULL DEFAULT 0,
  UNIQUE(doc, seq)
);
CREATE VIEW chunk_view AS
  SELECT c.id AS id, d.title AS title, c.heading AS heading,
         CAST(substr(CAST(d.body AS BLOB), c.start + 1, c.end - c.start) AS TEXT) AS body
  FROM chunks c JOIN documents d ON d.id = c.doc;
)sql";

// Version 2 adds rk's own postings for BM25 (see lexical/postings.hpp) and each chunk's
// length in tokens (chunks.lex_len, added by ALTER TABLE when migrating from version 1).
// Version 3 adds the vectors (see vector/store.hpp), computed from the text when migrating.
// Version 4 stores the builtin embedder's vectors as binary codes with the bag's length
// instead of 4096 int8 components (8 times smaller); they are computed again on migrating.
// Version 5 stores postings in blocks with score bounds (see lexical/posting_format.hpp) and
// counts dead entries per term; the postings are built again on migrating.
constexpr const char* kVectorIndex = "CREATE INDEX vectors_gen ON vectors(gen);";

// FTS5 keeps 32 MiB of new terms in memory (the default is 1 MiB) before it writes them as a
// segment: a large ingest then writes fewer, larger segments and merges them less (100,000
// documents: 9.9 s of FTS5 work -> 5.7 s).
void set_fts_options(Database& db) {
    db.exec("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('hashsize', 33554432)");
}

void put_setting(Database& db, std::string_view key, std::string_view value) {
    auto st = db.prepare("INSERT OR REPLACE INTO settings(key, value) VALUES(?, ?)");
    st.bind(1, key).bind(2, value).run();
}

int parse_int_setting(const std::string& key, const std::string& value, const Database& db) {
    try {
        std::size_t used = 0;
        const int v = std::stoi(value, &used);
        if (used == value.size()) return v;
    } catch (const std::exception&) {
    }
    throw IndexError(fmt::format("setting '{}' has a bad value '{}'", key, value),
                     db.file().string());
}

// Whether the full-text table's tokenizer has rk's word layer (made by an rk that has it).
bool fts_splits_words(Database& db) {
    const auto fts = db.query_text("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'");
    return fts && fts->find("rk_words") != std::string::npos;
}

IndexError upgrade_error(const Database& db, std::int64_t from, const Error& e) {
    return IndexError(fmt::format("cannot upgrade the index from schema version {} to {} "
                                  "(rk needs write access to rk.db once): {}",
                                  from, kSchemaVersion, e.what()),
                      db.file().string());
}

}  // namespace

std::string fts_tokenize_arg(const std::string& tokenizer, bool split_words) {
    const std::string_view words =
        split_words ? "rk_words unicode61 remove_diacritics 2" : "unicode61 remove_diacritics 2";
    if (tokenizer == "porter") return fmt::format("porter {}", words);
    if (tokenizer == "unicode") return std::string(words);
    if (tokenizer == "trigram") return "trigram";
    if (tokenizer.starts_with("snowball:")) {
        const std::string language = tokenizer.substr(9);
        const auto known = text::snowball_languages();
        if (std::find(known.begin(), known.end(), language) != known.end()) {
            return fmt::format(
                "rk_snowball {} {}", language,
                split_words ? "rk_words unicode61 remove_diacritics 2" : "remove_diacritics 2");
        }
        throw UsageError(fmt::format("no Snowball stemmer for '{}' (there are: {})", language,
                                     fmt::join(known, ", ")));
    }
    throw UsageError(fmt::format(
        "unknown tokenizer '{}' (expected porter, unicode, trigram or snowball:LANGUAGE)",
        tokenizer));
}

void check_settings(const Settings& s) {
    (void)fts_tokenize_arg(s.tokenizer, s.split_words);
    embed::check_spec(s.embedder);
    if (s.chunk_size < 16 || s.chunk_size > 100000) {
        throw UsageError(fmt::format("chunk size {} is out of range 16..100000", s.chunk_size));
    }
    if (s.chunk_overlap < 0 || s.chunk_overlap >= s.chunk_size / 2) {
        throw UsageError(
            fmt::format("chunk overlap {} must be at least 0 and under half the "
                        "chunk size ({})",
                        s.chunk_overlap, s.chunk_size));
    }
}

void create_schema(Database& db, const Settings& settings) {
    check_settings(settings);
    Transaction tx(db);
    db.exec(kSchemaV1);
    db.exec(lexical::kPostingTables);
    db.exec(vector::kTables);
    db.exec(kVectorIndex);
    db.exec(fmt::format(
        "CREATE VIRTUAL TABLE chunks_fts USING fts5(title, heading, body, content='chunk_view', "
        "content_rowid='id', tokenize='{}')",
        fts_tokenize_arg(settings.tokenizer, settings.split_words)));
    set_fts_options(db);
    const auto embedder = make_embedder(settings.embedder);
    put_setting(db, "embedder", embedder ? embedder->spec() : settings.embedder);
    put_setting(db, "dimension", std::to_string(embedder ? embedder->dimension() : 0));
    put_setting(db, "tokenizer", settings.tokenizer);
    put_setting(db, "chunk_size", std::to_string(settings.chunk_size));
    put_setting(db, "chunk_overlap", std::to_string(settings.chunk_overlap));
    put_setting(db, "created", std::to_string(now_seconds()));
    put_setting(db, "created_by", fmt::format("rk {}", version()));
    db.exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion));
    tx.commit();
}

namespace {

// Writes BM25's postings again from the chunks' text, with the index's tokenizer.
void rebuild_postings(Database& db) {
    const auto tokenizer = db.query_text("SELECT value FROM settings WHERE key = 'tokenizer'");
    text::Tokenizer tok(db.handle(),
                        fts_tokenize_arg(tokenizer.value_or("porter"), fts_splits_words(db)));
    lexical::rebuild_postings(db, tok);
}

}  // namespace

bool migrate(Database& db) {
    const auto v = db.query_int("PRAGMA user_version").value_or(0);
    if (v == 0) {
        throw IndexError("not an rk index (no schema version)", db.file().string());
    }
    if (v > kSchemaVersion) {
        throw IndexError(fmt::format("index has schema version {}, newer than this rk "
                                     "understands ({}); upgrade rk",
                                     v, kSchemaVersion),
                         db.file().string());
    }
    if (v < 2) {
        // Each step runs in its own transaction; a reader that may not write cannot upgrade.
        try {
            Transaction tx(db);
            db.exec("ALTER TABLE chunks ADD COLUMN lex_len INTEGER NOT NULL DEFAULT 0");
            db.exec(lexical::kPostingTables);
            rebuild_postings(db);
            db.exec("PRAGMA user_version = 2");
            tx.commit();
        } catch (const Error& e) {
            throw upgrade_error(db, v, e);
        }
    }
    if (v < 3) {
        try {
            Transaction tx(db);
            db.exec(vector::kTables);
            db.exec(kVectorIndex);
            // Only the builtin embedder existed before version 3.
            const auto spec = db.query_text("SELECT value FROM settings WHERE key = 'embedder'");
            const auto embedding = vector::make_embedding(spec.value_or("builtin"), 0);
            if (!embedding) throw IndexError("an index of schema version 2 has no embedder 'none'");
            put_setting(db, "dimension", std::to_string(embedding->embedder().dimension()));
            vector::rebuild_vectors(db, *embedding);
            db.exec("PRAGMA user_version = 3");
            tx.commit();
        } catch (const Error& e) {
            throw upgrade_error(db, v, e);
        }
    }
    if (v < 4) {
        try {
            Transaction tx(db);
            auto spec = db.query_text("SELECT value FROM settings WHERE key = 'embedder'")
                            .value_or("builtin");
            // builtin:N named N int8 dimensions, and now names codes of N bits: the default of
            // 4096 bits is as good as any larger code.
            if (spec.starts_with("builtin:") && std::stoi(spec.substr(8)) >= 4096) spec = "builtin";
            const auto embedding = vector::make_embedding(spec, 0);
            if (embedding) {
                put_setting(db, "embedder", embedding->embedder().spec());
                put_setting(db, "dimension", std::to_string(embedding->embedder().dimension()));
                vector::rebuild_vectors(db, *embedding);
            }
            db.exec("PRAGMA user_version = 4");
            tx.commit();
        } catch (const std::exception& e) {
            throw upgrade_error(db, v, Error(e.what()));
        }
    }
    if (v < 5) {
        try {
            Transaction tx(db);
            db.exec(
                "DROP TABLE lex_postings; DROP TABLE lex_segments; DROP TABLE lex_dead; "
                "DROP TABLE lex_stats; DROP TABLE IF EXISTS lex_blocks; "
                "DROP TABLE IF EXISTS lex_dead_df;");
            db.exec(lexical::kPostingTables);
            rebuild_postings(db);
            set_fts_options(db);
            db.exec("PRAGMA user_version = 5");
            tx.commit();
        } catch (const std::exception& e) {
            throw upgrade_error(db, v, Error(e.what()));
        }
    }
    if (v < 6) {
        // Posting blocks became bit-packed columns: the lists are written again from the
        // chunks' text (the posting files follow, under a new tag), unless the step before
        // has just done so.
        try {
            Transaction tx(db);
            if (v == 5) rebuild_postings(db);
            db.exec("PRAGMA user_version = 6");
            tx.commit();
        } catch (const std::exception& e) {
            throw upgrade_error(db, v, Error(e.what()));
        }
    }
    return v < kSchemaVersion;
}

Settings load_settings(Database& db) {
    Settings s;
    int dimension = 0;
    auto st = db.prepare("SELECT key, value FROM settings");
    bool any = false;
    while (st.step()) {
        any = true;
        const std::string key = st.str(0), value = st.str(1);
        if (key == "embedder") {
            s.embedder = value;
        } else if (key == "tokenizer") {
            s.tokenizer = value;
        } else if (key == "chunk_size") {
            s.chunk_size = parse_int_setting(key, value, db);
        } else if (key == "chunk_overlap") {
            s.chunk_overlap = parse_int_setting(key, value, db);
        } else if (key == "dimension") {
            dimension = parse_int_setting(key, value, db);
        }
    }
    if (!any) throw IndexError("index has no settings", db.file().string());
    s.split_words = fts_splits_words(db);
    // The full-text table was built with the tokenizer of its creation; a settings row that
    // says otherwise would make queries tokenize differently from the index.
    const auto fts = db.query_text("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'");
    if (!fts) throw IndexError("index has no full-text table", db.file().string());
    try {
        if (fts->find(fmt::format("tokenize='{}'", fts_tokenize_arg(s.tokenizer, s.split_words))) ==
            std::string::npos) {
            throw IndexError(
                fmt::format("setting tokenizer={} disagrees with the full-text table", s.tokenizer),
                db.file().string());
        }
    } catch (const UsageError& e) {
        throw IndexError(e.what(), db.file().string());
    }
    try {
        check_settings(s);
    } catch (const UsageError& e) {
        throw IndexError(
            fmt::format("index was created with settings this rk cannot use: {}", e.what()),
            db.file().string());
    }
    // Vectors from one embedder mean nothing to another: the stored ones must have the size
    // the index's embedder and dimension give. (A model's own dimension is checked when it is
    // opened, which only what needs vectors does.)
    if (s.embedder == "none") return s;
    const int expected =
        embed::is_builtin(s.embedder) ? make_embedder(s.embedder)->dimension() : dimension;
    const auto stored = db.query_int("SELECT length(data) FROM vectors LIMIT 1");
    std::int64_t bytes = 0;
    try {
        bytes = static_cast<std::int64_t>(vector::layout(s.embedder, dimension).stored_size);
    } catch (const IndexError& e) {
        throw IndexError(e.what(), db.file().string());
    }
    if (dimension != expected || (stored && *stored != bytes)) {
        throw IndexError(
            fmt::format("the index's vectors ({} dimensions, {} bytes each) do not fit its "
                        "embedder '{}' ({} dimensions): it was built with another embedder or "
                        "by another version of rk",
                        dimension, stored.value_or(bytes), s.embedder, expected),
            db.file().string());
    }
    return s;
}

}  // namespace rk::store
