// What `topo watch` keeps of each project (Watched), and what it says of its
// runs (WatchReport): a line or JSON object per run on stdout, the status
// file `topo status` reads, and the --metrics-file for Prometheus. The loop
// and the runs themselves are cmd_watch.cpp's.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "cli/program.hpp"
#include "cli/session.hpp"
#include "manifest/manifest.hpp"

namespace topo::cli {

// Why a run is due. A later reason replaces an earlier one of a lower rank:
// a manifest change outranks everything (the log says what was applied),
// drift is outranked by everything (a full run repairs it too).
enum class Trigger { None, Drift, Start, Interval, Sighup, Manifest, Removed };

inline int rank(Trigger t) {
    switch (t) {
        case Trigger::None: return 0;
        case Trigger::Drift: return 1;
        case Trigger::Start:
        case Trigger::Interval:
        case Trigger::Sighup: return 2;
        case Trigger::Manifest:
        case Trigger::Removed: return 3;
    }
    return 0;
}

// One project the watch keeps: its manifests and what it knows of the host.
struct Watched {
    using Clock = std::chrono::steady_clock;

    std::vector<std::string> files;
    std::optional<std::string> text;     // the manifests' content when last read
    // What the last read of it keeps for the next, which re-reads only the
    // services whose text changed (manifest/cache.hpp).
    std::shared_ptr<manifest::LoadCache> cache = manifest::load_cache();
    std::optional<Session> session;      // from the last manifest that loaded
    uint64_t load = 0;                   // the cache's read that made its project (manifest::load_id)
    std::optional<HostState> converged;  // the desired state of the last run that converged
    Addressing addressing;               // with `converged`: what it was worked out from
    DesiredContext context;
    Focus drifted;                       // what events named since; with `converged` only
    bool full = true;                    // the next run reads everything
    Trigger trigger = Trigger::None;     // None: no run due
    Clock::time_point due;
    // What the status file and the metrics say beside the last run (since the watch started).
    std::map<std::string, size_t> runs;   // by result
    size_t drift_repairs = 0;             // runs for drift that changed something
    nlohmann::json last_change;           // the last run that changed something: time, trigger, changes
    nlohmann::json last_probe;            // the last probe (--probe), with its time
    std::optional<GitFacts> git;          // the first manifest's checkout, when it is in one
    std::chrono::milliseconds last_duration{0};
    size_t objects = 0;                   // in the last converged state
    std::optional<size_t> probe_broken;   // the last probe's

    std::string named;                   // the project's name from `name:` when the manifest never loaded
    std::string name() const { return session ? session->project_name : !named.empty() ? named : files.front(); }

    // A manifest change settles (each one puts the run later); drift and
    // resyncs are not put off by more of the same.
    void want(Trigger why, Clock::time_point when, bool settle) {
        if (trigger == Trigger::None || settle || when < due) due = when;
        if (rank(why) > rank(trigger)) trigger = why;
    }
};

// How a run ended, as the report says it. Every member has an initializer,
// `{}` too: a run names only what it has ({.result = "kept", ...}), and
// -Wextra would warn of the members left out of one without.
struct Outcome {
    Trigger trigger = Trigger::None;
    // applied, unchanged, invalid, failed; for a removed manifest, destroyed or kept.
    std::string result{};
    const Plan* plan = nullptr;
    std::string error{};
    std::chrono::milliseconds took{0};
    bool quiet = false;              // logged only with --verbose (the kernel settling after a run)
    nlohmann::json probe = nullptr;  // watch --probe's, after a run that changed something
};

class WatchReport {
public:
    explicit WatchReport(const Options& o);
    // After each run of `w`: its line on stdout, its status file, and the
    // metrics of `all` (the projects watched, `w` among them).
    void run(Watched& w, const Outcome& r, const std::vector<Watched>& all) const;
    // The last change and the last probe, as `project`'s status file kept them.
    void restore(Watched& w, const std::string& project) const;

private:
    const Options& o_;
    const std::string started_;

    void write_metrics(const std::vector<Watched>& all) const;
};

}  // namespace topo::cli
