// What `topo watch` says of its runs (cli/watch_report.hpp), after each one:
//   - a line on stdout, or a JSON object with --log-format json;
//   - <state-dir>/<project>.status.json: that object with the manifest's
//     files and checkout and the counts since the watch started, for `topo
//     status`; a watch started later reads its last change and last probe
//     back (restore);
//   - --metrics-file: the counts of every project watched, for Prometheus.
#include "cli/watch_report.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "cli/output.hpp"
#include "io/file.hpp"

namespace topo::cli {

namespace {

namespace fs = std::filesystem;

const char* to_string(Trigger t) {
    switch (t) {
        case Trigger::None: return "none";
        case Trigger::Drift: return "drift";
        case Trigger::Start: return "start";
        case Trigger::Interval: return "interval";
        case Trigger::Sighup: return "sighup";
        case Trigger::Manifest: return "manifest";
        case Trigger::Removed: return "removed";
    }
    return "?";
}

}  // namespace

WatchReport::WatchReport(const Options& o)
    : o_(o), started_(fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()))) {}

// One line (or JSON object) per run, and <state-dir>/<project>.status.json.
// result: applied, unchanged, invalid, failed; for a removed manifest, destroyed or kept.
void WatchReport::run(Watched& w, const Outcome& r, const std::vector<Watched>& all) const {
    const auto& [trigger, result, plan, error, took, quiet, probe] = r;  // in Outcome's order
    auto now = std::chrono::system_clock::now();
    auto time = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(now));
    nlohmann::json j{{"time", time},
                     {"project", w.name()},
                     {"trigger", to_string(trigger)},
                     {"changes", plan ? summary_json(*plan) : summary_json(Plan{})},
                     {"duration_ms", took.count()},
                     {"result", result}};
    if (!error.empty()) j["error"] = error;
    if (!probe.is_null()) j["probe"] = probe;
    ++w.runs[result];
    w.last_duration = took;
    if (plan && !plan->empty() && result == "applied") {
        w.last_change = {{"time", time}, {"trigger", to_string(trigger)}, {"changes", j["changes"]}};
        if (trigger == Trigger::Drift) ++w.drift_repairs;
    }
    if (probe.contains("broken")) w.probe_broken = probe["broken"].get<size_t>();
    if (!probe.is_null()) w.last_probe = probe, w.last_probe["time"] = time;
    // The status file: the run, and what `topo status` shows besides (the
    // log line stays the run alone).
    std::vector<std::string> files;
    for (auto& f : w.files) files.push_back(fs::absolute(f).lexically_normal().string());
    nlohmann::json manifest{{"files", files}};
    if (w.git) manifest.update({{"git_revision", w.git->revision}, {"modified", w.git->modified}});
    auto status = j;
    status["manifest"] = manifest;
    if (!w.last_change.is_null()) status["last_change"] = w.last_change;
    if (!w.last_probe.is_null()) status["probe"] = w.last_probe;
    status["drift_repairs"] = w.drift_repairs;
    status["runs"] = w.runs;
    status["watch_started"] = started_;
    write_metrics(all);
    if (w.session || !w.named.empty()) {
        try {
            StateDir(o_.state_dir).write_status(w.name(), status.dump(2) + "\n");
        } catch (const std::exception& e) {
            fmt::print(stderr, "topo: warning: {}\n", e.what());
        }
    }
    if (quiet && !o_.verbose) return;
    if (o_.log_json) {
        fmt::print("{}\n", j.dump());
    } else {
        static const std::map<std::string, std::string> said{
            {"unchanged", "no changes"}, {"invalid", "the manifest is not valid; nothing was changed"},
            {"kept", "left in place"}};
        std::string what = said.count(result) ? said.at(result) : result;
        if (plan && !plan->empty()) {
            auto done = done_line(*plan);
            what += " (" + done.substr(0, done.size() - 1) + ")";
        }
        if (probe.contains("broken"))
            what += fmt::format("; probe: {} probes, {} broken", probe["probes"].get<size_t>(), probe["broken"].get<size_t>());
        else if (probe.contains("error"))
            what += "; probe failed: " + probe["error"].get<std::string>();
        fmt::print("{} {} ({}): {} in {} ms{}\n", time, w.name(), to_string(trigger), what, took.count(),
                   error.empty() ? "" : "\n" + error);
        if (probe.contains("findings"))
            for (auto& f : probe["findings"])
                fmt::print("  ✘ {} → {}: {} ({}): expected to {}, got {}{}\n", f.value("from", "names in " + f.value("sandbox", "")),
                           f.value("to", ""), f.value("what", ""), f["table"].get<std::string>(),
                           f.value("expected", "") == "reach" ? "reach" : "be blocked", f.value("got", ""),
                           f["causes"].empty() ? "" : "; cause: " + f["causes"][0].get<std::string>());
    }
    if (plan && !plan->empty() && o_.verbose && !o_.log_json) fmt::print("{}", plan_text(*plan, false));
    std::fflush(stdout);
}

