// topo watch: keep the host matching its manifests (GitOps; docs/cli.md, "Watch").
//
// One thread and one poll(2) over:
//   - inotify (cli/watch_files.hpp) on the manifests' directories, their parents (a directory that
//     is a symbolic link swapped for another) and /run/netns (a sandbox
//     deleted under its name);
//   - the kernel's events (kernel/events.hpp): links, addresses and routes in
//     the host and in every sandbox, and nftables changes;
//   - a signalfd: SIGTERM and SIGINT end the watch after the run in progress,
//     SIGHUP asks for a full resync.
//
// A run for a changed manifest or for drift reads only what the change is
// about and what the events named (reconcile.hpp, compute_since): it
// costs the same on a host of 10 sandboxes or 1000. The first run, a run
// after a failure or after the kernel dropped events, and every --interval
// read everything, as `topo apply` does; that also repairs what sends no
// events (a sysctl, a hosts file edited by hand).
//
// What the watch says of its runs (the log, the status file, the metrics)
// is cli/watch_report.hpp's.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "cli/commands_impl.hpp"
#include "cli/program.hpp"
#include "cli/watch_files.hpp"
#include "cli/watch_report.hpp"
#include "io/file.hpp"
#include "manifest/manifest.hpp"
#include "model/naming.hpp"
#include "model/trace.hpp"

namespace topo::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The numbers the kernel's events use for names: namespace ids, host ifindexes.
struct Names {
    std::unordered_map<int, std::string> sandbox;    // nsid → namespace
    std::unordered_map<int, std::string> host_link;  // ifindex → name
};

// What a run of one project's own changes can explain: events about it are
// not drift (the run reads it back once they are in).
struct OwnChanges {
    const Focus* focus = nullptr;
    bool nft = false;
    const HostState* state = nullptr;  // the run's desired state: what the project holds now
};

bool has_host_link(const HostState& s, const std::string& name) {
    for (Kind k : {Kind::Bridge, Kind::Veth, Kind::Macvlan, Kind::Vxlan})
        if (s.find(ObjectKey{k, name})) return true;
    return false;
}

// Marks what `e` names as drifted in the project it concerns.
void note(Watched& w, const KernelEvent& e, const std::string& sandbox, const std::string& host_link,
          const OwnChanges& own, Clock::time_point wake) {
    if (e.what == KernelEvent::What::Overflow) {
        w.full = true;
        w.want(Trigger::Drift, wake, false);
        return;
    }
    const HostState* known = own.state ? own.state : w.converged ? &*w.converged : nullptr;
    if (!known || !w.session) return;  // the next run reads everything anyway
    if (e.what == KernelEvent::What::Nft) {
        if (e.name != naming::nft_table(w.session->project_name) || own.nft) return;
        w.drifted.nft = true;
    } else {
        Focus f;
        if (e.what == KernelEvent::What::Neigh) {
            // An entry that changed or went: only one of a VXLAN device of this project's is drift,
            // and the run's own entries are not.
            if (!known->find(ObjectKey{Kind::Vxlan, host_link})) return;
            if (!e.mac && !e.ip) f.add_host_link(*known, host_link);
            else if (own.focus && own.focus->covers_entry(host_link, e.mac, e.ip)) return;
            else f.add_entry(host_link, e.mac, e.ip);
        } else if (!sandbox.empty() && known->find(ObjectKey{Kind::Netns, sandbox})) {
            f.sandboxes.insert(sandbox);
        } else if (!host_link.empty() && has_host_link(*known, host_link)) {
            f.add_host_link(*known, host_link);
        } else {
            return;  // not this project's
        }
        if (own.focus) {
            for (auto& s : f.sandboxes)
                if (own.focus->sandboxes.count(s)) return;
            for (auto& l : f.host_links)
                if (own.focus->host_links.count(l)) return;
        }
        w.drifted.merge(f);
    }
    w.want(Trigger::Drift, wake, false);
}

