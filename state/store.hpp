// The state directory (default /var/lib/topo): what topo must remember between
// runs, one project per file.
//
//   <project>.json         allocations (subnets, addresses, ephemeral ports) and
//                          the manifest it came from; written atomically
//                          (temporary file, fsync, rename, fsync the directory)
//   <project>.lock         flock(2) held for the whole of a run on the project
//   _host.lock             flock(2) held by runs that allocate (apply, watch)
//   <project>.status.json  the last reconcile's outcome (watch)
//
// The kernel's markers, not this directory, say which objects are topo's; the
// state only keeps choices that must not change (an address once handed out).
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "model/addressing.hpp"

namespace topo {

class StateError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A record that is there but cannot be parsed (not one that cannot be read).
class DamagedRecord : public StateError {
public:
    using StateError::StateError;
};

struct ProjectRecord {
    std::string project;
    std::vector<std::string> manifests;  // absolute paths, as given last
    std::string host;
    Addressing addressing;
    bool operator==(const ProjectRecord&) const = default;
};
// A record's text, as StateDir::save writes it (state/record.cpp). Throws
// std::runtime_error when it is not one.
ProjectRecord record_from_text(const std::string& text);


class StateDir {
public:
    explicit StateDir(std::string path) : path_(std::move(path)) {}
    const std::string& path() const { return path_; }

    // Exclusive lock of one project, held until the object is destroyed.
    class Lock {
    public:
        explicit Lock(int fd) : fd_(fd) {}
        Lock(Lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
        Lock(const Lock&) = delete;
        Lock& operator=(Lock&& o) noexcept {
            std::swap(fd_, o.fd_);  // o's destructor releases what this held
            return *this;
        }
        ~Lock();

    private:
        int fd_;
    };
    // Waits up to `timeout`; throws StateError naming the lock file when it is held.
    Lock lock(const std::string& project, std::chrono::milliseconds timeout);
    // The host's address pools and ports (`_host.lock`), taken after the
    // project's by every run that allocates: two projects applied at once
    // would otherwise both take the first free subnet of the default pools,
    // each reading the other's record before it was written.
    Lock lock_host(std::chrono::milliseconds timeout);

    std::optional<ProjectRecord> load(const std::string& project) const;  // throws StateError
    // Whether the record on disk is the one this process last saved or
    // loaded (its file's identity is unchanged): what it said is still so.
    bool remembers(const std::string& project) const;
    std::string record_path(const std::string& project) const { return file(project, ".json"); }
    // Renames a damaged record to <project>.json.damaged (.damaged.1, … if taken); returns the new path.
    std::string set_aside(const std::string& project) const;
    void save(const ProjectRecord& r) const;
    void remove(const std::string& project) const;
    std::vector<std::string> projects() const;
    std::vector<ProjectRecord> others(const std::string& project) const;  // unreadable ones skipped
    // What `topo watch` last did (<project>.status.json): rewritten by every
    // run and read by people, so not synced. A crash may lose the last one;
    // an fsync of it and its directory (3-8 ms) delayed every watch log line.
    void write_status(const std::string& project, const std::string& json) const;
    std::optional<std::string> read_status(const std::string& project) const;  // nullopt: no watch wrote one
    std::vector<std::string> watched() const;  // the projects with a status file, sorted

private:
    Lock take(const std::string& path, const std::string& what, std::chrono::milliseconds timeout);
    std::string path_;
    std::string file(const std::string& project, const char* suffix) const;
    void ensure() const;
};

}  // namespace topo
