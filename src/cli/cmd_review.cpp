// `topo plan -f NEW --base OLD`: what a change of the manifest would do to a
// host that holds the old one, for code review — no root, no state
// directory, no kernel. The old manifest's plan is carried out on a host on
// paper (kernel/paper.hpp), and the new one is planned against it, with the
// old allocations as the record would hold them: the plan `apply` would
// print on a host where the old manifest was applied first.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "cli/commands_impl.hpp"
#include "cli/output.hpp"
#include "cli/program.hpp"
#include "kernel/paper.hpp"
#include "reconcile/execute.hpp"

namespace topo::cli {

namespace {

namespace fs = std::filesystem;

// The old project's files as they were at a git revision: each path is
// taken relative to the checkout's top and read with `git show REV:PATH`.
struct GitRevision {
    std::string rev, top;

    // `dir`: where the manifest is, whose repository is meant (not the working directory's).
    GitRevision(std::string r, const std::string& dir) : rev(std::move(r)) {
        if (rev.empty() || rev.starts_with("-"))
            throw UserError(fmt::format("--base git:{}: name a revision (a branch, a tag, a commit), e.g. "
                                        "git:origin/main:net.yaml", rev));
        std::string out, err;
        if (run_program({"git", "-C", dir, "rev-parse", "--show-toplevel"}, out, err) != 0)
            throw UserError(fmt::format("--base git:…: {} is not in a git checkout ({})", dir, err));
        top = out.substr(0, out.find('\n'));
        if (run_program({"git", "-C", top, "rev-parse", "--verify", "--quiet", rev + "^{commit}"}, out, err) != 0)
            throw UserError(fmt::format("--base git:{}: no such revision in {}; fetch it first (git fetch), or name "
                                        "another", rev, top));
    }