class Watch {
public:
    explicit Watch(const Options& o)
        : o_(o), directory_(o.files.size() == 1 && fs::is_directory(o.files[0])), files_(o.files, directory_, machine().netns_dir()) {}
    int run();

private:
    const Options& o_;
    const bool directory_;  // -f DIR: a project per manifest in it
    std::vector<Watched> projects_;
    FileWatch files_;
    std::unique_ptr<EventSource> events_ = machine().events();
    Names names_;
    bool stop_ = false;
    const WatchReport report_{o_};

    void find_projects(Clock::time_point now);
    void on_files(Clock::time_point now);
    void on_events(Clock::time_point now, Watched* running = nullptr, const OwnChanges& own = {});
    void reconcile(Watched& w);
    void report(Watched& w, const Outcome& r) { report_.run(w, r, projects_); }
    nlohmann::json probe(Session& s);
    void learn_sandboxes(const HostState& desired, const Focus* only);
};

std::string read_all(const std::vector<std::string>& files) {
    std::string out;
    for (auto& f : files) out += io::read_file(f).value_or("\x01(absent)") + '\0';
    return out;
}

void Watch::find_projects(Clock::time_point now) {
    std::vector<std::vector<std::string>> want;
    if (directory_) {
        for (auto& f : manifests_in(o_.files[0])) want.push_back({f});
    } else {
        want.push_back(o_.files);
    }
    // Manifests gone from the directory: their projects stay up, or with --prune go.
    for (auto it = projects_.begin(); it != projects_.end();) {
        if (std::find(want.begin(), want.end(), it->files) != want.end()) {
            ++it;
            continue;
        }
        if (o_.prune && it->session) {
            auto start = Clock::now();
            try {
                Options d = o_;
                d.files.clear();
                d.project = it->session->project_name;
                auto s = Session::open(d, false);
                auto lock = s.state.lock(s.project_name, o_.lock_timeout);
                auto c = plan_destroy(s);
                finish_destroy(s, c);
                report(*it, {.trigger = Trigger::Removed, .result = "destroyed", .plan = &c.plan,
                             .took = std::chrono::duration_cast<milliseconds>(Clock::now() - start)});
            } catch (const std::exception& e) {
                report(*it, {.trigger = Trigger::Removed, .result = "failed", .error = e.what(),
                             .took = std::chrono::duration_cast<milliseconds>(Clock::now() - start)});
            }
        } else {
            report(*it, {.trigger = Trigger::Removed, .result = "kept",
                         .error = "its manifest is gone; --prune would destroy it", .took = milliseconds(0)});
        }
        it = projects_.erase(it);
    }
    for (auto& files : want) {
        bool known = false;
        for (auto& w : projects_) known |= w.files == files;
        if (known) continue;
        Watched w;
        w.files = files;
        w.want(Trigger::Start, now, false);
        projects_.push_back(std::move(w));
    }
}

void Watch::on_files(Clock::time_point now) {
    auto seen = files_.read();
    for (auto& name : seen.sandboxes_gone)
        for (auto& w : projects_)
            if (w.converged && w.converged->find(ObjectKey{Kind::Netns, name})) {
                // A sandbox deleted under its name (`ip netns del`, or a `topo
                // destroy` beside the watch): what went with it reaches past the
                // sandbox (the project's shared files, the table's elements, the
                // state record), so the next run reads everything.
                w.full = true;
                w.want(Trigger::Drift, now + o_.debounce, false);
            }
    if (!seen.manifests) return;
    // Which manifests changed is told by their content, read again.
    find_projects(now);
    for (auto& w : projects_)
        if (w.trigger != Trigger::Start && read_all(w.files) != w.text) w.want(Trigger::Manifest, now + o_.debounce, true);
}

void Watch::on_events(Clock::time_point now, Watched* running, const OwnChanges& own) {
    for (auto& e : events_->drain()) {
        std::string sandbox, host_link = e.name;
        if (e.nsid) {
            auto it = names_.sandbox.find(*e.nsid);
            if (it == names_.sandbox.end()) continue;
            sandbox = it->second;
            host_link.clear();
        } else if (e.what == KernelEvent::What::Link) {
            if (e.removed) names_.host_link.erase(e.ifindex);
            else if (!e.name.empty()) names_.host_link[e.ifindex] = e.name;
        } else if (e.what == KernelEvent::What::Address || e.what == KernelEvent::What::Neigh) {
            auto it = names_.host_link.find(e.ifindex);
            host_link = it == names_.host_link.end() ? "" : it->second;
        } else if (e.what == KernelEvent::What::Route) {
            continue;  // topo makes no routes in the host namespace
        }
        for (auto& w : projects_) note(w, e, sandbox, host_link, &w == running ? own : OwnChanges{}, now + o_.debounce);
    }
}

