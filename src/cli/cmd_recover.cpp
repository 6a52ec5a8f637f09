// recover: rebuild a project's state record from the markers of what the kernel holds.
#include <fmt/format.h>

#include <filesystem>

#include "cli/commands_impl.hpp"
#include "reconcile/desired.hpp"
#include "reconcile/recover.hpp"

namespace topo::cli {

int cmd_recover(const Options& o) {
    auto s = Session::open(o, false);
    auto lock = s.state.lock(s.project_name, o.lock_timeout);
    // What the record says still counts where the kernel holds nothing (an address
    // handed out to a sandbox that is not there now); a damaged record is set aside.
    std::optional<ProjectRecord> old;
    std::string damaged;
    try {
        old = s.record();
    } catch (const DamagedRecord&) {
        damaged = s.state.set_aside(s.project_name);
    }
    auto live = recover_addressing(s.read_live(), s.project_name, s.project ? &*s.project : nullptr);
    if (live.networks.empty() && live.endpoints.empty() && !old)
        throw UserError(fmt::format("finds nothing of project {} on this host to rebuild its record from{}",
                                    s.project_name, damaged.empty() ? "" : fmt::format(
                                        "; the damaged record is kept as {}", damaged)));
    ProjectRecord r = old.value_or(ProjectRecord{s.project_name, {}, s.host, {}});
    r.addressing = overlay(std::move(r.addressing), live);
    if (s.project) {
        r.manifests.clear();
        for (auto& f : o.files) r.manifests.push_back(std::filesystem::absolute(f).string());
        r.host = s.host;
    }
    s.state.save(r);
    fmt::print("Recovered the record of project {} from the kernel: {} network(s), {} endpoint(s), "
               "{} ephemeral port(s); saved to {}\n",
               s.project_name, live.networks.size(), live.endpoints.size(), live.ephemeral_ports.size(),
               s.state.record_path(s.project_name));
    if (!damaged.empty()) fmt::print("The damaged record is kept as {}\n", damaged);
    if (!s.project && live.ephemeral_ports.empty())
        fmt::print("note: ports published without a host port are recovered only with -f FILE\n");
    return 0;
}

}  // namespace topo::cli
