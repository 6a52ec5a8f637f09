// The state directory (state/store.hpp): records saved and loaded, the
// project's and the host's locks, the watch's status file.
#include "state/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "io/file.hpp"
#include "state/serialize.hpp"

namespace topo {

namespace fs = std::filesystem;

static std::string err(const char* what, const std::string& path) {
    return fmt::format("{} {}: {}", what, path, std::strerror(errno));
}

namespace {

// io's errors, as the state's: they name the state directory's file either way.
void write_atomic(const std::string& path, const std::string& content, io::Durability durability = io::Durability::Synced) {
    try {
        io::write_file_atomic(path, content, durability);
    } catch (const io::FileError& e) {
        throw StateError(e.what());
    }
}

}  // namespace

StateDir::Lock::~Lock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

std::string StateDir::file(const std::string& project, const char* suffix) const {
    return fmt::format("{}/{}{}", path_, project, suffix);
}

void StateDir::ensure() const {
    std::error_code ec;
    fs::create_directories(path_, ec);
    if (ec) throw StateError(fmt::format("cannot create state directory {}: {}", path_, ec.message()));
}

StateDir::Lock StateDir::lock(const std::string& project, std::chrono::milliseconds timeout) {
    return take(file(project, ".lock"), fmt::format("project {}", project), timeout);
}

StateDir::Lock StateDir::lock_host(std::chrono::milliseconds timeout) {
    return take(file("_host", ".lock"), "this host's address pools", timeout);
}

StateDir::Lock StateDir::take(const std::string& path, const std::string& what, std::chrono::milliseconds timeout) {
    ensure();
    // Not through a symbolic link: one put there would have topo create or
    // open a file anywhere.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == ELOOP)
        throw StateError(fmt::format("{} is a symbolic link; topo never follows one in its state directory: remove it",
                                     path));
    if (fd < 0) throw StateError(err("cannot open lock", path));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            ::close(fd);
            throw StateError(err("cannot lock", path));
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ::close(fd);
            throw StateError(fmt::format(
                "{} is locked by another topo run ({}); waited {} ms — wait for it to "
                "finish or raise --lock-timeout",
                what, path, timeout.count()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Lock(fd);
}

namespace {

// The last record this process read or wrote, per path, with the identity of
// the file it was in: `topo watch` asks for its record every run (at N=1000,
// parsing it was 4-9 ms of a 75 ms run). A rename over the file (any writer's
// atomic replace) or an edit in place changes the identity and it is read again.
struct Identity {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const Identity&) const = default;
};
struct Remembered {
    Identity id;
    std::string text;
    ProjectRecord record;
};
std::map<std::string, Remembered> remembered;

std::optional<Identity> identity(const std::string& path) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return Identity{st.st_dev, st.st_ino, st.st_size, int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

}  // namespace

std::optional<ProjectRecord> StateDir::load(const std::string& project) const {
    auto path = file(project, ".json");
    auto id = identity(path);
    if (auto it = remembered.find(path); it != remembered.end() && id && it->second.id == *id) return it->second.record;
    remembered.erase(path);
    auto text = io::read_file(path);
    if (!text) {
        if (errno == ENOENT) return std::nullopt;
        throw StateError(err("cannot read", path));
    }
    try {
        auto r = record_from_text(*text);
        if (id && identity(path) == id) remembered[path] = {*id, std::move(*text), r};
        return r;
    } catch (const std::exception& e) {
        throw DamagedRecord(fmt::format(
            "state file {} is damaged ({}); run `topo recover --project {}` to rebuild it from what "
            "the kernel holds (the damaged file is kept as {}.damaged)",
            path, e.what(), project, path));
    }
}

bool StateDir::remembers(const std::string& project) const {
    auto path = file(project, ".json");
    auto it = remembered.find(path);
    return it != remembered.end() && identity(path) == it->second.id;
}

void StateDir::save(const ProjectRecord& r) const {
    ensure();
    auto path = file(r.project, ".json");
    // A record that says this already is on disk: no write and no fsync (a
    // changed port, or `watch` repairing drift, keeps every allocation).
    // Known from the remembered record, it is not even serialised (~4 ms at N=1000).
    auto it = remembered.find(path);
    bool known = it != remembered.end() && identity(path) == it->second.id;
    if (known && it->second.record == r) return;
    nlohmann::json j{{"format_version", 1},
                     {"project", r.project},
                     {"manifests", r.manifests},
                     {"host", r.host},
                     {"addressing", addressing_to_json(r.addressing)}};
    // Compact: read by every run, and at 5,000 endpoints indentation was half
    // the file and of the time it took to read (`jq .` shows it indented).
    auto text = j.dump() + "\n";
    if (known ? it->second.text == text : io::read_file(path) == text) return;
    remembered.erase(path);
    write_atomic(path, text);
    if (auto id = identity(path)) remembered[path] = {*id, std::move(text), r};
}

std::string StateDir::set_aside(const std::string& project) const {
    auto from = record_path(project), to = from + ".damaged";
    for (int i = 1; fs::exists(to); ++i) to = fmt::format("{}.damaged.{}", from, i);
    if (::rename(from.c_str(), to.c_str()) != 0) throw StateError(err("cannot rename to", to));
    return to;
}

void StateDir::remove(const std::string& project) const {
    for (auto* suffix : {".json", ".status.json"}) {
        ::unlink(file(project, suffix).c_str());
        ::unlink(io::temp_path_for(file(project, suffix)).c_str());  // left by a run killed while saving
    }
}

std::vector<std::string> StateDir::projects() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(path_, ec)) {
        auto name = e.path().filename().string();
        if (name.ends_with(".json") && !name.ends_with(".status.json"))
            out.push_back(name.substr(0, name.size() - 5));
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<ProjectRecord> StateDir::others(const std::string& project) const {
    std::vector<ProjectRecord> out;
    for (auto& p : projects()) {
        if (p == project) continue;
        try {
            if (auto r = load(p)) out.push_back(*r);
        } catch (const StateError&) {
        }
    }
    return out;
}

void StateDir::write_status(const std::string& project, const std::string& json) const {
    ensure();
    write_atomic(file(project, ".status.json"), json, io::Durability::Replaceable);
}

std::optional<std::string> StateDir::read_status(const std::string& project) const {
    return io::read_file(file(project, ".status.json"));
}

std::vector<std::string> StateDir::watched() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(path_, ec)) {
        auto name = e.path().filename().string();
        if (name.ends_with(".status.json")) out.push_back(name.substr(0, name.size() - 12));
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace topo