// The namespace ids of the project's sandboxes, given one where there is none
// (the kernel sends a namespace's events only where it has an id).
// (Namespaces come first in key order: not a walk of every object, which
// on an overlay host is 15,000 entries and ~2 ms of cache misses.)
static_assert(int(Kind::Netns) == 0);
void Watch::learn_sandboxes(const HostState& desired, const Focus* only) {
    auto learn = [&](const std::string& name) {
        if (auto id = events_->watch(name)) names_.sandbox[*id] = name;
    };
    if (only) {
        for (auto& name : only->sandboxes)
            if (desired.find(ObjectKey{Kind::Netns, name})) learn(name);
        return;
    }
    for (auto it = desired.objects.begin(); it != desired.objects.end() && it->first.kind == Kind::Netns; ++it)
        learn(it->first.id);
}

// `--probe`, after a run that changed something: the whole host read again
// (the probe's causes are what a plan would still change) and probed.
// What broke goes into the status file and the log; the run's result stays
// "applied" (the host is as the manifest says; the probe says whether the
// network keeps its promises).
nlohmann::json Watch::probe(Session& s) {
    try {
        auto c = s.compute();
        auto r = probe_host(s, c, {}, o_.probe_timeout);
        nlohmann::json broken = nlohmann::json::array();
        for (auto& f : r.report.findings)
            if (!f.ok && broken.size() < 20) broken.push_back(finding_json(f));
        return {{"ok", r.report.broken == 0}, {"probes", r.plan.run.probes.size()}, {"broken", r.report.broken},
                {"seconds", r.seconds}, {"notes", r.plan.notes}, {"findings", broken}};
    } catch (const std::exception& e) {
        return {{"ok", false}, {"error", e.what()}};
    }
}

