// The error family that crosses the library boundary. Every error says what went wrong
// and where (a file, a line, a byte, an index directory); `rk` maps them all to exit code 2.
#pragma once

#include <stdexcept>
#include <string>

namespace rk {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& what, std::string where = {})
        : std::runtime_error(what), where_(std::move(where)) {}
    // "path:line", "index /x/.rk", ... or empty when the place is the whole command.
    [[nodiscard]] const std::string& where() const noexcept { return where_; }
    // "where: what", the one line `rk` prints after "rk: error: ".
    [[nodiscard]] std::string message() const {
        return where_.empty() ? std::string(what()) : where_ + ": " + what();
    }

  private:
    std::string where_;
};

// Bad flags or arguments.
class UsageError : public Error {
  public:
    using Error::Error;
};

// Input that cannot be read or parsed: files, JSON, qrels, ...
class InputError : public Error {
  public:
    using Error::Error;
};

// The index directory is missing, unreadable, corrupt, of another version or settings.
class IndexError : public Error {
  public:
    using Error::Error;
};

// An embedding or reranking service refused, failed or could not be reached (after its
// retries); where() names the service's URL, never its key.
class ServiceError : public Error {
  public:
    using Error::Error;
};

// Another process holds the index's writer lock.
class LockError : public IndexError {
  public:
    using IndexError::IndexError;
};

}  // namespace rk
