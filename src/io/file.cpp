// Whole reads and atomic writes of plain files (io/file.hpp).
#include "io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace topo::io {

namespace {

std::string err(const char* what, const std::string& path) {
    return fmt::format("{} {}: {}", what, path, std::strerror(errno));
}

}  // namespace

// fstat, then one read: the string has one byte more than the file, so a
// read that does not fill it has reached the end without a second read to
// be told so (a no-op plan reads every sandbox's two files).
std::string read_fd(int fd) {
    struct stat st {};
    std::string out((::fstat(fd, &st) == 0 && st.st_size > 0 ? size_t(st.st_size) : 0) + 1, '\0');
    size_t off = 0;
    char more[4096];
    for (;;) {  // into the string while it has room, then (a file that grew) through `more`
        bool room = off < out.size();
        ssize_t n = room ? ::read(fd, out.data() + off, out.size() - off) : ::read(fd, more, sizeof more);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!room) out.append(more, size_t(n));
        off += size_t(n);
        if (room && off < out.size() && S_ISREG(st.st_mode)) break;  // a short read of a regular file: its end
    }
    ::close(fd);
    out.resize(off);
    return out;
}

std::optional<std::string> read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    return read_fd(fd);
}

std::string temp_path_for(const std::string& path) { return path + ".topo-tmp"; }

void write_file_atomic(const std::string& path, const std::string& content, Durability durability) {
    bool sync = durability == Durability::Synced;
    auto dir = std::filesystem::path(path).parent_path().string();
    // A fixed name (the project lock admits one writer): a run killed mid-write
    // leaves this one file, which the next write overwrites and removal deletes.
    auto tmp = temp_path_for(path);
    // Made afresh: what a killed run left there may be a symbolic link, which
    // opening would follow into another file.
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) throw FileError(err("cannot create", tmp));
    size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ::close(fd);
            ::unlink(tmp.c_str());
            throw FileError(err("cannot write", tmp));
        }
        off += size_t(n);
    }
    if ((sync && ::fsync(fd) != 0) || ::close(fd) != 0) {
        ::unlink(tmp.c_str());
        throw FileError(err("cannot sync", tmp));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        throw FileError(err("cannot rename to", path));
    }
    if (!sync) return;
    if (int d = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
        ::fsync(d);
        ::close(d);
    }
}

}  // namespace topo::io
