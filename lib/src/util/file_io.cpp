#include "util/file_io.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "rk/error.hpp"

namespace rk::util {

namespace {

constexpr std::size_t kBuffer = std::size_t{1} << 20;

std::string error_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

}  // namespace

FileWriter::FileWriter(const std::filesystem::path& file)
    : file_(file), fd_(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw IndexError(fmt::format("cannot write: {}", error_text(errno)), file_);
    buffer_.reserve(kBuffer);
}

FileWriter::~FileWriter() {
    if (fd_ >= 0) ::close(fd_);
}

void FileWriter::write(const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    if (buffer_.size() + n > kBuffer) flush();
    if (n >= kBuffer) {
        put(p, n);
    } else {
        buffer_.append(p, n);
    }
}

void FileWriter::pad_to(std::uint64_t offset) {
    const std::string zeros(offset - written(), '\0');
    write(zeros.data(), zeros.size());
}

void FileWriter::finish() {
    flush();
    const bool synced = ::fsync(fd_) == 0;
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (!synced) throw IndexError(fmt::format("cannot sync: {}", error_text(err)), file_);
}

void FileWriter::flush() {
    put(buffer_.data(), buffer_.size());
    buffer_.clear();
}

void FileWriter::put(const char* p, std::size_t n) {
    std::size_t at = 0;
    while (at < n) {
        const ssize_t w = ::write(fd_, p + at, n - at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            const int err = w < 0 ? errno : ENOSPC;
            throw IndexError(fmt::format("cannot write: {}", error_text(err)), file_);
        }
        at += static_cast<std::size_t>(w);
    }
    done_ += n;
}

void replace_file(const std::filesystem::path& tmp, const std::filesystem::path& file,
                  std::string_view what) {
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw IndexError(fmt::format("cannot replace {}: {}", what, ec.message()), file);
    }
    const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
}

MappedFile::MappedFile(const std::filesystem::path& file, Access access) : file_(file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IndexError(fmt::format("cannot read: {}", error_text(errno)), file_);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw IndexError(fmt::format("cannot read: {}", error_text(err)), file_);
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
        void* map = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
        const int err = errno;
        ::close(fd);  // the mapping keeps the file
        if (map == MAP_FAILED) {
            throw IndexError(fmt::format("cannot be mapped: {}", error_text(err)), file_);
        }
        if (access == Access::random) (void)::madvise(map, size_, MADV_RANDOM);
        data_ = static_cast<const unsigned char*>(map);
    } else {
        ::close(fd);
    }
}

MappedFile::~MappedFile() {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): munmap takes a non-const pointer
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
}

}  // namespace rk::util
