// Files rk writes whole and replaces atomically (vectors.hnsw, the posting files), and files it
// maps read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace rk::util {

// Writes a file through a 1 MiB buffer, synced by finish(). A failure throws IndexError
// naming the file (with the system's reason) and leaves the caller to remove it.
class FileWriter {
  public:
    explicit FileWriter(const std::filesystem::path& file);
    ~FileWriter();
    FileWriter(const FileWriter&) = delete;
    FileWriter& operator=(const FileWriter&) = delete;

    void write(const void* data, std::size_t n);
    void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
    // Zeros up to `offset` bytes from the start.
    void pad_to(std::uint64_t offset);
    [[nodiscard]] std::uint64_t written() const { return done_ + buffer_.size(); }
    void finish();

  private:
    void flush();
    void put(const char* p, std::size_t n);

    std::filesystem::path file_;
    int fd_;
    std::string buffer_;
    std::uint64_t done_ = 0;
};

// Renames `tmp` over `file` and syncs the directory, so that a reader sees the old file or
// the new one and the new one survives a crash. On failure removes `tmp` and throws
// IndexError naming `file`; `what` names the file for the message ("the vector graph").
void replace_file(const std::filesystem::path& tmp, const std::filesystem::path& file,
                  std::string_view what);

// A file mapped read-only, whole; unmapped on destruction. The bytes may change under the map
// only if someone rewrites the file in place, which rk never does (it renames new files in).
class MappedFile {
  public:
    // How the file will be read: `random` for scattered small reads, where the kernel's
    // read-around (mapping the pages around each fault) would only cost time and memory.
    enum class Access { normal, random };
    // Throws IndexError naming the file when it cannot be opened or mapped.
    explicit MappedFile(const std::filesystem::path& file, Access access = Access::normal);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    [[nodiscard]] const unsigned char* data() const { return data_; }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] const std::filesystem::path& path() const { return file_; }

  private:
    std::filesystem::path file_;
    const unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace rk::util
