// `topo status [-p NAME]`: what `topo watch` last wrote for each project it
// keeps (<state-dir>/<project>.status.json; docs/cli.md, "Watch") — the last
// run, the last change, the drift it repaired, the manifest's git revision
// and the last probe — read back for a person, or as JSON.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "cli/commands_impl.hpp"
#include "manifest/manifest.hpp"

namespace topo::cli {

namespace {

std::string changes_said(const nlohmann::json& c) {
    auto n = [&](const char* k) { return c.value(k, 0); };
    return fmt::format("{} added, {} changed, {} destroyed", n("create") + n("replace"), n("update"), n("delete"));
}

std::string status_text(const nlohmann::json& j) {
    if (!j.is_object()) throw std::runtime_error("not a JSON object");
    std::string out = fmt::format("{}: {} at {} ({}) in {} ms", j.value("project", "?"), j.value("result", "?"),
                                  j.value("time", "?"), j.value("trigger", "?"), j.value("duration_ms", 0));
    if (j.contains("error")) out += "\n  error: " + j["error"].get<std::string>();
    if (j.contains("last_change"))
        out += fmt::format("\n  last change: {} ({}): {}", j["last_change"].value("time", "?"),
                           j["last_change"].value("trigger", "?"), changes_said(j["last_change"].value("changes", nlohmann::json::object())));
    else
        out += "\n  last change: none since the watch started";
    out += fmt::format("\n  drift repaired: {} time{} since {}", j.value("drift_repairs", 0),
                       j.value("drift_repairs", 0) == 1 ? "" : "s", j.value("watch_started", "?"));
    if (j.contains("runs")) {
        std::vector<std::string> runs;
        for (auto& [result, n] : j["runs"].items()) runs.push_back(fmt::format("{} {}", n.get<size_t>(), result));
        out += fmt::format("\n  runs: {}", fmt::join(runs, ", "));
    }
    if (j.contains("manifest")) {
        auto& m = j["manifest"];
        std::vector<std::string> files = m.value("files", std::vector<std::string>{});
        out += fmt::format("\n  manifest: {}", fmt::join(files, ", "));
        if (m.contains("git_revision"))
            out += fmt::format(" at git {}{}", m["git_revision"].get<std::string>().substr(0, 12),
                               m.value("modified", false) ? " (modified since)" : "");
    }
    if (j.contains("probe")) {
        auto& p = j["probe"];
        if (p.contains("error")) out += "\n  probe: failed: " + p["error"].get<std::string>();
        else out += fmt::format("\n  probe: {} probes, {} broken", p.value("probes", 0), p.value("broken", 0));
    }
    return out + "\n";
}

}  // namespace

int cmd_status(const Options& o) {
    StateDir state(o.state_dir);
    std::vector<std::string> names;
    if (!o.project.empty()) {
        if (!manifest::valid_project(o.project))
            throw UserError(fmt::format("--project {}: not a valid project name", o.project));
        names.push_back(o.project);
    } else {
        names = state.watched();
    }
    nlohmann::json all = nlohmann::json::array();
    std::vector<std::string> texts;
    for (auto& name : names) {
        auto text = state.read_status(name);
        if (!text) {
            throw UserError(fmt::format("no status for project {} in {}: `topo watch` writes one with each run of it",
                                        name, o.state_dir));
        }
        // A file damaged, or of another version, is said, not half-read.
        try {
            auto j = nlohmann::json::parse(*text);
            texts.push_back(status_text(j));
            all.push_back(std::move(j));
        } catch (const std::exception& e) {
            throw UserError(fmt::format("{}/{}.status.json is not a status topo can read ({}); the next run of the watch "
                                        "rewrites it", o.state_dir, name, e.what()));
        }
    }
    if (o.format == Format::Json) {
        fmt::print("{}\n", (o.project.empty() ? all : all.front()).dump(2));
        return 0;
    }
    if (all.empty()) fmt::print("No project is watched here yet (no status files in {}).\n", o.state_dir);
    for (auto& t : texts) fmt::print("{}", t);
    return 0;
}

}  // namespace topo::cli
