// inotify for `topo watch` (cli/watch_files.hpp): watches on each manifest's
// directory and its parents, set again when a directory on the way changes,
// and on /run/netns for deleted sandboxes.
#include "cli/watch_files.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "cli/session.hpp"

namespace topo::cli {

namespace fs = std::filesystem;

FileWatch::FileWatch(std::vector<std::string> paths, bool directory, const std::string& netns_dir)
    : paths_(std::move(paths)), directory_(directory), fd_(inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
    if (fd_ < 0) throw UserError(fmt::format("watch: inotify: {}", std::strerror(errno)));
    watch_manifests();
    netns_ = inotify_add_watch(fd_, netns_dir.c_str(), IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
}

FileWatch::~FileWatch() { ::close(fd_); }

// The manifests' directories and their parents (a directory swapped as a
// symbolic link shows there). Set again after every change of a directory on
// the way: a watch on a swapped directory follows the old one.
void FileWatch::watch_manifests() {
    for (auto& [wd, _] : dirs_) inotify_rm_watch(fd_, wd);  // each answers IN_IGNORED
    dirs_.clear();
    std::map<std::string, Dir> dirs;
    auto add = [&](const fs::path& p) {
        auto abs = fs::absolute(p).lexically_normal();
        dirs[abs.parent_path().string()].names.insert(abs.filename().string());
        auto& up = dirs[abs.parent_path().parent_path().string()];
        up.names.insert(abs.parent_path().filename().string());
        up.parent = true;
    };
    if (directory_) {
        auto dir = fs::absolute(paths_[0]).lexically_normal();
        dirs[dir.string()].manifests = true;
        add(dir / "");  // its parent: the directory's name
    } else {
        for (auto& f : paths_) add(f);
    }
    const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF |
                          IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR;
    for (auto& [path, what] : dirs) {
        int wd = inotify_add_watch(fd_, path.c_str(), mask);
        if (wd < 0) continue;
        auto& d = dirs_[wd];  // one directory can be both a manifest's and a parent
        d.names.insert(what.names.begin(), what.names.end());
        d.manifests |= what.manifests;
        d.parent |= what.parent;
    }
}

FileWatch::Seen FileWatch::read() {
    alignas(inotify_event) char buf[16384];
    Seen seen;
    bool rewatch = false;
    for (;;) {
        ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n;) {
            auto* ev = reinterpret_cast<inotify_event*>(buf + i);
            std::string name = ev->len ? ev->name : "";
            i += ssize_t(sizeof(inotify_event) + ev->len);
            if (ev->mask & IN_IGNORED) continue;  // a watch removed
            if (ev->wd == netns_) {
                if (!name.empty()) seen.sandboxes_gone.push_back(name);
                continue;
            }
            auto it = dirs_.find(ev->wd);
            if (it == dirs_.end()) continue;
            auto& d = it->second;
            bool named = d.names.count(name) > 0;
            bool yaml = d.manifests && (name.ends_with(".yaml") || name.ends_with(".yml"));
            bool self = ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF);
            seen.manifests |= named || yaml || self;
            rewatch |= self || (named && d.parent);
        }
    }
    if (rewatch) watch_manifests();
    return seen;
}

std::vector<std::string> manifests_in(const std::string& dir) {
    std::vector<std::string> found;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) {
        auto name = e.path().filename().string();
        auto ext = e.path().extension().string();
        if (!name.starts_with(".") && (ext == ".yaml" || ext == ".yml") && e.is_regular_file(ec))
            found.push_back(e.path().string());
    }
    std::sort(found.begin(), found.end());
    return found;
}

}  // namespace topo::cli
