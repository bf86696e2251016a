// RAII over the SQLite C API: a connection, prepared statements, and transactions.
// Every failure becomes an rk::IndexError naming the database file.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rk::store {

class Database;

class Statement {
  public:
    Statement(Database& db, std::string_view sql);
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    Statement& bind(int i, std::string_view text);
    Statement& bind(int i, std::int64_t n);
    Statement& bind(int i, int n) { return bind(i, static_cast<std::int64_t>(n)); }
    Statement& bind(int i, double d);
    Statement& bind_null(int i);
    Statement& bind_blob(int i, std::string_view bytes);

    // Advances to the next row; false when there are no more.
    bool step();
    // Runs a statement that returns no rows and resets it for reuse.
    void run();
    void reset();

    [[nodiscard]] std::int64_t int64(int col) const;
    [[nodiscard]] double real(int col) const;
    [[nodiscard]] std::string_view text(int col) const;
    [[nodiscard]] std::string str(int col) const { return std::string(text(col)); }
    [[nodiscard]] std::string_view blob(int col) const;
    [[nodiscard]] bool is_null(int col) const;

  private:
    Database* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

class Database {
  public:
    // `immutable`: read-only, and SQLite told that nothing changes the file, so that it needs
    // no -wal or -shm file beside it (for an index in a directory this process cannot write).
    enum class Open { read_only, read_write, create, immutable };
    Database(const std::filesystem::path& file, Open how);
    Database(Database&&) = delete;
    Database& operator=(Database&&) = delete;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    void exec(std::string_view sql);
    Statement prepare(std::string_view sql) { return {*this, sql}; }
    // A statement prepared once per connection and kept, reset and unbound, for the hot paths
    // that run the same SQL query after query. Reset it when done, so that it holds no
    // snapshot; it must not be used again while in use.
    Statement& cached(std::string_view sql);
    // The first column of the first row, or nullopt when there is no row.
    std::optional<std::int64_t> query_int(std::string_view sql);
    std::optional<std::string> query_text(std::string_view sql);

    [[nodiscard]] std::int64_t last_insert_rowid() const;
    [[nodiscard]] std::int64_t changes() const;
    [[nodiscard]] sqlite3* handle() const noexcept { return db_; }
    [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }

    // Throws IndexError with SQLite's message for `rc` if it is an error code.
    void check(int rc, std::string_view doing) const;

  private:
    sqlite3* db_ = nullptr;
    std::filesystem::path file_;
    std::unordered_map<std::string, Statement> cache_;
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless commit() was called.
// Every commit counts itself in the index's settings table (key 'commits'): two connections
// whose read transactions see the same count read the same snapshot. (Debian's SQLite is built
// without sqlite3_snapshot_get(), which would say so directly.)
class Transaction {
  public:
    explicit Transaction(Database& db);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    void commit();

  private:
    Database& db_;
    bool done_ = false;
};

// One snapshot for a group of reads: a deferred BEGIN, ended on destruction. Nothing happens
// when a transaction is already open on the connection.
class ReadTransaction {
  public:
    explicit ReadTransaction(Database& db);
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;
    ~ReadTransaction();
    // Whether this began the transaction (false: it reads inside one already open, which may
    // have written what no other connection sees).
    [[nodiscard]] bool owned() const noexcept { return owned_; }

  private:
    Database& db_;
    bool owned_ = false;
};

// The number of commits made through Transaction, as the connection's snapshot sees it (0 for
// an index no such commit has written yet).
std::int64_t commit_count(Database& db);

}  // namespace rk::store
