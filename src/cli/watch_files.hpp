// What `topo watch` hears from the file system (inotify): its manifests
// changing, however they are replaced, and sandboxes deleted under
// /run/netns. Which manifests changed is not said here: the watch compares
// their content, since an editor's rename-over, `git pull` and a swapped
// symbolic link look different to inotify.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace topo::cli {

class FileWatch {
public:
    // `paths`: manifest files, or one directory of them (`directory`).
    // `netns_dir`: where named namespaces live (Machine::netns_dir).
    FileWatch(std::vector<std::string> paths, bool directory, const std::string& netns_dir);  // throws UserError
    ~FileWatch();
    FileWatch(const FileWatch&) = delete;
    FileWatch& operator=(const FileWatch&) = delete;

    int fd() const { return fd_; }  // to poll for input

    struct Seen {
        bool manifests = false;                 // a manifest, or a directory on the way, changed
        std::vector<std::string> sandboxes_gone;  // names removed from /run/netns
    };
    Seen read();  // everything queued, without waiting

private:
    // A watched directory: the names in it that matter (a manifest; a
    // directory on the way to one), or any *.yaml / *.yml (a watched DIR).
    struct Dir {
        std::set<std::string> names;
        bool manifests = false;
        bool parent = false;  // a name in it is a directory: set the watches again
    };
    std::vector<std::string> paths_;
    bool directory_;
    int fd_ = -1;
    int netns_ = -1;
    std::map<int, Dir> dirs_;

    void watch_manifests();
};

// The manifests of a watched directory: its *.yaml and *.yml files, sorted.
std::vector<std::string> manifests_in(const std::string& dir);

}  // namespace topo::cli
