#include "store/lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>

#include "rk/error.hpp"

namespace rk::store {

namespace {

std::string read_holder(int fd) {
    char buf[64] = {};
    const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return {};
    std::string s(buf, static_cast<std::size_t>(n));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

WriterLock::WriterLock(const std::filesystem::path& file, int wait_ms) {
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        throw IndexError(fmt::format("cannot open lock file: {}",
                                     std::error_code(errno, std::generic_category()).message()),
                         file.string());
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            const int err = errno;
            ::close(fd_);
            throw IndexError(fmt::format("cannot lock: {}",
                                         std::error_code(err, std::generic_category()).message()),
                             file.string());
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            const std::string holder = read_holder(fd_);
            ::close(fd_);
            throw LockError(
                holder.empty()
                    ? std::string("another rk process is writing to this index; try again later")
                    : fmt::format("another rk process (pid {}) is writing to this index; "
                                  "try again later",
                                  holder),
                file.parent_path().string());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    // Only to make the "who holds it" message useful; the flock is what excludes.
    const std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd_, 0) == 0) {
        [[maybe_unused]] const ssize_t n = ::pwrite(fd_, pid.data(), pid.size(), 0);
    }
}

WriterLock::~WriterLock() {
    if (fd_ >= 0) {
        if (::ftruncate(fd_, 0) != 0) {
            // Nothing to do: the content is advisory and the lock goes with close().
        }
        ::close(fd_);
    }
}

}  // namespace rk::store
