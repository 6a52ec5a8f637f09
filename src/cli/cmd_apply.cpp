// plan, apply and destroy: the reconcile loop of docs/cli.md, as a straight list of steps.
#include <unistd.h>

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>
#include <optional>
#include <iostream>
#include <sstream>

#include "cli/commands_impl.hpp"
#include "cli/output.hpp"
#include "io/file.hpp"
#include "model/trace.hpp"
#include "reconcile/execute.hpp"
#include "state/serialize.hpp"

namespace topo::cli {

namespace {


bool confirm(const Options& o, const char* question) {
    if (o.auto_approve || !::isatty(STDIN_FILENO)) return true;
    fmt::print("\n{} Only 'yes' is accepted: ", question);
    std::fflush(stdout);
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "yes";
}

// The sandboxes a plan removes.
std::vector<std::string> removed_sandboxes(const Plan& p) {
    std::vector<std::string> out;
    for (auto& c : p.changes)
        if (c.action == Action::Delete)
            if (auto* n = std::get_if<Netns>(&*c.before)) out.push_back(n->name);
    return out;
}

std::string list_processes(const std::map<std::string, std::vector<Process>>& running) {
    std::string out;
    for (auto& [box, ps] : running)
        for (auto& p : ps) out += fmt::format("\n  {}: pid {} ({})", box, p.pid, p.command);
    return out;
}

// Programs still running in sandboxes that go (destroy; or apply and watch,
// for a service removed or moved to another host): with --kill (destroy,
// apply) they are ended first (the signal, then SIGKILL after --timeout),
// as `docker compose down` stops containers; without it they are named, and
// keep running in a namespace that topo has emptied of its links (a process
// holds it open). The advice names the command that takes --kill: destroy's
// (it desires no project), apply's, or none for a watch.
void end_programs(Session& s, const std::vector<std::string>& boxes) {
    if (boxes.empty()) return;
    auto running = s.kernel->processes(boxes);
    if (running.empty()) return;
    if (!s.opts.kill_signal) {
        fmt::print(stderr,
                   "topo: warning: programs still run in sandboxes that go; they keep running without "
                   "a network ({}):{}\n",
                   s.opts.watching  ? "topo watch leaves them: stop them before their service leaves this host"
                   : !s.project ? "`topo destroy --kill` ends them first"
                                : "`topo apply --kill` ends them first",
                   list_processes(running));
        return;
    }
    int sig = s.opts.kill_signal;
    using clock = std::chrono::steady_clock;
    for (int round = 0; round < 2 && !running.empty(); ++round) {
        for (auto& [box, ps] : running)
            for (auto& p : ps) s.kernel->signal(p, round ? SIGKILL : sig);
        auto deadline = clock::now() + (round ? std::chrono::milliseconds(2000) : s.opts.kill_timeout);
        while (!(running = s.kernel->processes(boxes)).empty() && clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!running.empty() && !round)
            fmt::print(stderr, "topo: still running after {} ms, sending SIGKILL:{}\n", s.opts.kill_timeout.count(),
                       list_processes(running));
    }
    if (!running.empty())
        throw UserError(fmt::format("these programs did not end; nothing was removed:{}", list_processes(running)));
}

// A failed run whose changes were all undone.
struct RolledBack : UserError {
    using UserError::UserError;
};

}  // namespace

void print_plan(const Options& o, const Plan& p, const Project* project) {
    switch (o.format) {
        case Format::Text: fmt::print("{}", plan_text(p, o.color)); break;
        case Format::Json: fmt::print("{}", plan_json(p)); break;
        case Format::Markdown: fmt::print("{}", plan_markdown(p, project)); break;
    }
    std::fflush(stdout);
}

void fail_on_errors(const std::vector<std::string>& errors) {
    if (errors.empty()) return;
    std::string msg = "the plan cannot be carried out:";
    for (auto& e : errors) msg += "\n  " + e;
    throw UserError(msg);
}

// SIGINT or SIGTERM while a plan is carried out: the change in progress is
// finished, the run stops there and is rolled back, and topo says so and
// exits 1, instead of dying half-way without a word. A second signal ends
// topo at once (the next apply repairs what it left, as after a crash).
// Where the signals are blocked (topo watch reads them from a signalfd)
// this changes nothing.
volatile std::sig_atomic_t got_signal = 0;
extern "C" void note_signal(int sig) {
    got_signal = sig;
    std::signal(sig, SIG_DFL);
}
struct Interruption {
    struct sigaction old_int {}, old_term {};
    Interruption() {
        got_signal = 0;
        struct sigaction sa {};
        sa.sa_handler = note_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGINT, &sa, &old_int);
        ::sigaction(SIGTERM, &sa, &old_term);
    }
    ~Interruption() {
        ::sigaction(SIGINT, &old_int, nullptr);
        ::sigaction(SIGTERM, &old_term, nullptr);
    }
    std::optional<std::string> why() const {
        if (!got_signal) return std::nullopt;
        return fmt::format("interrupted by {}", got_signal == SIGINT ? "SIGINT" : "SIGTERM");
    }
};

