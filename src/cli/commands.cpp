// Argument parsing (CLI11) and the one place where errors are printed.
#include "cli/commands.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <utility>
#include <csignal>
#include <map>

#include <fmt/format.h>

#include "cli/commands_impl.hpp"
#include "cli/help_pages.hpp"
#include "kernel/kernel.hpp"
#include "kernel/machine.hpp"
#include "manifest/manifest.hpp"
#include "model/trace.hpp"
#include "state/store.hpp"

namespace topo::cli {

namespace {

void common_options(CLI::App& app, Options& o, std::string& format, std::string& lock_timeout,
                    std::string& log_format) {
    app.add_option("-f,--file", o.files, "Manifest (repeatable: later files override earlier ones)")
        ->allow_extra_args(false);  // one file per -f, so `exec -f FILE SERVICE` works
    app.add_option("-p,--project", o.project, "Project name (default: the manifest's name or directory)");
    app.add_option("--host", o.host, "Which host of the manifest's `hosts` this is");
    app.add_option("--profile", o.profiles, "A Compose profile to activate (repeatable; also COMPOSE_PROFILES)")
        ->allow_extra_args(false);  // one a flag: `apply --profile x SERVICE` names SERVICE
    app.add_option("--scale", o.scale, "SERVICE=N: run N replicas of SERVICE, over the manifest's (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--env-file", o.env_files,
                   "Variables for ${...} in the manifest, read instead of the project's .env (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--state-dir", o.state_dir, "State directory")->envname("TOPO_STATE_DIR");
    app.add_option("-o,--output", format, "Output format: text, json or markdown")
        ->check(CLI::IsMember({"text", "json", "markdown"}));
    app.add_flag("--no-color", [&o](int64_t) { o.color = false; }, "No colours (also NO_COLOR)");
    app.add_flag("-v,--verbose", o.verbose, "Say more");
    app.add_flag("-q,--quiet", o.quiet, "No progress line on a terminal");
    app.add_option("--lock-timeout", lock_timeout, "How long to wait for another run (e.g. 30s, 500ms)");
    app.add_option("--log-format", log_format, "Log lines (watch): text or json")->check(CLI::IsMember({"text", "json"}));
}

std::chrono::milliseconds parse_duration(const char* option, const std::string& s) {
    size_t pos = 0;
    long v = -1;
    try {
        v = std::stol(s, &pos);
    } catch (const std::exception&) {
    }
    auto unit = s.substr(pos);
    if (v >= 0 && unit == "ms") return std::chrono::milliseconds(v);
    if (v >= 0 && (unit == "s" || unit.empty())) return std::chrono::seconds(v);
    if (v >= 0 && unit == "m") return std::chrono::minutes(v);
    if (v >= 0 && unit == "h") return std::chrono::hours(v);
    throw CLI::ValidationError(option, fmt::format("{}: use a whole number with ms, s, m or h (e.g. 500ms, 60s)", s));
}

// SIGTERM, TERM or 15.
int parse_signal(const std::string& name) {
    static const std::map<std::string, int> names = {
        {"TERM", SIGTERM}, {"INT", SIGINT}, {"KILL", SIGKILL}, {"HUP", SIGHUP}, {"QUIT", SIGQUIT},
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}};
    auto n = name.starts_with("SIG") ? name.substr(3) : name;
    if (auto it = names.find(n); it != names.end()) return it->second;
    char* end = nullptr;
    long v = std::strtol(n.c_str(), &end, 10);
    if (!n.empty() && !*end && v > 0 && v < 65) return int(v);
    throw UserError(fmt::format("--kill={}: not a signal; use a name such as SIGTERM, SIGINT or SIGKILL, or a number", name));
}

void print_error(const std::string& msg) { fmt::print(stderr, "topo: error: {}\n", msg); }

}  // namespace

Machine& machine() {
    // Never destroyed: the netfilter sockets it keeps are still open at exit,
    // when the kernel releases them (kernel/nft.hpp), and reachable till then.
    static Machine* const m = real_machine().release();
    return *m;
}

void leave(int rc) {
    std::cout.flush();
    std::fflush(nullptr);
    machine().exiting();
    trace::report("run (whole)", trace::started);
    ::_exit(rc);
}