void Watch::reconcile(Watched& w) {
    auto start = Clock::now();
    auto took = [&] { return std::chrono::duration_cast<milliseconds>(Clock::now() - start); };
    auto trigger = std::exchange(w.trigger, Trigger::None);
    // The manifest: loaded again only when its text changed. One that does
    // not load changes nothing: the host keeps the last good state.
    auto text = (trace::Span("read manifests"), read_all(w.files));
    // The commit a checkout holds changes without the manifest's text (a
    // commit of the edit): asked again on every full run too.
    // (git runs while the manifest is read.)
    std::future<std::optional<GitFacts>> git;
    if (!w.session || text != w.text || w.full) git = std::async(std::launch::async, git_facts, w.files.front());
    auto git_known = [&] {
        if (git.valid()) w.git = (trace::Span("git facts"), git.get());
    };
    // What the last run kept and this one replaces is freed once it is done,
    // but for its project: given back to the cache, the next read patches it.
    // After a whole read there is none to give back: the cache keeps a copy
    // of this run's project instead, made once the run is logged.
    std::optional<Session> old_session;
    uint64_t old_load = 0;
    struct GiveBack {
        Watched& w;
        std::optional<Session>& old;
        uint64_t& load;
        ~GiveBack() {
            if (old && old->project) manifest::give_back(*w.cache, std::move(*old->project), load);
            if (w.session && w.session->project) manifest::keep_copy(*w.cache, *w.session->project, w.load);
        }
    } give_back{w, old_session, old_load};
    std::optional<HostState> old_converged;
    Addressing old_addressing;
    // The services the manifest's change touched (none: it did not change).
    std::optional<std::set<std::string>> touched = std::set<std::string>{};
    if (!w.session || text != w.text) {
        w.text = text;
        try {
            Options so = o_;
            so.files = w.files;
            so.named_by_file = directory_;
            so.manifest_cache = w.cache;
            auto s = (trace::Span("open session"), Session::open(so, true));
            if (w.session && w.session->project_name != s.project_name) w.converged.reset(), w.full = true;
            if (!w.session || w.session->project_name != s.project_name) report_.restore(w, s.project_name);
            old_session = std::move(w.session);
            w.session.emplace(std::move(s));
            old_load = std::exchange(w.load, manifest::load_id(*w.cache));
            touched = manifest::touched(*w.cache);
        } catch (const manifest::ManifestError& e) {
            // What the cache read last is not the project the watch keeps:
            // the next read is whole (its `touched` would be against the wrong one).
            w.cache = manifest::load_cache();
            std::string msg;
            for (auto& err : e.errors()) msg += (msg.empty() ? "" : "\n") + err.str();
            // A manifest that never loaded: its status goes under its `name:`, if that much reads.
            if (!w.session) {
                try {
                    auto n = manifest::resolve(w.files)["name"].Scalar();
                    if (manifest::valid_project(n) && n != w.named) w.named = n, report_.restore(w, n);
                } catch (const std::exception&) {
                }
            }
            git_known();
            report(w, {.trigger = trigger, .result = "invalid", .error = msg, .took = took()});
            return;
        } catch (const std::exception& e) {
            w.cache = manifest::load_cache();
            git_known();
            report(w, {.trigger = trigger, .result = "invalid", .error = e.what(), .took = took()});
            return;
        }
    }
    git_known();
    auto& s = *w.session;
    // Sockets of this run only: one left open inside a sandbox would keep its
    // namespace alive after an `ip netns del`, and its links with it.
    s.kernel = machine().kernel();
    s.kernel->defer_waits();  // the run is logged before the kernel is closed
    struct Release {
        Session& s;
        ~Release() { s.kernel.reset(); }
    } release{s};
    machine().run_done();
    bool full = w.full || !w.converged;
    auto drifted = std::exchange(w.drifted, {});
    std::optional<Plan> plan;
    try {
        auto lock = s.state.lock(s.project_name, o_.lock_timeout);
        s.host_lock.emplace(s.state.lock_host(o_.lock_timeout));
        struct ReleaseHost {  // by saving the record, or at the end of a run with none to save
            Session& s;
            ~ReleaseHost() { s.host_lock.reset(); }
        } release_host{s};
        // The converged state is worked out again from what it was worked out
        // from, where the manifest's change touched services alone.
        Since since{old_session ? &*old_session->project : &*s.project, &w.addressing, &w.context, touched};
        auto c = full ? s.compute() : s.compute(&*w.converged, drifted, since);
        fail_on_errors(c.errors);
        plan = c.plan;
        Focus own(c.plan.changes);
        OwnChanges mine{&own, false, &c.desired.state};
        for (auto& ch : c.plan.changes) mine.nft |= ch.kind() == Kind::NftTable;
        // Events of this run's changes are not drift: taken here, before the
        // read-back. Others' (elsewhere) are, once the run is done.
        auto own_events = [&] { on_events(Clock::now(), &w, mine); };
        if (c.record_kept) {  // the record says this already: nothing to save, nor to put back
            s.host_lock.reset();
            if (!c.plan.empty()) carry_out(s, c.plan, c.desired, own_events);
        } else if (!c.plan.empty()) {
            carry_out_recorded(s, c.plan, c.desired, s.next_record(c), own_events);
        } else {
            s.state.save(s.next_record(c));
        }
        {
            trace::Span t("keep converged");
            old_converged = std::move(w.converged);
            w.converged = std::move(c.desired.state);
            old_addressing = std::exchange(w.addressing, std::move(c.addressing));
            w.context = std::move(c.context);
            w.objects = w.converged->objects.size();
            w.full = false;
            learn_sandboxes(*w.converged, full ? nullptr : &own);
            // Events since the read-back are drift, even about what this run
            // touched: most are the kernel settling (one small read finds nothing).
            on_events(Clock::now());
        }
        bool quiet = c.plan.empty() && trigger == Trigger::Drift;  // the kernel settling after a run
        auto run_took = took();  // the run's own time; the probe's is its `seconds`
        nlohmann::json probed;
        if (o_.probe && !c.plan.empty()) probed = probe(s);
        report(w, {.trigger = trigger, .result = c.plan.empty() ? "unchanged" : "applied", .plan = &*plan,
                   .took = run_took, .quiet = quiet, .probe = probed});
    } catch (const std::exception& e) {
        w.converged.reset();
        w.full = true;
        report(w, {.trigger = trigger, .result = "failed", .plan = plan ? &*plan : nullptr, .error = e.what(), .took = took()});
    }
}