// After a rollback: say whether the host is as it was, proved by reading it
// back, or exactly what could not be restored. Always throws.
[[noreturn]] void give_back(Session& s, const Plan& p, const Desired& desired, std::string msg,
                            const std::vector<std::string>& rollback_failures) {
    for (auto& f : rollback_failures) msg += "\nrollback: " + f;
    auto left = restored(*s.kernel, desired, p.changes);
    if (left.empty() && rollback_failures.empty())
        throw RolledBack(msg + "\nrolled back this run's changes; read back, the host is as it was");
    msg += "\nrolled back this run's changes, but the host differs from before the run:";
    for (auto& l : left) msg += "\n  " + l;
    throw UserError(msg);
}

namespace {

// The line "applying: 1234 of 5000 changes" on standard error while a long
// run goes on, redrawn at most ten times a second and wiped at the end:
// only on a terminal, not with -q or -v (which prints each change), and
// only once a run has taken half a second (a short one shows nothing).
class ProgressLine {
public:
    ProgressLine(const Options& o, size_t total)
        : total_(total), on_(!o.quiet && !o.verbose && !o.log_json && ::isatty(STDERR_FILENO)) {}
    void step() {
        ++done_;
        if (!on_) return;
        auto now = Clock::now();
        if (now - start_ < std::chrono::milliseconds(500) || now - drawn_ < std::chrono::milliseconds(100)) return;
        drawn_ = now;
        fmt::print(stderr, "\rapplying: {} of {} changes", done_, total_);
        std::fflush(stderr);
        shown_ = true;
    }
    void clear() {
        if (shown_) fmt::print(stderr, "\r\033[K"), std::fflush(stderr);
        shown_ = false;
    }
    ~ProgressLine() { clear(); }

private:
    using Clock = std::chrono::steady_clock;
    size_t total_, done_ = 0;
    bool on_, shown_ = false;
    Clock::time_point start_ = Clock::now(), drawn_{};
};

}  // namespace

void carry_out(Session& s, const Plan& p, const Desired& desired, const std::function<void()>& after_execute) {
    end_programs(s, removed_sandboxes(p));
    std::optional<trace::Span> t(std::in_place, "execute");
    Interruption interrupted;
    ProgressLine progress(s.opts, p.changes.size());
    auto report = execute(
        *s.kernel, p.changes,
        [&](const Change& c) {
            if (s.opts.verbose) fmt::print(stderr, "done: {} {} {}\n", to_string(c.action), to_string(c.kind()), c.id());
            progress.step();
        },
        [&] { return interrupted.why(); });
    progress.clear();
    if (!report.ok()) give_back(s, p, desired, fmt::format("apply: {}", *report.failure), report.rollback_failures);
    if (after_execute) after_execute();
    t.emplace("verify");
    auto left = verify(*s.kernel, desired, &p.changes);
    if (!left.empty()) {
        // The run did all it planned and the host still differs: it is rolled
        // back as a failed one is, so a failed apply never leaves a host half-way.
        std::string msg = "apply: the host still differs from the manifest after applying:";
        for (auto& l : left) msg += "\n  " + l;
        give_back(s, p, desired, msg, rollback(*s.kernel, p.changes, p.changes.size()));
    }
}

// The record is saved first: a run killed half-way leaves objects that the
// next destroy must be able to remove, and addresses the next apply keeps.
void carry_out_recorded(Session& s, const Plan& p, const Desired& desired, const ProjectRecord& next,
                        const std::function<void()>& after_execute) {
    auto previous = s.record();
    (trace::Span("save record"), s.state.save(next));
    s.host_lock.reset();  // the allocation is on record: other projects' runs see it now
    try {
        carry_out(s, p, desired, after_execute);
    } catch (const RolledBack&) {
        // The host is as it was, so is the record.
        if (previous) s.state.save(*previous);
        else s.state.remove(s.project_name);
        throw;
    }
}

namespace {

SavedPlan saved_plan(const Session& s, const Computed& c) {
    return {s.project_name, s.host,         s.next_record(c).manifests, c.desired.scope, fingerprint(c.live),
            c.plan.changes, c.desired.state, c.addressing};
}

}  // namespace

