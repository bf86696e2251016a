#include "store/sqlite.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstring>

#include "lexical/fts_functions.hpp"
#include "rk/error.hpp"
#include "text/snowball.hpp"
#include "text/words.hpp"

namespace rk::store {

namespace {

// `file` as a URI ("file:/a/b%3Fc.db"), its bytes outside the unreserved set and '/'
// percent-encoded.
std::string file_uri(const std::filesystem::path& file) {
    std::string out = "file:";
    for (const char c : file.string()) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) != 0 || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += fmt::format("%{:02X}", u);
        }
    }
    return out;
}

// SQLite's message, with the operating system's reason for an I/O error ("disk I/O error
// (File too large)"), which SQLite's own message leaves out.
std::string error_message(sqlite3* db) {
    std::string msg = sqlite3_errmsg(db);
    const int code = sqlite3_extended_errcode(db) & 0xff;
    const int os = sqlite3_system_errno(db);
    if ((code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN) && os != 0) {
        msg += fmt::format(" ({})", std::strerror(os));  // NOLINT(concurrency-mt-unsafe)
    }
    return msg;
}

}  // namespace

Database::Database(const std::filesystem::path& file, Open how) : file_(file) {
    int flags = SQLITE_OPEN_NOMUTEX;
    switch (how) {
        case Open::read_only:
            flags |= SQLITE_OPEN_READONLY;
            break;
        case Open::read_write:
            flags |= SQLITE_OPEN_READWRITE;
            break;
        case Open::create:
            flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
            break;
        case Open::immutable:
            flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
            break;
    }
    const std::string name =
        how == Open::immutable ? file_uri(file) + "?immutable=1" : file.string();
    const int rc = sqlite3_open_v2(name.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? error_message(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw IndexError(fmt::format("cannot open database: {}", msg), file.string());
    }
    sqlite3_extended_result_codes(db_, 1);
    // Tokenizers and functions of our own must exist before any statement touches a table
    // that uses one.
    for (const auto& [code, what] :
         {std::pair{text::register_words(db_), "the identifier tokenizer"},
          std::pair{text::register_snowball(db_), "the snowball tokenizer"},
          std::pair{lexical::register_fts_functions(db_), "rk's FTS5 functions"}}) {
        if (code != SQLITE_OK) {
            sqlite3_close(db_);
            db_ = nullptr;
            throw IndexError(fmt::format("cannot register {}: {}", what, sqlite3_errstr(code)),
                             file.string());
        }
    }
    // Readers and the writer wait for each other's short critical sections instead of failing.
    sqlite3_busy_timeout(db_, 5000);
}

Database::~Database() {
    cache_.clear();
    sqlite3_close_v2(db_);
}

Statement& Database::cached(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it == cache_.end()) {
        it = cache_.try_emplace(std::string(sql), *this, sql).first;
    } else {
        it->second.reset();
    }
    return it->second;
}

void Database::check(int rc, std::string_view doing) const {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
    throw IndexError(fmt::format("{}: {}", doing, error_message(db_)), file_.string());
}

void Database::exec(std::string_view sql) {
    char* err = nullptr;
    const std::string s(sql);
    const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        // (The same message as sqlite3_errmsg(), which error_message() extends.)
        sqlite3_free(err);
        const std::string msg = error_message(db_);
        throw IndexError(msg, file_.string());
    }
}

std::optional<std::int64_t> Database::query_int(std::string_view sql) {
    Statement st(*this, sql);
    if (!st.step() || st.is_null(0)) return std::nullopt;
    return st.int64(0);
}

std::optional<std::string> Database::query_text(std::string_view sql) {
    Statement st(*this, sql);
    if (!st.step() || st.is_null(0)) return std::nullopt;
    return st.str(0);
}

std::int64_t Database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(db_);
}
std::int64_t Database::changes() const {
    return sqlite3_changes64(db_);
}

Statement::Statement(Database& db, std::string_view sql) : db_(&db) {
    const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    db.check(rc, "prepare");
}

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
}

Statement::~Statement() {
    sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int i, std::string_view text) {
    db_->check(
        sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
        "bind");
    return *this;
}
Statement& Statement::bind(int i, std::int64_t n) {
    db_->check(sqlite3_bind_int64(stmt_, i, n), "bind");
    return *this;
}
Statement& Statement::bind(int i, double d) {
    db_->check(sqlite3_bind_double(stmt_, i, d), "bind");
    return *this;
}
Statement& Statement::bind_blob(int i, std::string_view bytes) {
    db_->check(sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT), "bind");
    return *this;
}
Statement& Statement::bind_null(int i) {
    db_->check(sqlite3_bind_null(stmt_, i), "bind");
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const std::string msg = error_message(db_->handle());
    sqlite3_reset(stmt_);
    throw IndexError(msg, db_->file().string());
}

void Statement::run() {
    while (step()) {
    }
    reset();
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::int64(int col) const {
    return sqlite3_column_int64(stmt_, col);
}
double Statement::real(int col) const {
    return sqlite3_column_double(stmt_, col);
}
std::string_view Statement::text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr) return {};
    return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)};
}
std::string_view Statement::blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr) return {};
    return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}
bool Statement::is_null(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

Transaction::Transaction(Database& db) : db_(db) {
    db_.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
    if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    db_.cached(
           "INSERT INTO settings(key, value) VALUES('commits', 1) "
           "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        .run();
    db_.exec("COMMIT");
    done_ = true;
}

ReadTransaction::ReadTransaction(Database& db) : db_(db) {
    if (sqlite3_get_autocommit(db_.handle()) != 0) {
        db_.exec("BEGIN");
        owned_ = true;
    }
}

ReadTransaction::~ReadTransaction() {
    if (owned_) sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr);
}

std::int64_t commit_count(Database& db) {
    auto& st = db.cached("SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'commits'");
    const std::int64_t n = st.step() ? st.int64(0) : 0;
    st.reset();
    return n;
}

}  // namespace rk::store
