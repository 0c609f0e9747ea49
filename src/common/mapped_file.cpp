#include "common/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace ward {
namespace {

Status open_error(const std::string& path, int err) {
    if (err == ENOENT || err == ENOTDIR) return not_found("no such file: \"{}\"", path);
    if (err == EACCES || err == EPERM) {
        return permission_denied("cannot read \"{}\": permission denied", path);
    }
    return internal_error("cannot open \"{}\": {}", path, std::strerror(err));
}

// Opens a regular file for reading; returns the descriptor and its size.
Result<std::pair<int, size_t>> open_regular(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return open_error(path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return open_error(path, err);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return invalid_argument("\"{}\" is not a regular file", path);
    }
    return std::make_pair(fd, static_cast<size_t>(st.st_size));
}

}  // namespace

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        if (data_ && size_) ::munmap(const_cast<uint8_t*>(data_), size_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        path_ = std::move(other.path_);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (data_ && size_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

Result<MappedFile> MappedFile::open(const std::string& path) {
    WARD_ASSIGN_OR_RETURN(auto fd_size, open_regular(path));
    auto [fd, size] = fd_size;
    MappedFile file;
    file.path_ = path;
    if (size == 0) {
        ::close(fd);
        return file;
    }
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) return internal_error("cannot map \"{}\": {}", path, std::strerror(err));
    file.data_ = static_cast<const uint8_t*>(p);
    file.size_ = size;
    return file;
}

void MappedFile::prefetch() const {
    if (data_ && size_) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_WILLNEED);
}

Result<std::string> read_file(const std::string& path) {
    WARD_ASSIGN_OR_RETURN(auto fd_size, open_regular(path));
    auto [fd, size] = fd_size;
    std::string out;
    out.resize(size);
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::read(fd, out.data() + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    out.resize(done);  // a file that shrank while read gives what was there
    return out;
}

Status write_file_atomic(const std::string& path, std::string_view contents) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) return internal_error("cannot write \"{}\": {}", tmp, std::strerror(errno));
    size_t n = std::fwrite(contents.data(), 1, contents.size(), f);
    bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    std::fclose(f);
    if (n != contents.size() || !flushed) {
        std::remove(tmp.c_str());
        return internal_error("cannot write \"{}\": {}", tmp, std::strerror(errno));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        return internal_error("cannot rename \"{}\" to \"{}\": {}", tmp, path,
                              std::strerror(errno));
    }
    return ok_status();
}

}  // namespace ward
