// `topo probe`: the manifest's promises tried with real packets on the live
// host (reconcile/probe.hpp says which), shown as a reachability table per
// network, the isolation between networks, the published ports and the
// names, and for each broken promise what was expected, what happened and
// the likely cause. Exit 0 when every promise holds, 1 otherwise.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands_impl.hpp"
#include "model/naming.hpp"
#include "reconcile/probe.hpp"

namespace topo::cli {

namespace {

// The host's addresses to probe published ports at: not loopback or
// link-local, and not inside the project's own subnets (its gateways).
std::vector<IpAddr> host_addresses(Kernel& k, const Addressing& a) {
    std::vector<IpAddr> out;
    for (auto& ip : k.local_addresses()) {
        bool link_local = ip.is_v6() ? ip.bytes[0] == 0xfe && (ip.bytes[1] & 0xc0) == 0x80 : ip.bytes[0] == 169 && ip.bytes[1] == 254;
        bool ours = false;
        for (auto& [_, n] : a.networks)
            for (auto& sub : {n.subnet4, n.subnet6}) ours |= sub && sub->contains(ip);
        if (!ip.is_loopback() && !link_local && !ours && std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(ip);
    }
    return out;
}

const char* expected_word(const Expectation& e) { return e.reach ? "reach" : "be blocked"; }

// A table's matrix: ✔ where every promise from a row to a column holds, ✘ where one breaks.
std::string matrix(const std::vector<const Finding*>& fs, bool markdown) {
    std::set<std::string> names;
    std::map<std::pair<std::string, std::string>, bool> cell;
    for (auto* f : fs) {
        names.insert(f->expect->from), names.insert(f->expect->to);
        auto [it, fresh] = cell.try_emplace({f->expect->from, f->expect->to}, true);
        it->second = it->second && f->ok;
    }
    if (names.size() > 24) {  // too wide to read: counts instead
        size_t ok = 0;
        for (auto& [_, v] : cell) ok += v;
        return fmt::format("  {} of {} pairs hold\n", ok, cell.size());
    }
    std::vector<std::string> cols(names.begin(), names.end());
    size_t w = 0;
    for (auto& n : cols) w = std::max(w, n.size());
    std::string out;
    if (markdown) {
        out += fmt::format("| from \\ to | {} |\n|---|", fmt::join(cols, " | "));
        for (size_t i = 0; i < cols.size(); ++i) out += "---|";
        out += "\n";
    } else {
        out += fmt::format("  {:<{}}", "", w + 2);
        for (auto& c : cols) out += fmt::format(" {:^{}}", c, c.size() + 1);
        out += "\n";
    }
    for (auto& r : cols) {
        out += markdown ? fmt::format("| {} |", r) : fmt::format("  {:<{}}", r, w + 2);
        for (auto& c : cols) {
            auto it = cell.find({r, c});
            std::string mark = it == cell.end() ? "·" : it->second ? "✔" : "✘";
            out += markdown ? fmt::format(" {} |", mark) : fmt::format(" {:^{}}", mark, c.size() + 1);
        }
        out += "\n";
    }
    return out;
}

}  // namespace

ProbeResult probe_host(Session& s, const Computed& c, const std::set<std::string>& only, std::chrono::milliseconds timeout) {
    auto started = std::chrono::steady_clock::now();
    ProbeResult r;
    auto chains = s.kernel->base_chains();
    auto own = naming::nft_table(s.project_name);
    r.plan = probe_plan(*s.project, c.addressing, s.host, host_addresses(*s.kernel, c.addressing), only, timeout, chains, own);
    auto got = s.kernel->probe(r.plan.run);
    // A promise to reach that failed is tried once more: its ARP may have
    // waited on the host's one neighbour table, which every namespace shares
    // (reconcile/probe.hpp, pair_budget); a broken path fails twice.
    ProbeRun again{r.plan.run.listeners, {}, r.plan.run.timeout};
    std::vector<size_t> retried;
    for (size_t i = 0; i < got.size(); ++i)
        if (r.plan.expect[i].reach && !got[i].reached) again.probes.push_back(r.plan.run.probes[i]), retried.push_back(i);
    if (!retried.empty()) {
        auto second = s.kernel->probe(again);
        for (size_t k = 0; k < retried.size(); ++k)
            if (second[k].reached) got[retried[k]] = second[k];
    }
    r.report = judge_probes(r.plan, got, c, chains, own);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return r;
}

nlohmann::json finding_json(const Finding& f) {
    nlohmann::json j{{"ok", f.ok}, {"causes", f.causes}};
    if (f.expect) {
        j.update({{"table", f.expect->table}, {"from", f.expect->from}, {"to", f.expect->to}, {"what", f.expect->what},
                  {"expected", f.expect->reach ? "reach" : "blocked"}, {"got", f.got.what}});
    } else {
        j.update({{"table", "names"}, {"sandbox", f.sandbox}});
    }
    return j;
}

int cmd_probe(const Options& o) {
    auto all = o;
    all.services.clear();  // the whole plan, for causes; the probes are `only` the named
    auto s = Session::open(all, true);
    auto c = s.compute();
    fail_on_errors(c.errors);
    auto result = probe_host(s, c, std::set<std::string>(o.services.begin(), o.services.end()), o.probe_timeout);
    auto& plan = result.plan;
    auto& report = result.report;
    double seconds = result.seconds;

    std::map<std::string, std::vector<const Finding*>> tables;
    std::vector<const Finding*> names;
    for (auto& f : report.findings) {
        if (f.expect) tables[f.expect->table].push_back(&f);
        else names.push_back(&f);
    }
    if (o.format == Format::Json) {
        nlohmann::json fs = nlohmann::json::array();
        for (auto& f : report.findings) fs.push_back(finding_json(f));
        fmt::print("{}\n", nlohmann::json{{"project", s.project_name}, {"ok", report.broken == 0}, {"probes", plan.run.probes.size()},
                                          {"broken", report.broken}, {"seconds", seconds}, {"notes", plan.notes}, {"findings", fs}}
                               .dump(2));
        leave(report.broken ? 1 : 0);
    }
    bool md = o.format == Format::Markdown;
    std::string out = md ? fmt::format("### topo probe: project {}\n\n", s.project_name)
                         : fmt::format("Probe {}: {} probes, {} broken ({:.2f} s)\n", s.project_name, plan.run.probes.size(),
                                       report.broken, seconds);
    if (md) out += fmt::format("{} probes, **{} broken** ({:.2f} s)\n", plan.run.probes.size(), report.broken, seconds);
    for (auto& [table, fs] : tables) {
        out += md ? fmt::format("\n#### {}\n\n", table) : fmt::format("\n{}\n", table);
        if (table == "ports") {
            for (auto* f : fs)
                out += fmt::format("{}{} {} from {} → {}{}\n", md ? "- " : "  ", f->ok ? "✔" : "✘", f->expect->what,
                                   f->expect->from, f->expect->to, f->expect->reach ? "" : " (must not answer)");
            continue;
        }
        if (table == "isolation") out += md ? "(✔: blocked, as it must be)\n\n" : "  (✔: blocked, as it must be)\n";
        out += matrix(fs, md);
    }
    out += md ? "\n#### names\n\n" : "\nnames\n";
    if (names.empty()) out += md ? "✔ every sandbox's hosts file is topo's\n" : "  ✔ every sandbox's hosts file is topo's\n";
    for (auto& n : plan.notes) out += fmt::format("{}Note: {}\n", md ? "\n> " : "\n", n);
    if (report.broken) {
        out += md ? "\n#### broken\n\n" : "\nbroken\n";
        for (auto& f : report.findings) {
            if (f.ok) continue;
            if (f.expect)
                out += fmt::format("{}✘ {} → {}: {} ({}): expected to {}, got {}\n", md ? "- " : "  ", f.expect->from, f.expect->to,
                                   f.expect->what, f.expect->table, expected_word(*f.expect), f.got.what);
            else
                out += fmt::format("{}✘ names in {}: its hosts file is not what topo wrote\n", md ? "- " : "  ", f.sandbox);
            for (auto& cause : f.causes) out += fmt::format("{}{}{}\n", md ? "  - " : "      ", f.expect ? "cause: " : "", cause);
        }
    }
    fmt::print("{}", out);
    leave(report.broken ? 1 : 0);
}

}  // namespace topo::cli