int Watch::run() {
    sigset_t sigs;
    sigemptyset(&sigs);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&sigs, sig);
    sigprocmask(SIG_BLOCK, &sigs, nullptr);
    int sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) throw UserError(fmt::format("watch: signalfd: {}", std::strerror(errno)));
    for (auto& [index, name] : events_->host_links()) names_.host_link[index] = name;
    auto now = Clock::now();
    find_projects(now);
    if (o_.once) {
        // One run of each project: 0 when each was in sync, 2 when one changed, 1 when one failed.
        int rc = 0;
        for (auto& w : projects_) {
            reconcile(w);
            if (w.runs.count("failed") || w.runs.count("invalid")) rc = 1;
            else if (w.runs.count("applied") && rc == 0) rc = 2;
        }
        ::close(sigfd);
        return rc;
    }
    if (projects_.empty()) fmt::print("topo: watching {}: no *.yaml or *.yml manifests there yet\n", o_.files[0]);
    auto next_resync = now + o_.interval;
    while (!stop_) {
        now = Clock::now();
        auto wake = next_resync;
        for (auto& w : projects_)
            if (w.trigger != Trigger::None) wake = std::min(wake, w.due);
        int timeout = int(std::max<int64_t>(0, std::chrono::duration_cast<milliseconds>(wake - now).count() + 1));
        std::vector<pollfd> fds{{sigfd, POLLIN, 0}, {files_.fd(), POLLIN, 0}};
        for (int fd : events_->fds()) fds.push_back({fd, POLLIN, 0});
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
            throw UserError(fmt::format("watch: poll: {}", std::strerror(errno)));
        now = Clock::now();
        signalfd_siginfo si;
        while (::read(sigfd, &si, sizeof si) == sizeof si) {
            if (si.ssi_signo == SIGHUP) {
                for (auto& w : projects_) w.full = true, w.want(Trigger::Sighup, now, false);
            } else {
                stop_ = true;
            }
        }
        if (stop_) break;
        if (fds[1].revents) on_files(now);
        on_events(now);
        if (now >= next_resync) {
            for (auto& w : projects_) w.full = true, w.want(Trigger::Interval, now, false);
            next_resync = now + o_.interval;
        }
        for (auto& w : projects_) {
            if (w.trigger == Trigger::None || w.due > Clock::now()) continue;
            reconcile(w);
            // A signal that came during the run ends the watch now, not after the others.
            if (::read(sigfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo != SIGHUP) stop_ = true;
                if (stop_) break;
            }
        }
    }
    fmt::print("topo: watch stopped; the network stays as it is\n");
    std::fflush(stdout);
    ::close(sigfd);
    return 0;
}

}  // namespace

int cmd_watch(const Options& o) {
    if (o.files.empty()) throw UserError("watch: say what to watch: -f FILE (repeatable) or -f DIR");
    if (o.files.size() > 1)
        for (auto& f : o.files)
            if (fs::is_directory(f)) throw UserError(fmt::format("watch: {} is a directory; watch one directory alone", f));
    for (auto& f : o.files)
        if (!fs::exists(f)) throw UserError(fmt::format("watch: {}: no such file or directory", f));
    if (o.files.size() == 1 && fs::is_directory(o.files[0]) && !o.project.empty())
        throw UserError(fmt::format("watch: -p names one project, but {} holds a project per manifest; drop -p "
                                    "(each is named by its `name:` or its file)", o.files[0]));
    if (o.interval < milliseconds(1000)) throw UserError("watch: --interval must be at least 1s");
    Watch w(o);
    return w.run();
}

}  // namespace topo::cli
