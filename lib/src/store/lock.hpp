// One writer at a time: an advisory lock on `DIR/lock`, held for the writer's lifetime.
// Readers never take it; SQLite's WAL lets them read while the writer works.
#pragma once

#include <filesystem>

namespace rk::store {

class WriterLock {
  public:
    // Waits up to `wait_ms` for another writer to finish, then throws LockError.
    WriterLock(const std::filesystem::path& file, int wait_ms);
    WriterLock(WriterLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    WriterLock& operator=(WriterLock&&) = delete;
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;
    ~WriterLock();

  private:
    int fd_ = -1;
};

}  // namespace rk::store
