#include "kernel/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>

#include "kernel/kernel.hpp"
#include "state/store.hpp"

namespace topo::files {

namespace fs = std::filesystem;

namespace {

// open, fstat, one read: a no-op plan reads every sandbox's two files, and
// ifstream into a stringstream cost three times as much. The string has one
// byte more than the file: a read that does not fill it has reached the end,
// without a second read to be told so.
std::optional<std::string> read_fd(int fd) {
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

void make_parent(const std::string& path) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) throw KernelError(fmt::format("file {}: mkdir: {}", path, ec.message()));
}

}  // namespace

std::optional<std::string> read(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    return read_fd(fd);
}

// readlink first: most of the files a plan reads are links (hosts and
// resolv.conf into the project's shared files), one call each; a regular
// file costs one more (readlink's EINVAL), and O_NOFOLLOW keeps its open
// from following a link put there in between.
std::optional<Entry> read_entry(const std::string& path) {
    for (int attempt = 0; attempt < 2; ++attempt) {  // again if it changed kind between the two calls
        char target[4096];
        ssize_t n = ::readlink(path.c_str(), target, sizeof target);
        if (n > 0 && size_t(n) < sizeof target) return Entry{"", std::string(target, size_t(n))};
        if (n >= 0 || errno != EINVAL) return std::nullopt;  // not there, or a link too long for a hosts file
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            auto content = read_fd(fd);
            if (!content) return std::nullopt;
            return Entry{std::move(*content), ""};
        }
        if (errno != ELOOP) return std::nullopt;
    }
    return std::nullopt;
}

void write_atomic(const std::string& path, const Text& content) {
    if (auto old = read_entry(path); old && old->link.empty() && content == old->content) return;
    make_parent(path);
    try {
        // Not synced: after a power loss a torn or empty file lacks the marker or
        // differs from the manifest, and the next apply writes it again.
        write_file_atomic(path, content.str(), Durability::Replaceable);
    } catch (const std::exception& e) {
        throw KernelError(fmt::format("file {}: {}", path, e.what()));
    }
}

void link_atomic(const std::string& path, const std::string& target) {
    if (auto old = read_entry(path); old && old->link == target) return;
    make_parent(path);
    auto tmp = temp_path_for(path);
    ::unlink(tmp.c_str());  // left by a run killed while writing it
    if (::symlink(target.c_str(), tmp.c_str()) != 0)
        throw KernelError(fmt::format("file {}: symlink: {}", path, std::strerror(errno)));
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw KernelError(fmt::format("file {}: rename: {}", path, std::strerror(err)));
    }
}

void remove(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        throw KernelError(fmt::format("file {}: remove: {}", path, std::strerror(errno)));
    ::unlink(temp_path_for(path).c_str());  // left by a run killed while writing it
    auto dir = fs::path(path).parent_path();
    std::error_code ec;
    if (fs::is_empty(dir, ec)) fs::remove(dir, ec);
}

}  // namespace topo::files
