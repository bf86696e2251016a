// An index directory: rk.db (SQLite, the source of truth) and the files derived from it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rk {

// Settings are fixed when an index is created and checked every time it is opened.
struct Settings {
    std::string embedder = "builtin";
    // "snowball:english" (English stemming with Snowball's Porter2, the default), "porter"
    // (the original Porter stemmer, FTS5's own), "unicode" (no stemming), "trigram" or
    // "snowball:LANGUAGE".
    std::string tokenizer = "snowball:english";
    // Whether words go through rk's own layer after unicode61's splitting: a camelCase word
    // is also indexed and searched as its parts ("parseConfig" found by "config"), a run of
    // Chinese, Japanese or Korean characters as its overlapping pairs, and other non-ASCII
    // words NFKC-casefolded ("GROSSE" finds "große"). Always so for a new index; false for one
    // made before rk had the layer, which keeps its tokens. Not used by "trigram".
    bool split_words = true;
    // Chunk size and overlap, counted in tokens (whitespace-separated words). 512/64 ranked
    // best or tied among 128..1024 on the shared datasets with BM25 (see rk-ingest(1)).
    int chunk_size = 512;
    int chunk_overlap = 64;

    bool operator==(const Settings&) const = default;
};

// Where an index lives and why it was chosen (--index, RK_INDEX, a .rk/ above, or XDG).
struct IndexLocation {
    enum class From { flag, env, found, fallback };
    std::filesystem::path dir;
    From from = From::fallback;
};

// Resolves the index directory as DESIGN.md says: the flag, else $RK_INDEX, else the
// nearest `.rk/` in `cwd` or a parent, else ${XDG_DATA_HOME:-~/.local/share}/rk/default.
IndexLocation resolve_index(const std::optional<std::filesystem::path>& flag,
                            const std::filesystem::path& cwd = std::filesystem::current_path());

struct DocumentInfo {
    std::string id;          // the user-visible id: a record's id, or a file's absolute path
    std::string source;      // the file it was read from; empty for standard input
    std::string collection;  // "default" unless --collection said otherwise
    std::string title;
    std::string meta;  // a JSON object
    std::string hash;  // content hash (XXH3-128, hex)
    std::int64_t bytes = 0;
    std::int64_t chunks = 0;
    std::int64_t updated = 0;  // unix seconds
};

struct Chunk {
    std::int64_t seq = 0;             // 0-based position in its document
    std::string heading;              // the Markdown heading path, "A > B", or empty
    std::int64_t start = 0, end = 0;  // byte range in the document's text
    std::int64_t tokens = 0;
    std::string text;
};

struct Document {
    DocumentInfo info;
    std::string text;
    std::vector<Chunk> chunks;
    bool one_chunk = false;  // looked up as "ID#SEQ": `chunks` holds that chunk, `text` its text
};

struct ListFilter {
    std::optional<std::string> collection;
    std::optional<std::string> glob;  // matched against id and source path
};

struct Stats {
    std::int64_t documents = 0, chunks = 0, text_bytes = 0;
    std::vector<std::pair<std::string, std::int64_t>> collections;  // name, documents
    std::int64_t db_bytes = 0, wal_bytes = 0;
    int schema_version = 0;
    Settings settings;
    std::int64_t created = 0, updated = 0;  // unix seconds; updated is 0 if never written
    // rk's BM25 postings: segments written and not yet merged, and removed chunks whose
    // entries are still in them (`rk index optimize` merges both away); the size of their
    // copies in postings/, which queries read.
    std::int64_t posting_segments = 0, dead_chunks = 0, posting_file_bytes = 0;
    // The vectors (one per chunk), their dimension (0 without vectors), what one takes in
    // rk.db, and vectors.hnsw's size on disk.
    std::int64_t vectors = 0, dimension = 0, vector_bytes = 0, graph_bytes = 0;
};

struct Health {
    bool ok = true;
    std::vector<std::string> problems;
    // What could not be checked, and why (an index this process may only read).
    std::vector<std::string> unchecked;
};

class Index;
// The index's stats as one JSON object: what `rk stats --json` prints and the servers return.
std::string stats_json(const Index& index);

class Index {
  public:
    enum class Mode { read, write };

    // Creates a new index at `dir` (which must not hold one yet).
    static Index create(const std::filesystem::path& dir, const Settings& settings);
    // Opens an existing index; throws IndexError if there is none or it cannot be used.
    // A writer takes the directory's lock, waiting up to `lock_wait_ms` for another writer.
    static Index open(const std::filesystem::path& dir, Mode mode, int lock_wait_ms = 3000);
    // Opens the index at `dir` for writing, creating it with `settings` if absent.
    static Index open_or_create(const std::filesystem::path& dir, const Settings& settings,
                                bool* created = nullptr);

    Index(Index&&) noexcept;
    Index& operator=(Index&&) noexcept;
    ~Index();

    [[nodiscard]] const std::filesystem::path& dir() const noexcept;
    [[nodiscard]] const Settings& settings() const noexcept;
    [[nodiscard]] Mode mode() const noexcept;
    // Where notes go (a derived file rebuilt, say); they are dropped until this is called.
    void set_notes(std::function<void(const std::string&)> sink);

    // Looks a document up by id, by the path it was read from, or by "ID#SEQ" for one chunk
    // (then `chunks` holds just that chunk and `text` is the chunk's text). The id or path may
    // be written as rk prints it (escape_id in rk/ids.hpp); one that exists as written wins.
    [[nodiscard]] std::optional<Document> get(std::string_view id_or_path) const;
    [[nodiscard]] std::vector<DocumentInfo> list(const ListFilter& filter = {}) const;
    // Removes documents matching any selector and, when `collection` is set, every document
    // of it. A selector names documents as get() does (by id or path, as written or as rk
    // prints it); one that names none and holds glob characters is a glob over ids and
    // paths. Returns the ids removed.
    std::vector<std::string> remove(const std::vector<std::string>& selectors,
                                    const std::optional<std::string>& collection);
    [[nodiscard]] Stats stats() const;
    // Checks SQLite's integrity, FTS5's, that documents and chunks agree, the postings and
    // the vectors against the text, and vectors.hnsw against the stored vectors.
    [[nodiscard]] Health verify() const;
    // Rebuilds the full-text index, the postings and the vector graph from the stored chunks,
    // and the vectors of the builtin embedder (which cost little). A model's or a service's
    // vectors are kept, unless `reembed`: then every chunk is embedded again (throws
    // ServiceError when a service fails; nothing is changed then).
    void rebuild(bool reembed = false);
    // Merges the full-text index's segments and the postings, rebuilds the vector graph if
    // removals left dead nodes in it, and compacts the database file.
    void optimize();

    struct Impl;
    Impl& impl() noexcept { return *impl_; }
    [[nodiscard]] const Impl& impl() const noexcept { return *impl_; }

  private:
    explicit Index(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace rk