int run(int argc, char** argv) {
    Options o;
    std::string format = "text", lock_timeout = "30s", log_format = "text", interval = "60s", debounce = "200ms",
                kill_timeout = "10s", kill_signal, probe_timeout = "1s";
    CLI::App app{"topo: Docker's container networking, declarative and standalone.\n"
                 "Write a Compose-like manifest, then `topo plan -f net.yaml` and `topo apply -f net.yaml`."};
    app.name("topo");
    app.require_subcommand(1);
    app.fallthrough();
    common_options(app, o, format, lock_timeout, log_format);

    auto* validate = app.add_subcommand("validate", "Check a manifest; change nothing");
    auto* config = app.add_subcommand("config", "Print the manifest as topo reads it: interpolated, merged, profiles applied");
    config->add_flag("--services", o.list_services, "Print only the service names, one a line");
    auto* plan = app.add_subcommand("plan", "Show what apply would do (the dry run)");
    plan->add_option("--out", o.out, "Save the plan, to apply exactly later with `topo apply PLAN`");
    plan->add_flag("--detailed-exitcode", o.detailed_exitcode, "Exit 2 when the plan has changes");
    plan->add_option("--base", o.base,
                     "For code review: plan against a host that holds this older manifest (a file, -, git:REV:PATH, or "
                     "git:REV for the -f files at REV), without root, state or kernel");
    plan->add_flag("--take-ports", o.take_ports, "Publish ports even where a program of the host listens on them");
    plan->add_option("services", o.services, "Only these services' sandboxes (and the networks they need)");
    auto* apply = app.add_subcommand("apply", "Make the host match the manifest");
    apply->add_option("services", o.services,
                      "With -f: only these services' sandboxes (and the networks they need), like "
                      "`docker compose up SERVICE`; without -f: a plan saved with `topo plan --out`");
    apply->add_flag("--dry-run", o.dry_run, "Print the plan and stop");
    apply->add_flag("-y,--auto-approve", o.auto_approve, "Do not ask for confirmation");
    apply->add_flag("--force", o.force, "Remove networks even when other projects' sandboxes are attached to them");
    apply->add_flag("--take-ports", o.take_ports, "Publish ports even where a program of the host listens on them");
    apply->add_flag("--kill{SIGTERM}", kill_signal,
                    "End the programs running in sandboxes that go (a service removed, or moved to another host) "
                    "first: SIGNAL (default SIGTERM), then SIGKILL after --timeout, as `docker compose up "
                    "--remove-orphans` stops containers");
    apply->add_option("--timeout", kill_timeout, "How long --kill waits before SIGKILL (default 10s)");
    auto* destroy = app.add_subcommand("destroy", "Remove everything topo made for a project");
    destroy->add_flag("--dry-run", o.dry_run, "Print the plan and stop");
    destroy->add_flag("-y,--auto-approve", o.auto_approve, "Do not ask for confirmation");
    destroy->add_flag("--collect", o.collect, "Remove objects marked as the project's even with no state record");
    destroy->add_flag("--force", o.force, "Remove networks even when other projects' sandboxes are attached to them");
    destroy->add_flag("--kill{SIGTERM}", kill_signal,
                      "End the programs running in the sandboxes first: SIGNAL (default SIGTERM), then SIGKILL "
                      "after --timeout, as `docker compose down` stops containers");
    destroy->add_option("--timeout", kill_timeout, "How long --kill waits before SIGKILL (default 10s)");
    auto* recover = app.add_subcommand("recover", "Rebuild a project's state record from the kernel's markers");
    auto* show = app.add_subcommand("show", "Live state of what topo manages for a project");
    auto* ls = app.add_subcommand("ls", "Projects, networks and sandboxes topo manages on this host");
    auto* exec = app.add_subcommand("exec", "Run a command inside a sandbox (with its hosts and resolv.conf)");
    exec->add_option("service", o.service, "The service whose sandbox to enter")->required();
    exec->add_option("command", o.command, "The command and its arguments, after --")->expected(-1);
    auto* watch = app.add_subcommand("watch", "Keep the host matching manifests (a file, or every *.yaml in a directory)");
    watch->add_option("--interval", interval, "Full resync every (default 60s)");
    watch->add_option("--debounce", debounce, "Let manifest changes and drift settle for (default 200ms)");
    watch->add_flag("--prune", o.prune, "Destroy a project whose manifest is removed from the directory");
    watch->add_flag("--probe", o.probe, "After each run that changed something, probe the project (as `topo probe`) and "
                                        "write the result into its status file");
    watch->add_option("--probe-timeout", probe_timeout, "How long each probe attempt waits (default 1s)");
    watch->add_flag("--once", o.once, "One run of each project, then exit: 0 in sync, 2 changed, 1 error (for cron and CI)");
    watch->add_option("--metrics-file", o.metrics_file,
                      "Write Prometheus metrics here after each run (node_exporter's textfile collector)");
    auto* status = app.add_subcommand("status", "What `topo watch` last did for each project (or -p NAME's): last run, "
                                                "last change, drift repaired, the manifest's git revision");
    auto* graph = app.add_subcommand("graph", "Picture of the topology (Graphviz dot, or Mermaid for a review comment)");
    graph->add_option("--format", o.graph_format, "dot (default) or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));
    auto* probe = app.add_subcommand("probe", "Try the manifest's promises with real packets: reachability, isolation, "
                                               "published ports, names (exit 1 when one breaks)");
    probe->add_option("services", o.services, "Only the probes from or to these services");
    probe->add_option("--timeout", probe_timeout, "How long each attempt waits for an answer (default 1s)");
    auto* version = app.add_subcommand("version", "Print topo's version");
    auto* completion = app.add_subcommand("completion", "Print a shell completion script: "
                                                        "`source <(topo completion bash)`, or zsh");
    std::string shell, man_dir;
    completion->add_option("shell", shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
    // In no group, so hidden from --help: the build writes the man pages with it.
    auto* man = app.add_subcommand("__man", "Write the man pages into DIR")->group("");
    man->add_option("dir", man_dir, "Where the pages go")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 1;
    }
    try {
        o.format = format == "json" ? Format::Json : format == "markdown" ? Format::Markdown : Format::Text;
        o.lock_timeout = parse_duration("--lock-timeout", lock_timeout);
        o.interval = parse_duration("--interval", interval);
        o.debounce = parse_duration("--debounce", debounce);
        o.kill_timeout = parse_duration("--timeout", kill_timeout);
        o.probe_timeout = parse_duration("--timeout", probe_timeout);
        if (!kill_signal.empty()) o.kill_signal = parse_signal(kill_signal);
        o.watching = watch->parsed();
        o.log_json = log_format == "json";
        if (std::getenv("NO_COLOR") || !::isatty(STDOUT_FILENO)) o.color = false;
        if (*version) return fmt::print("topo {}\n", TOPO_VERSION), 0;
        if (*completion) return cmd_completion(app, shell);
        if (*man) return cmd_man(app, man_dir);
        if (*validate) return cmd_validate(o);
        if (*config) return cmd_config(o);
        if (*plan) return cmd_plan(o);
        // Without -f, one argument that is a file is a saved plan; else the
        // arguments are services of the Compose file found here.
        if (*apply && o.files.empty() && !o.services.empty() && std::filesystem::is_regular_file(o.services.front())) {
            if (o.services.size() > 1)
                throw UserError("apply takes one saved plan; to apply services, pass the manifest with -f FILE");
            o.saved_plan = std::exchange(o.services, {}).front();
        }
        if (*apply) return cmd_apply(o);
        if (*destroy) return cmd_destroy(o);
        if (*graph) return cmd_graph(o);
        if (*probe) return cmd_probe(o);
        if (*show) return cmd_show(o);
        if (*recover) return cmd_recover(o);
        if (*ls) return cmd_ls(o);
        if (*exec) return cmd_exec(o);
        if (*watch) return cmd_watch(o);
        if (*status) return cmd_status(o);
    } catch (const manifest::ManifestError& e) {
        for (auto& err : e.errors()) fmt::print(stderr, "{}\n", err.str());
        fmt::print(stderr, "topo: error: the manifest has {} error(s); nothing was changed\n",
                   e.errors().size());
        return 1;
    } catch (const CLI::ValidationError& e) {
        print_error(e.what());
        return 1;
    } catch (const std::exception& e) {  // UserError, KernelError, StateError
        print_error(e.what());
        return 1;
    }
    return 1;
}

}  // namespace topo::cli