int cmd_plan(const Options& o) {
    if (!o.base.empty()) {
        if (!o.out.empty() || !o.services.empty())
            throw UserError("plan --base plans the whole change on paper; leave out --out and service names");
        return cmd_plan_base(o);
    }
    if (!o.out.empty() && !o.services.empty())
        throw UserError("plan --out saves a plan of the whole manifest; leave out the service names");
    auto s = Session::open(o, true, o.services.empty());
    auto c = s.compute();
    fail_on_errors(c.errors);
    print_plan(o, c.plan, s.project ? &*s.project : nullptr);
    if (!o.out.empty()) io::write_file_atomic(o.out, saved_plan_to_json(saved_plan(s, c)).dump(2) + "\n");
    leave(o.detailed_exitcode && !c.plan.empty() ? 2 : 0);
}

int cmd_apply(const Options& o) {
    if (!o.saved_plan.empty()) return cmd_apply_saved(o);
    auto s = Session::open(o, true);
    // One run per project at a time, and one allocation from the host's pools.
    auto lock = s.state.lock(s.project_name, o.lock_timeout);
    s.host_lock.emplace(s.state.lock_host(o.lock_timeout));
    auto c = s.compute();
    fail_on_errors(c.errors);
    print_plan(o, c.plan, s.project ? &*s.project : nullptr);
    if (o.dry_run || c.plan.empty()) {
        if (!o.dry_run) s.state.save(s.next_record(c));
        leave(0);
    }
    if (!confirm(o, "Apply these changes?")) throw UserError("apply cancelled; nothing was changed");
    carry_out_recorded(s, c.plan, c.desired, s.next_record(c));
    fmt::print("Apply complete: {}\n", done_line(c.plan));
    leave(0);
}

int cmd_apply_saved(const Options& o) {
    std::ifstream in(o.saved_plan);
    if (!in) throw UserError(fmt::format("cannot read saved plan {}", o.saved_plan));
    std::stringstream ss;
    ss << in.rdbuf();
    SavedPlan saved;
    try {
        saved = saved_plan_from_json(nlohmann::json::parse(ss.str()));
    } catch (const std::exception& e) {
        throw UserError(fmt::format("saved plan {} is not usable: {}", o.saved_plan, e.what()));
    }
    Plan p;
    p.changes = std::move(saved.changes);
    Desired desired;
    desired.state = std::move(saved.desired);
    desired.scope = saved.scope;
    Options po = o;
    po.project = saved.project;
    po.files.clear();  // the plan, not the manifest, says what to do
    auto s = Session::open(po, false);
    s.host = saved.host;
    p.project = s.project_name;
    auto lock = s.state.lock(s.project_name, o.lock_timeout);
    // A saved plan is carried out exactly, and only on the host it was computed from.
    auto live = s.kernel->read(desired.scope);
    if (fingerprint(live) != saved.fingerprint)
        throw UserError(fmt::format(
            "saved plan {} is stale: the host changed since it was made; run `topo plan` again",
            o.saved_plan));
    print_plan(o, p);
    if (p.empty()) return 0;
    carry_out_recorded(s, p, desired, {s.project_name, saved.manifests, s.host, saved.addressing});
    fmt::print("Apply complete: {}\n", done_line(p));
    return 0;
}

Computed plan_destroy(Session& s) {
    s.project.reset();  // nothing is desired
    return s.compute();
}

void finish_destroy(Session& s, const Computed& c) {
    fail_on_errors(c.errors);  // a network others are attached to, without --force
    if (!c.plan.empty()) carry_out(s, c.plan, c.desired);
    s.state.remove(s.project_name);
}

int cmd_destroy(const Options& o) {
    auto s = Session::open(o, false);
    auto lock = s.state.lock(s.project_name, o.lock_timeout);
    auto c = plan_destroy(s);
    if (!s.record() && !o.collect) {
        // Nothing to remove is what destroy is for: a destroy killed after it
        // removed the record, retried, succeeds (as `docker compose down` or
        // `terraform destroy` do). The message names the project and the state
        // directory, so a mistyped name does not go unseen.
        if (c.plan.empty()) {
            s.state.remove(s.project_name);  // a record half-written by a run killed while saving it
            fmt::print("Nothing to destroy: topo has no record of project {} in {} and finds nothing of it on this host.\n",
                       s.project_name, o.state_dir);
            return 0;
        }
        throw UserError(fmt::format(
            "topo has no record of project {} in {}, but finds {} object(s) marked as its own; "
            "run `topo destroy --project {} --collect` to remove them",
            s.project_name, o.state_dir, c.live.objects.size(), s.project_name));
    }
    print_plan(o, c.plan, s.project ? &*s.project : nullptr);
    fail_on_errors(c.errors);
    if (o.dry_run) return 0;
    if (!c.plan.empty() && !confirm(o, fmt::format("Destroy project {}?", s.project_name).c_str()))
        throw UserError("destroy cancelled; nothing was changed");
    finish_destroy(s, c);
    fmt::print("Destroy complete: {}\n", done_line(c.plan));
    return 0;
}

}  // namespace topo::cli
