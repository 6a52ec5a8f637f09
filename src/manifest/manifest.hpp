// Reading a manifest: YAML text → a validated Project.
//
// This is the only code that sees yaml-cpp. Every problem is collected with its
// file:line:col and key path, and all are reported at once: a manifest with any
// error yields no Project.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "manifest/yaml.hpp"
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "model/project.hpp"

namespace topo::manifest {

struct Error {
    SourceMark mark;
    std::string path;     // key path: services.web.ports[1]
    std::string message;  // what is wrong, then the fix: "...; use ..."
    // "net.yaml:12:7: services.web.ports[1]: published port 99999 is out of range (1-65535)"
    std::string str() const;
};

class ManifestError : public std::runtime_error {
public:
    explicit ManifestError(std::vector<Error> errors);
    const std::vector<Error>& errors() const { return errors_; }

private:
    std::vector<Error> errors_;
};

struct LoadOptions {
    std::optional<std::string> project;  // --project: overrides `name`
    std::string project_from = "--project";  // what set `project`, for its error
    // Without `name`, the project is named after the file (its stem) rather
    // than its directory: `topo watch DIR` makes each file there a project.
    bool named_by_file = false;
    // The variables values are interpolated with (manifest/interpolate.hpp):
    // when set, these alone (the unit tests'); else the process's
    // environment over the `.env` file in the project's directory (the
    // first file's), or over `env_files` (--env-file) when given instead.
    std::optional<std::map<std::string, std::string>> variables = std::nullopt;
    std::vector<std::string> env_files = {};
    // Compose profiles: a service with `profiles` is left out unless one of
    // them is active (these, and COMPOSE_PROFILES's) or it is named here
    // (`topo apply -f F SERVICE`), as in Compose.
    std::vector<std::string> profiles = {};
    std::vector<std::string> named_services = {};
    // --scale SERVICE=N: replicas for this run, over the manifest's.
    std::map<std::string, int> scale = {};
    // Where the project's files (manifests, includes, extends' files, env
    // files) are read from instead of the file system: `plan --base
    // git:REV:PATH` reads the old project as it was at REV. Given a path
    // (absolute, or "-"), it fills `text` or says the problem and returns
    // false; a missing .env is a problem it is not asked about.
    std::function<bool(const std::string& path, std::string& text, std::string& problem)> source = nullptr;
};


// Parse and validate one manifest given as text (the unit tests' entry point).
// `filename` names the file in messages and gives the default project name
// (its directory, normalized like Compose). Throws ManifestError.
Project parse(std::string_view text, const std::string& filename, const LoadOptions& opts = {});

// A project name topo accepts ([a-z0-9][a-z0-9_-]*, at most 32 characters):
// it names state files, lock files and kernel objects.
bool valid_project(const std::string& s);

// Without -f, the files `docker compose` would read: COMPOSE_FILE's (from
// the environment, or the working directory's .env or `env_files`; split at
// COMPOSE_PATH_SEPARATOR, ':' by default), or the first of compose.yaml, compose.yml, docker-compose.yaml,
// docker-compose.yml in the working directory or its nearest parent that
// has one, with its override file (compose.override.yaml, …) after it.
// Empty when there is none.
std::vector<std::string> discover_files(const std::vector<std::string>& env_files = {});

// The files read and merged as load() reads them (interpolated, merged,
// profiles applied), before anything is validated: what `topo config` prints.
// Throws ManifestError for what stops the reading itself.
yaml::Node resolve(const std::vector<std::string>& files, const LoadOptions& opts = {});

// A regular file's text, or standard input's for "-" (up to one byte past
// max_bytes); false with the problem said (a directory, a FIFO, ...). With
// `devices_too`, a character device is read too (`--env-file /dev/null`).
bool read_manifest(const std::string& path, std::string& text, std::string& problem, bool devices_too = false);

// What a watch keeps of a manifest between runs (manifest/cache.hpp): a
// change to a few services re-reads those. One per manifest, from load_cache().
struct LoadCache;
std::shared_ptr<LoadCache> load_cache();
// The services' entries the cache's last read parsed afresh or found gone;
// nothing when it read the file whole.
std::optional<std::set<std::string>> touched(const LoadCache& cache);
// Which read of the cache made a project (0: none it keeps anything of),
// and that project given back once its user is done with it: a read's
// project is then the one before, patched (manifest/cache.hpp). A project
// the cache cannot use is freed.
uint64_t load_id(const LoadCache& cache);
void give_back(LoadCache& cache, Project&& project, uint64_t id);
// After a read the cache has no project to patch from (a whole read: there
// was none before it), a copy of that read's project, made while the watch
// waits, so that the next read patches it too. Nothing otherwise.
void keep_copy(LoadCache& cache, const Project& project, uint64_t id);

// Read, merge (later files override earlier ones, Compose merge rules), validate.
// "-" is standard input; anything else must be a regular file. With `cache`,
// what this read can be compared with the next time (and what the last left).
Project load(const std::vector<std::string>& files, const LoadOptions& opts = {}, LoadCache* cache = nullptr);

}  // namespace topo::manifest
