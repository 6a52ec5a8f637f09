// Named network namespaces made and removed as `ip netns add/del` does
// (kernel/netns.hpp), and the processes that hold one.
#include "kernel/netns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fmt/format.h>

#include "kernel/nl.hpp"

namespace topo::netns {

namespace {
constexpr long nsfs_magic = 0x6e736673;
std::string path_of(const std::string& name) { return fmt::format("{}/{}", run_dir, name); }
}  // namespace

void ensure_run_dir() {
    if (::mkdir(run_dir, 0755) != 0 && errno != EEXIST) nl::fail_errno("netns dir /run/netns", "mkdir");
    // Make it a shared mount point; if it is not a mount point yet, bind it onto itself first.
    for (bool bound = false;; bound = true) {
        if (::mount("", run_dir, "none", MS_SHARED | MS_REC, nullptr) == 0) return;
        if (errno != EINVAL || bound) nl::fail_errno("netns dir /run/netns", "make shared mount");
        if (::mount(run_dir, run_dir, "none", MS_BIND | MS_REC, nullptr) != 0)
            nl::fail_errno("netns dir /run/netns", "bind mount");
    }
}

bool is_residue(const std::string& name) {
    struct statfs fs {};
    if (::statfs(path_of(name).c_str(), &fs) != 0) return false;
    return fs.f_type != nsfs_magic;
}

void create(const std::string& name, const std::function<void()>& setup_inside) {
    ensure_run_dir();
    auto what = "netns " + name;
    auto path = path_of(name);
    int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0 && errno == EEXIST && is_residue(name)) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) nl::fail_errno(what, "create");
    ::close(fd);
    int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) nl::fail_errno(what, "open own namespace");
    auto back = [&] {
        ::setns(self, CLONE_NEWNET);
        ::close(self);
    };
    if (::unshare(CLONE_NEWNET) != 0) {
        ::close(self);
        ::unlink(path.c_str());
        nl::fail_errno(what, "unshare");
    }
    try {
        setup_inside();
    } catch (...) {
        back();
        ::unlink(path.c_str());
        throw;
    }
    if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
        int e = errno;
        back();
        ::unlink(path.c_str());
        errno = e;
        nl::fail_errno(what, "bind mount");
    }
    back();
}

void remove(const std::string& name) {
    auto path = path_of(name);
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
        nl::fail_errno("netns " + name, "unmount");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) nl::fail_errno("netns " + name, "remove");
}

std::vector<std::string> list() {
    std::vector<std::string> out;
    DIR* d = ::opendir(run_dir);
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    return out;
}

ino_t inode(const std::string& name) {
    struct stat st {};
    if (::stat(path_of(name).c_str(), &st) != 0 || is_residue(name)) return 0;
    return st.st_ino;
}

namespace {
// A process's command line, its arguments joined by spaces, at most 120 bytes
// (its name in brackets when it has none, as ps shows a kernel thread).
std::string command_of(const std::string& dir) {
    char buf[121];
    int fd = ::open((dir + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : ::read(fd, buf, sizeof buf - 1);
    if (fd >= 0) ::close(fd);
    if (n <= 0) {
        fd = ::open((dir + "/comm").c_str(), O_RDONLY | O_CLOEXEC);
        n = fd < 0 ? -1 : ::read(fd, buf, sizeof buf - 1);
        if (fd >= 0) ::close(fd);
        if (n <= 0) return "?";
        std::string comm(buf, size_t(n));
        if (comm.ends_with('\n')) comm.pop_back();
        return "[" + comm + "]";
    }
    std::string out(buf, size_t(n));
    while (!out.empty() && out.back() == '\0') out.pop_back();
    for (auto& c : out)
        if (c == '\0') c = ' ';
    return out;
}
}  // namespace

std::multimap<ino_t, Process> processes_by_netns(const std::function<bool(ino_t)>& named) {
    std::multimap<ino_t, Process> out;
    DIR* d = ::opendir("/proc");
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end) continue;
        std::string dir = fmt::format("/proc/{}", pid);
        struct stat st {};
        if (::stat((dir + "/ns/net").c_str(), &st) != 0) continue;  // gone, or a kernel thread
        out.emplace(st.st_ino, Process{int(pid), named && named(st.st_ino) ? command_of(dir) : "", uint64_t(st.st_ino)});
    }
    ::closedir(d);
    return out;
}

int open_fd(const std::string& name) { return ::open(path_of(name).c_str(), O_RDONLY | O_CLOEXEC); }

Enter::Enter(int target_fd) {
    self_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self_ < 0) nl::fail_errno("netns", "open own namespace");
    if (::setns(target_fd, CLONE_NEWNET) != 0) {
        ::close(self_);
        nl::fail_errno("netns", "enter");
    }
}

Enter::~Enter() {
    ::setns(self_, CLONE_NEWNET);
    ::close(self_);
}

}  // namespace topo::netns
