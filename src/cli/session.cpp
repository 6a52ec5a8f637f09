// The setup every project command shares (cli/session.hpp): load the manifest,
// name the project, open the state directory, take the locks, and give
// reconcile::compute the record, the host's facts and the other projects'.
#include "cli/session.hpp"
#include "cli/output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "io/file.hpp"
#include "manifest/manifest.hpp"
#include "model/trace.hpp"

namespace topo::cli {

namespace {

// Which host of the manifest's `hosts` this is: --host, else the one whose
// address is this host's own (as a tunnel endpoint must be).
std::string pick_host(const Project& p, const std::string& flag, bool every_host, Kernel& kernel) {
    if (!flag.empty()) {
        if (!p.hosts.empty() && !p.hosts.count(flag))
            throw UserError(fmt::format("--host {}: no such host in the manifest's hosts", flag));
        return flag;
    }
    // With `hosts`, this is the one whose address is local, even when there
    // is one: a host dropped from the list must not take another's part.
    if (p.hosts.empty() || every_host) return "";
    auto local = kernel.local_addresses();
    std::vector<std::string> mine, looked;
    for (auto& [name, h] : p.hosts) {
        looked.push_back(fmt::format("{} ({})", h.address.str(), name));
        if (std::find(local.begin(), local.end(), h.address) != local.end()) mine.push_back(name);
    }
    if (mine.size() == 1) return mine.front();
    if (mine.empty())
        throw UserError(fmt::format("no address of the manifest's hosts is this host's: looked for {}; run on one of "
                                    "them, or say which host this is with --host NAME",
                                    fmt::join(looked, ", ")));
    throw UserError(fmt::format("hosts {} {} addresses of this host; say which one this is with --host NAME",
                                fmt::join(mine, " and "), mine.size() == 2 ? "both have" : "all have"));
}

}  // namespace

std::vector<std::string> manifest_files(const Options& o) {
    auto files = o.files.empty() ? manifest::discover_files(o.env_files) : o.files;
    if (files.empty())
        throw UserError("no manifest given, and no compose.yaml, compose.yml, docker-compose.yaml or "
                        "docker-compose.yml here or in a parent directory; pass one with -f FILE");
    return files;
}

manifest::LoadOptions load_options(const Options& o) {
    manifest::LoadOptions lo;
    if (!o.project.empty()) lo.project = o.project;
    lo.named_by_file = o.named_by_file;
    lo.env_files = o.env_files;
    lo.profiles = o.profiles;
    lo.named_services = o.services;
    for (auto& s : o.scale) {
        auto eq = s.find('=');
        int n = -1;
        if (eq != std::string::npos) {
            auto v = std::string_view(s).substr(eq + 1);
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || end != v.data() + v.size() || v.empty()) n = -1;
        }
        if (eq == std::string::npos || eq == 0 || n < 0 || n > 10000)
            throw UserError(fmt::format("--scale {}: write it SERVICE=N, with N from 0 to 10000 (e.g. --scale web=3)", s));
        lo.scale[s.substr(0, eq)] = n;
    }
    return lo;
}

Session Session::open(const Options& opts, bool need_manifest, bool read_host_early) {
    Session s{opts, StateDir(opts.state_dir), machine().kernel(), std::nullopt, "", ""};
    if (read_host_early) s.kernel->prepare_read();
    // No -f and no --project: the Compose files here, as `docker compose` finds them.
    auto files = opts.files;
    if (files.empty() && opts.project.empty()) files = manifest::discover_files(opts.env_files);
    s.opts.files = files;  // the record names the files read
    if (!files.empty()) {
        trace::Span t("load manifest");
        s.project = manifest::load(files, load_options(opts), opts.manifest_cache.get());
        print_warnings(*s.project);
        s.project_name = s.project->name;
        s.host = pick_host(*s.project, opts.host, opts.every_host, *s.kernel);
    } else if (need_manifest) {
        manifest_files(opts);  // throws: there is none
    } else if (!opts.project.empty()) {
        // It names the state record and the lock file: "../x" must not.
        if (!manifest::valid_project(opts.project))
            throw UserError(fmt::format("--project {}: not a valid project name: use a-z, 0-9, _ and -, at most 32 "
                                        "characters, starting with a letter or digit",
                                        opts.project));
        s.project_name = opts.project;
        s.host = opts.host;
    } else {
        throw UserError("say which project: -f FILE or --project NAME");
    }
    return s;
}

Computed Session::compute(HostState* converged, const Focus& drifted, const Since& since) {
    PlanInput in;
    trace::Span t("compute (all)");
    // A replicated service named on the command line is all of its replicas.
    std::set<std::string> services;
    for (auto& named : opts.services) {
        bool replicated = false;
        if (project)
            for (auto& [name, svc] : project->services)
                if (svc.replica_of && svc.replica_of->service == named) services.insert(name), replicated = true;
        if (!replicated) services.insert(named);
    }
    in.force = opts.force;
    in.take_ports = opts.take_ports;
    // The host's dumps run while the record is loaded and the desired state worked out.
    if (!converged && services.empty()) kernel->prepare_read();
    in.project = project ? &*project : nullptr;
    in.project_name = project_name;
    in.host = host;
    if (converged && since.addressing && state.remembers(project_name)) {
        in.previous_kept = true;  // what the watch kept is what the record says
    } else {
        trace::Span t2("load record");
        if (auto r = record()) in.previous = std::move(r->addressing);
    }
    if (auto conf = io::read_file("/etc/resolv.conf")) in.host_resolv_conf = *conf;
    auto [subnets, ports] = (trace::Span("others' records"), others());
    in.other_subnets = std::move(subnets);
    in.other_ports = std::move(ports);
    if (converged) return topo::compute_since(*kernel, in, *converged, drifted, since);
    return topo::compute_services(*kernel, in, services);
}

Session::Others Session::others() const {
    Others out;
    for (auto& other : state.others(project_name)) {
        for (auto& [_, n] : other.addressing.networks) {
            if (n.subnet4) out.subnets.push_back(*n.subnet4);
            if (n.subnet6) out.subnets.push_back(*n.subnet6);
        }
        for (auto& [_, port] : other.addressing.ephemeral_ports) out.ports.push_back(port);
    }
    return out;
}

HostState Session::read_live() {
    ReadScope scope;
    scope.project = project_name;
    if (project) scope = read_scope(*project);
    return kernel->read(scope);
}

ProjectRecord Session::next_record(const Computed& c) const {
    ProjectRecord r;
    r.project = project_name;
    for (auto& f : opts.files) r.manifests.push_back(std::filesystem::absolute(f).string());
    r.host = host;
    r.addressing = c.addressing;
    return r;
}

}  // namespace topo::cli
