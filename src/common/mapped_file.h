// A read-only memory-mapped file. Model weights stay in the page cache and are shared between
// processes; nothing is copied at load. An empty file maps to an empty span.
//
// Thread safety: a MappedFile is immutable after open(); readers on any thread may share it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/status.h"

namespace ward {

class MappedFile {
  public:
    MappedFile() = default;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    // Maps `path` read-only. Errors: kNotFound (missing), kPermissionDenied (unreadable),
    // kInvalidArgument (a directory or not a regular file), kInternal (mmap failed).
    static Result<MappedFile> open(const std::string& path);

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    const std::string& path() const { return path_; }

    // Hints the kernel to read the whole file ahead (MADV_WILLNEED); harmless if ignored.
    void prefetch() const;

  private:
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string path_;
};

// Reads a whole file into a string. Same errors as MappedFile::open.
Result<std::string> read_file(const std::string& path);
// Writes (replaces) a file atomically: a temporary beside it, then rename.
Status write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace ward
