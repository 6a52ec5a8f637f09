// Files under /etc/netns (kernel/files.hpp): read, written by rename, linked
// and removed through their directory's descriptor, opened beneath the root
// without following a symbolic link, and directories marked as topo's.
#include "kernel/files.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dirent.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "io/file.hpp"
#include "kernel/kernel.hpp"

namespace topo::files {

namespace fs = std::filesystem;

namespace {

// The directory a managed file sits in (<root>/<dir>/<name>: a sandbox's,
// or the project's shared files'), opened beneath <root> without following
// a symbolic link: /etc/netns/shop-web pointed at /etc once made topo
// replace /etc/hosts, and destroy delete it. <root> itself is the admin's
// (a mount, perhaps) and is opened as it is.
struct Dir {
    int root = -1, fd = -1;  // root: cached, never closed (see root_fd)
    std::string name;        // the directory's name under root
    ~Dir() {
        if (fd >= 0) ::close(fd);
    }
};

// The roots (/etc/netns, or a test's) opened once per process: a no-op
// plan at 1000 sandboxes reads 2000 files, and an open and a close more for
// each cost it ~10 ms. -1 with errno set when the root cannot be opened.
int root_fd(const std::string& root) {
    static std::mutex lock;
    static std::map<std::string, int> open;
    std::lock_guard<std::mutex> hold(lock);
    if (auto it = open.find(root); it != open.end()) return it->second;
    int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) open.emplace(root, fd);
    return fd;
}

[[noreturn]] void refuse(const std::string& path, const std::string& dir, int err, int root = -1) {
    struct stat st {};
    if (root >= 0 && ::fstatat(root, fs::path(dir).filename().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
        err = ELOOP;
    if (err == ELOOP || err == EXDEV)
        throw KernelError(fmt::format("file {}: {} is a symbolic link; topo never follows one under its directories: "
                                      "remove it (it is not topo's)",
                                      path, dir));
    if (err == ENOTDIR)
        throw KernelError(fmt::format("file {}: {} is not a directory; remove it (it is not topo's)", path, dir));
    throw KernelError(fmt::format("file {}: open {}: {}", path, dir, std::strerror(err)));
}

const std::string& temp_suffix() {
    static const std::string suffix = io::temp_path_for("");
    return suffix;
}

// Whether the directory open at `fd` holds anything but topo's temporary files.
bool holds_others(int fd) {
    int copy = ::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // its own offset: readdir moves it
    DIR* d = copy >= 0 ? ::fdopendir(copy) : nullptr;
    if (!d) {
        if (copy >= 0) ::close(copy);
        return true;  // unreadable: taken to hold something
    }
    bool others = false;
    while (auto* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name != "." && name != ".." && !name.ends_with(temp_suffix())) others = true;
    }
    ::closedir(d);
    return others;
}

// Marks the directory open at `fd` as `owner`'s unless it is marked already
// (XATTR_CREATE: one call either way). A file system without extended
// attributes, or one that will not let this process set a trusted one (an
// overlay in a user namespace), cannot carry the mark: the directory is then
// judged by what it holds (read.cpp).
void mark(int fd, const std::string& path, const std::string& owner) {
    if (::fsetxattr(fd, dir_marker, owner.data(), owner.size(), XATTR_CREATE) == 0 || errno == EEXIST ||
        errno == ENOTSUP || errno == EPERM)
        return;
    throw KernelError(fmt::format("file {}: mark its directory ({}): {}", path, dir_marker, std::strerror(errno)));
}

// nullptr: the directory is not there (and `create` was not asked for).
// Created, it is marked as `owner`'s.
std::unique_ptr<Dir> open_dir(const std::string& path, bool create, const std::string& owner = {}) {
    auto parent = fs::path(path).parent_path();
    auto d = std::make_unique<Dir>();
    d->name = parent.filename().string();
    d->root = root_fd(parent.parent_path().string());
    if (d->root < 0) {
        if (errno == ENOENT && !create) return nullptr;
        if (errno != ENOENT) refuse(path, parent.parent_path().string(), errno);
        std::error_code ec;
        fs::create_directories(parent.parent_path(), ec);
        if (ec) throw KernelError(fmt::format("file {}: mkdir: {}", path, ec.message()));
        d->root = root_fd(parent.parent_path().string());
        if (d->root < 0) refuse(path, parent.parent_path().string(), errno);
    }
    if (create && ::mkdirat(d->root, d->name.c_str(), 0755) != 0 && errno != EEXIST)
        throw KernelError(fmt::format("file {}: mkdir: {}", path, std::strerror(errno)));
    open_how how{};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    d->fd = int(::syscall(SYS_openat2, d->root, d->name.c_str(), &how, sizeof how));
    if (d->fd < 0) {
        if (errno == ENOENT && !create) return nullptr;
        refuse(path, parent.string(), errno, d->root);
    }
    if (create) mark(d->fd, path, owner);
    return d;
}

std::string base(const std::string& path) { return fs::path(path).filename().string(); }
std::string temp_name(const std::string& path) { return io::temp_path_for(base(path)); }

}  // namespace

// readlink first: most of the files a plan reads are links (hosts and
// resolv.conf into the project's shared files), one call each; a regular
// file costs one more (readlink's EINVAL), and O_NOFOLLOW keeps its open
// from following a link put there in between.
std::optional<Entry> read_entry(const std::string& path) {
    auto dir = open_dir(path, false);
    if (!dir) return std::nullopt;
    auto name = base(path);
    for (int attempt = 0; attempt < 2; ++attempt) {  // again if it changed kind between the two calls
        char target[4096];
        ssize_t n = ::readlinkat(dir->fd, name.c_str(), target, sizeof target);
        if (n > 0 && size_t(n) < sizeof target) return Entry{"", std::string(target, size_t(n))};
        if (n >= 0 || errno != EINVAL) return std::nullopt;  // not there, or a link too long for a hosts file
        int fd = ::openat(dir->fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd >= 0) {
            struct stat st {};
            if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {  // a FIFO or a device is not a hosts file
                ::close(fd);
                return Entry{"\x01(not a regular file)", ""};
            }
            return Entry{io::read_fd(fd), ""};
        }
        if (errno != ELOOP) return std::nullopt;
    }
    return std::nullopt;
}

// Put `make(dir, tmp)`'s result in place of the file by rename, within the directory.
template <class Make>
void replace_with(const std::string& path, const std::string& owner, Make&& make) {
    auto dir = open_dir(path, true, owner);
    auto tmp = temp_name(path);
    ::unlinkat(dir->fd, tmp.c_str(), 0);  // left by a run killed while writing it
    make(dir->fd, tmp);
    if (::renameat(dir->fd, tmp.c_str(), dir->fd, base(path).c_str()) != 0) {
        int err = errno;
        ::unlinkat(dir->fd, tmp.c_str(), 0);
        throw KernelError(fmt::format("file {}: rename: {}", path, std::strerror(err)));
    }
}

void write_atomic(const std::string& path, const Text& content, const std::string& owner) {
    if (auto old = read_entry(path); old && old->link.empty() && content == old->content) return;
    // Not synced: after a power loss a torn or empty file lacks the marker or
    // differs from the manifest, and the next apply writes it again.
    replace_with(path, owner, [&](int dir, const std::string& tmp) {
        int fd = ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) throw KernelError(fmt::format("file {}: create: {}", path, std::strerror(errno)));
        auto text = content.str();
        for (size_t off = 0; off < text.size();) {
            ssize_t n = ::write(fd, text.data() + off, text.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                int err = errno;
                ::close(fd);
                ::unlinkat(dir, tmp.c_str(), 0);
                throw KernelError(fmt::format("file {}: write: {}", path, std::strerror(err)));
            }
            off += size_t(n);
        }
        ::close(fd);
    });
}