// --metrics-file: the Prometheus text format, for node_exporter's textfile
// collector; replaced whole (written beside, then renamed) after each run.
void WatchReport::write_metrics(const std::vector<Watched>& all) const {
    if (o_.metrics_file.empty()) return;
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    auto label = [](const std::string& v) {  // a label value, escaped
        std::string e;
        for (char c : v) e += c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '\n' ? "\\n" : std::string(1, c);
        return e;
    };
    family("topo_runs_total", "counter", "Reconcile runs since the watch started, by result.");
    for (auto& w : all)
        for (auto result : {"applied", "unchanged", "invalid", "failed"})
            out += fmt::format("topo_runs_total{{project=\"{}\",result=\"{}\"}} {}\n", label(w.name()), result,
                               w.runs.count(result) ? w.runs.at(result) : 0);
    family("topo_drift_repairs_total", "counter", "Runs for drift that changed something, since the watch started.");
    for (auto& w : all) out += fmt::format("topo_drift_repairs_total{{project=\"{}\"}} {}\n", label(w.name()), w.drift_repairs);
    family("topo_last_run_duration_seconds", "gauge", "How long the last run took.");
    for (auto& w : all)
        out += fmt::format("topo_last_run_duration_seconds{{project=\"{}\"}} {:.3f}\n", label(w.name()), w.last_duration.count() / 1000.0);
    family("topo_managed_objects", "gauge", "Kernel objects topo keeps for the project, as of the last run that converged.");
    for (auto& w : all) out += fmt::format("topo_managed_objects{{project=\"{}\"}} {}\n", label(w.name()), w.objects);
    family("topo_probe_broken", "gauge", "Promises the last probe found broken (watch --probe).");
    for (auto& w : all)
        if (w.probe_broken) out += fmt::format("topo_probe_broken{{project=\"{}\"}} {}\n", label(w.name()), *w.probe_broken);
    try {
        io::write_file_atomic(o_.metrics_file, out);
    } catch (const std::exception& e) {
        fmt::print(stderr, "topo: warning: --metrics-file: {}\n", e.what());
    }
}

// The last change and the last probe outlive a restart of the watch (a
// `--once` from cron is one each time), read back from the status file
// before the first run writes it.
void WatchReport::restore(Watched& w, const std::string& project) const {
    w.last_change = w.last_probe = nullptr;
    w.probe_broken.reset();
    try {
        if (auto before = StateDir(o_.state_dir).read_status(project)) {
            auto j = nlohmann::json::parse(*before);
            if (!j.is_object()) return;
            w.last_change = j.value("last_change", nlohmann::json());
            if (o_.probe) w.last_probe = j.value("probe", nlohmann::json());
            if (w.last_probe.is_object() && w.last_probe.contains("broken") && w.last_probe["broken"].is_number())
                w.probe_broken = w.last_probe["broken"].get<size_t>();
        }
    } catch (const std::exception&) {  // unreadable: none then
    }
}

}  // namespace topo::cli
