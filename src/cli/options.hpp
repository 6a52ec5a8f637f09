// Options shared by every command (docs/cli.md, "Commands").
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace topo::manifest {
struct LoadCache;
}

namespace topo::cli {

enum class Format { Text, Json, Markdown };

struct Options {
    std::vector<std::string> files;  // -f, repeatable
    std::string project;             // -p
    std::string host;                // --host
    std::vector<std::string> env_files;  // --env-file: instead of the project's .env
    std::vector<std::string> profiles;   // --profile: Compose profiles to activate
    std::vector<std::string> scale;      // --scale SERVICE=N: replicas for this run
    std::string state_dir = "/var/lib/topo";
    Format format = Format::Text;
    bool color = true;
    bool verbose = false;
    bool quiet = false;  // -q: no progress line
    std::chrono::milliseconds lock_timeout{30000};
    // command-specific
    bool list_services = false;    // config --services: the names alone
    std::string out;               // plan --out
    std::string base;              // plan --base: the old manifest (a file, -, git:REV[:PATH])
    std::string saved_plan;        // apply PLAN
    std::vector<std::string> services;  // plan/apply -f F SERVICE...: a targeted run
    bool detailed_exitcode = false;
    bool dry_run = false;
    bool auto_approve = false;
    bool collect = false;              // destroy --collect: by markers, with no state record
    bool force = false;                // apply/destroy --force: remove a bridge others are attached to
    bool take_ports = false;           // plan/apply --take-ports: publish ports host programs listen on
    int kill_signal = 0;               // apply/destroy --kill[=SIGNAL]: end the leaving sandboxes' programs first
    std::chrono::milliseconds kill_timeout{10000};  // apply/destroy --timeout: before SIGKILL (`docker compose down -t`)
    bool watching = false;             // watch: nobody to take --kill; the advice on programs left says so
    std::string service;               // exec
    std::vector<std::string> command;  // exec: after --
    bool log_json = false;             // --log-format json
    std::string graph_format = "dot";  // graph --format
    std::chrono::milliseconds probe_timeout{1000};  // probe --timeout: for each attempt
    // watch
    std::chrono::milliseconds interval{60000};
    std::chrono::milliseconds debounce{200};
    bool prune = false;
    bool probe = false;          // watch --probe: a probe after each run that changed something
    bool once = false;           // watch --once: one run of each project, then exit 0, 2 or 1
    std::string metrics_file;    // watch --metrics-file: Prometheus text format, after each run
    bool named_by_file = false;  // a project per file of a watched directory
    // watch: what the last read of the manifest kept for this one
    // (manifest::load), which re-reads only the services that changed.
    std::shared_ptr<manifest::LoadCache> manifest_cache = nullptr;
    bool every_host = false;     // graph: draws every host of `hosts`, so needs no --host
};

}  // namespace topo::cli