    bool read(const std::string& path, std::string& text, std::string& problem) const {
        // git names the top as the kernel does (symbolic links resolved): so is
        // the path's directory; the file keeps its name (a link is read as the
        // link at REV, not as what it points to today).
        std::error_code ec;
        auto dir = fs::weakly_canonical(fs::path(path).parent_path(), ec);
        auto rel = ((ec ? fs::path(path).parent_path() : dir) / fs::path(path).filename()).lexically_relative(top).string();
        if (path == "-" || rel.empty() || rel.starts_with("..")) {
            problem = fmt::format("{} is outside the git checkout {}, so it has no version at {}", path, top, rev);
            return false;
        }
        std::string err;
        if (run_program({"git", "-C", top, "show", rev + ":" + rel}, text, err) == 0) return true;
        problem = fmt::format("{} at {}: {}", rel, rev, err.empty() ? "git show failed" : err);
        return false;
    }
};

// The old manifest, as --base says: a file, "-", git:REV:PATH, or git:REV
// (every -f file at REV). Without a `name:` of its own, it is the new
// project's (a file elsewhere would be named after its directory).
Project load_base(const Options& o, const std::string& new_name) {
    auto lo = load_options(o);
    lo.named_services.clear();
    std::vector<std::string> files{o.base};
    std::shared_ptr<GitRevision> git;
    if (o.base == "-") {
        // Read once: it is read twice below (its name, then the project).
        std::string text, problem;
        if (!manifest::read_manifest("-", text, problem)) throw UserError("--base -: " + problem);
        auto stdin_text = std::make_shared<const std::string>(std::move(text));
        lo.source = [stdin_text](const std::string& path, std::string& t, std::string& why) {
            if (path == "-") return t = *stdin_text, true;
            return manifest::read_manifest(path, t, why, true);  // its .env and includes: the working directory's
        };
    } else if (o.base.starts_with("git:")) {
        auto spec = o.base.substr(4);
        // REV ends at the first ':' (git:REV:PATH): a revision with a ':' of its own cannot be named here.
        auto colon = spec.find(':');
        // PATH is taken from the working directory, as -f is.
        files = colon == std::string::npos ? manifest_files(o) : std::vector<std::string>{spec.substr(colon + 1)};
        for (auto& f : files) {
            if (f == "-") throw UserError("--base git:REV: standard input has no version at REV; name the file");
            f = fs::absolute(f).lexically_normal().string();
        }
        git = std::make_shared<GitRevision>(spec.substr(0, colon), fs::path(files.front()).parent_path().string());
        // --env-file's files are this run's, from the file system; the project's own files are REV's.
        std::set<std::string> given;
        for (auto& f : lo.env_files) given.insert(fs::absolute(f).lexically_normal().string());
        lo.source = [git, given](const std::string& path, std::string& text, std::string& problem) {
            if (given.count(path)) return manifest::read_manifest(path, text, problem, true);
            return git->read(path, text, problem);
        };
    }
    try {
        auto with_name = manifest::resolve(files, lo);
        if (!lo.project && !with_name["name"]) lo.project = new_name;
        return manifest::load(files, lo);
    } catch (const manifest::ManifestError& e) {
        std::string msg;
        for (auto& err : e.errors()) msg += "\n  " + err.str();
        throw UserError(fmt::format("the base manifest ({}) is not valid:{}", o.base, msg));
    }
}

// The networks and ports whose numbers come from the host's free pools: on
// the host they may differ from the review's.
std::vector<std::string> host_dependent(const Project& p, const std::string& host) {
    std::vector<std::string> pools, ports;
    for (auto& [name, n] : p.networks)
        if (!n.external && n.driver != Driver::Macvlan && !n.ipv4 && !n.ipv6) pools.push_back(name);
    for (auto& [name, s] : p.services)
        if (runs_here(p, s, host) && std::any_of(s.ports.begin(), s.ports.end(), [](auto& port) { return !port.published; }))
            ports.push_back(name);  // (once, however many such ports it has)
    std::vector<std::string> out;
    if (!pools.empty())
        out.push_back(fmt::format("subnets of {} are the pool's first free ones on a host with nothing else; on the "
                                  "host they are the first free ones there (give `ipam.config` subnets to review them)",
                                  fmt::join(pools, ", ")));
    if (!ports.empty())
        out.push_back(fmt::format("host ports published without a number ({}) are picked on the host from the "
                                  "ephemeral range", fmt::join(ports, ", ")));
    return out;
}

// One host's plan: the old manifest built on paper, then the new one planned against it.
Plan plan_on_paper(const Project& old, const Project& now, const std::string& host) {
    auto k = paper_host();
    PlanInput in;
    in.project = &old;
    in.project_name = old.name;
    in.host = host;
    // A host the old manifest did not have held none of it.
    Project nothing;
    nothing.name = old.name;
    if (!old.hosts.empty() && !old.hosts.count(host)) in.project = &nothing, in.host = "";
    auto before = compute(*k, in);
    if (!before.errors.empty())
        throw UserError(fmt::format("the base manifest cannot be built (on paper):\n  {}", fmt::join(before.errors, "\n  ")));
    if (auto r = execute(*k, before.plan.changes); !r.ok())
        throw UserError(fmt::format("the base manifest cannot be built (on paper): {}", *r.failure));
    in.project = &now;
    in.project_name = now.name;
    in.host = host;
    if (old.name == now.name) in.previous = before.addressing;  // as its record holds it
    auto c = compute(*k, in);
    fail_on_errors(c.errors);
    for (auto& note : host_dependent(now, host)) c.plan.notes.push_back(note);
    if (old.name != now.name)
        c.plan.notes.push_back(fmt::format("the project's name changes from {} to {}: {} stays on the host until "
                                           "`topo destroy -p {}`", old.name, now.name, old.name, old.name));
    return std::move(c.plan);
}

}  // namespace

int cmd_plan_base(const Options& o) {
    auto files = manifest_files(o);
    if (o.base == "-" && std::find(files.begin(), files.end(), "-") != files.end())
        throw UserError("--base - and -f - both read standard input; give one of them as a file");
    auto lo = load_options(o);
    lo.named_services.clear();
    auto now = manifest::load(files, lo);
    print_warnings(now);
    auto old = load_base(o, now.name);
    // A manifest of several hosts: each host's plan, one after the other (--host: that one's).
    std::vector<std::string> hosts;
    if (!o.host.empty()) {
        if (!now.hosts.empty() && !now.hosts.count(o.host))
            throw UserError(fmt::format("--host {}: no such host in the manifest's hosts", o.host));
        hosts.push_back(o.host);
    } else {
        for (auto& [name, _] : now.hosts) hosts.push_back(name);
        if (hosts.empty()) hosts.push_back("");
    }
    std::vector<Plan> plans;
    for (auto& h : hosts) plans.push_back(plan_on_paper(old, now, h));
    for (auto& [name, _] : old.hosts)
        if (!now.hosts.empty() && !now.hosts.count(name))
            plans.back().notes.push_back(fmt::format("host {} leaves the manifest: run `topo destroy` there", name));
    bool changes = false;
    for (auto& p : plans) changes |= !p.empty();
    if (o.format == Format::Json && plans.size() > 1) {
        auto all = nlohmann::json::array();
        for (auto& p : plans) all.push_back(nlohmann::json::parse(plan_json(p)));
        fmt::print("{}\n", nlohmann::json{{"format_version", 1}, {"plans", all}}.dump(2));
    } else {
        for (size_t i = 0; i < plans.size(); ++i) {
            if (i && o.format == Format::Text) fmt::print("\n");
            // One comment for all hosts: each gets its share of the limit.
            if (o.format == Format::Markdown) fmt::print("{}\n", plan_markdown(plans[i], &now, 60000 / plans.size()));
            else print_plan(o, plans[i], &now);
        }
    }
    leave(o.detailed_exitcode && changes ? 2 : 0);
}

}  // namespace topo::cli