void link_atomic(const std::string& path, const std::string& target, const std::string& owner) {
    if (auto old = read_entry(path); old && old->link == target) return;
    replace_with(path, owner, [&](int dir, const std::string& tmp) {
        if (::symlinkat(target.c_str(), dir, tmp.c_str()) != 0)
            throw KernelError(fmt::format("file {}: symlink: {}", path, std::strerror(errno)));
    });
}

void remove(const std::string& path) {
    auto dir = open_dir(path, false);
    if (!dir) return;
    if (::unlinkat(dir->fd, base(path).c_str(), 0) != 0 && errno != ENOENT)
        throw KernelError(fmt::format("file {}: remove: {}", path, std::strerror(errno)));
    ::unlinkat(dir->fd, temp_name(path).c_str(), 0);  // left by a run killed while writing it
    ::unlinkat(dir->root, dir->name.c_str(), AT_REMOVEDIR);  // when it is empty now (a user's file keeps it)
}

DirInfo inspect_dir(const std::string& dir) {
    DirInfo info;
    auto d = std::make_unique<Dir>();
    auto p = fs::path(dir);
    d->name = p.filename().string();
    d->root = root_fd(p.parent_path().string());
    if (d->root < 0) return info;
    open_how how{};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    d->fd = int(::syscall(SYS_openat2, d->root, d->name.c_str(), &how, sizeof how));
    if (d->fd < 0) {
        info.exists = errno != ENOENT;
        info.symlink = info.exists;
        return info;
    }
    info.exists = true;
    char value[256];
    ssize_t n = ::fgetxattr(d->fd, dir_marker, value, sizeof value);
    if (n > 0) info.marker.assign(value, size_t(n));
    info.others = holds_others(d->fd);
    return info;
}

}  // namespace topo::files
