// How a plan is shown (cli/output.hpp): the text lines with their symbols and
// fields, the JSON document, and the Markdown section for a review comment.
#include "cli/output.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>

#include "model/naming.hpp"
#include "state/serialize.hpp"

namespace topo::cli {

namespace {

struct Counts {
    int add = 0, change = 0, destroy = 0;
};

Counts count(const Plan& p) {
    Counts c;
    for (auto& ch : p.changes) {
        if (ch.implied) continue;  // goes with its parent
        switch (ch.action) {
            case Action::Create: ++c.add; break;
            case Action::Update: ++c.change; break;
            case Action::Delete: ++c.destroy; break;
            case Action::Replace: ++c.add; break;
        }
    }
    return c;
}

const char* symbol(const Change& c) {
    switch (c.action) {
        case Action::Create: return "+";
        case Action::Update: return "~";
        case Action::Delete: return "-";
        case Action::Replace: return "±";
    }
    return "?";
}

const char* color_of(const Change& c) {
    switch (c.action) {
        case Action::Create: return "\033[32m";
        case Action::Update: return "\033[33m";
        case Action::Delete: return "\033[31m";
        case Action::Replace: return "\033[35m";
    }
    return "";
}

// "network frontend" / "service web, network frontend" from a marker.
std::string owner_label(const Object& o) {
    auto* l = std::get_if<Link>(&o);
    auto m = l ? naming::Marker::parse(l->owner) : std::nullopt;
    if (!m) return "";
    switch (m->kind) {
        case naming::Marker::Kind::Network: return "network " + m->network;
        case naming::Marker::Kind::Sandbox: return "service " + m->service;
        case naming::Marker::Kind::Endpoint: return fmt::format("service {}, network {}", m->service, m->network);
        case naming::Marker::Kind::Project: break;
    }
    return "";
}

std::string detail(const Change& c) {
    std::vector<std::string> parts;
    auto d = describe(c.object());
    auto label = owner_label(c.object());
    for (auto& f : c.fields) parts.push_back(f);
    if (!label.empty()) parts.push_back(label);
    if (!c.reason.empty()) parts.push_back(c.reason);
    if (c.implied) parts.push_back("goes with its parent");
    std::string s = d;
    if (!parts.empty()) s += fmt::format("{}({})", s.empty() ? "" : " ", fmt::join(parts, "; "));
    return s;
}

}  // namespace

std::string summary_line(const Plan& p) {
    if (p.empty()) return "No changes. The host matches the manifest.";
    auto c = count(p);
    return fmt::format("Plan: {} to add, {} to change, {} to destroy.", c.add, c.change, c.destroy);
}

std::string done_line(const Plan& p) {
    auto c = count(p);
    return fmt::format("{} added, {} changed, {} destroyed.", c.add, c.change, c.destroy);
}

void print_warnings(const Project& p) {
    for (auto& w : p.warnings)
        fmt::print(stderr, "{}:{}:{}: {}: warning: {}\n", w.mark.file, w.mark.line, w.mark.column, w.path, w.message);
}

std::string plan_text(const Plan& p, bool color) {
    std::string out;
    for (auto& c : p.changes) {
        auto d = detail(c);
        auto line = fmt::format("  {} {:<8} {}{}", symbol(c), to_string(c.kind()), c.id(),
                                d.empty() ? "" : " " + d);
        if (color) line = fmt::format("{}{}\033[0m", color_of(c), line);
        out += line + "\n";
    }
    for (auto& n : p.notes) out += fmt::format("Note: {}\n", n);
    out += summary_line(p) + "\n";
    return out;
}

nlohmann::json summary_json(const Plan& p) {
    nlohmann::json summary{{"create", 0}, {"update", 0}, {"delete", 0}, {"replace", 0}};
    for (auto& c : p.changes)
        if (!c.implied) summary[to_string(c.action)] = summary[to_string(c.action)].get<int>() + 1;
    return summary;
}

std::string plan_json(const Plan& p) {
    nlohmann::json changes = nlohmann::json::array();
    for (auto& c : p.changes) changes.push_back(change_to_json(c));
    auto summary = summary_json(p);
    nlohmann::json j{{"format_version", 1},
                     {"project", p.project},
                     {"host", p.host.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.host)},
                     {"changes", changes},
                     {"summary", summary}};
    if (!p.notes.empty()) j["notes"] = p.notes;
    return j.dump(2) + "\n";
}

namespace {

// Which group of a review comment a change is shown in: "network front",
// "service web", "firewall", "names", "host". Links say it with their
// markers; what lives in a sandbox (namespace, addresses, routes, files) is
// its service's; what sits on a network's bridge is that network's.
std::string group_of(const Change& c, const std::string& project, const std::map<std::string, std::string>& networks) {
    auto service_of = [&](const std::string& ns) {
        auto prefix = project + "-";
        return "service " + (ns.starts_with(prefix) ? ns.substr(prefix.size()) : ns);
    };
    auto on_link = [&](const std::string& ns, const std::string& link) -> std::string {
        if (!ns.empty()) return service_of(ns);
        auto it = networks.find(link);
        return it == networks.end() ? "host" : it->second;
    };
    return std::visit(
        [&](const auto& o) -> std::string {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, Netns>) {
                return service_of(o.name);
            } else if constexpr (std::is_same_v<T, Link>) {
                if (auto m = naming::Marker::parse(o.owner)) {
                    if (m->kind == naming::Marker::Kind::Network) return "network " + m->network;
                    if (m->kind != naming::Marker::Kind::Project) return "service " + m->service;
                }
                return on_link(o.ns, o.name);
            } else if constexpr (std::is_same_v<T, Address>) {
                return on_link(o.ns, o.link);
            } else if constexpr (std::is_same_v<T, Route>) {
                return on_link(o.ns, o.dev);
            } else if constexpr (std::is_same_v<T, Fdb> || std::is_same_v<T, Neigh>) {
                return on_link("", o.dev);
            } else if constexpr (std::is_same_v<T, File>) {
                auto dir = std::filesystem::path(o.path).parent_path().filename().string();
                return dir.starts_with(".") ? "names (shared hosts files)" : service_of(dir);
            } else if constexpr (std::is_same_v<T, NftTable>) {
                return "firewall";
            } else {
                return "host";
            }
        },
        c.object());
}

std::string markdown_line(const Change& c) {
    // diff syntax colours lines by their first character.
    char lead = c.action == Action::Create ? '+' : c.action == Action::Delete ? '-' : '!';
    auto d = detail(c);
    return fmt::format("{} {:<8} {}{}\n", lead, to_string(c.kind()), c.id(), d.empty() ? "" : " " + d);
}

}  // namespace

std::string plan_markdown(const Plan& p, const Project* project, size_t limit) {
    std::string out = fmt::format("### topo plan: `{}`{}\n\n", p.project,
                                  p.host.empty() ? "" : fmt::format(" on `{}`", p.host));
    if (p.empty()) return out + summary_line(p) + "\n";
    // The networks' bridges and VXLAN devices, for what sits on them.
    std::map<std::string, std::string> networks;
    if (project)
        for (auto& [name, n] : project->networks)
            for (auto& link : {bridge_name(*project, n), naming::vxlan(project->name, name), naming::host_shim(project->name, name)})
                networks[link] = "network " + name;
    for (auto& c : p.changes)
        if (auto* l = std::get_if<Link>(&c.object()))
            if (auto m = naming::Marker::parse(l->owner); m && m->kind == naming::Marker::Kind::Network)
                networks[l->name] = "network " + m->network;
    // Networks, then services, then the rest; each kind's groups in the
    // order they first appear, their changes in the plan's order.
    std::vector<std::pair<std::string, std::vector<const Change*>>> groups;
    std::map<std::string, size_t> index;
    for (auto& c : p.changes) {
        auto g = group_of(c, p.project, networks);
        auto [it, fresh] = index.try_emplace(g, groups.size());
        if (fresh) groups.push_back({g, {}});
        groups[it->second].second.push_back(&c);
    }
    auto rank = [](const std::string& g) { return g.starts_with("network ") ? 0 : g.starts_with("service ") ? 1 : 2; };
    std::stable_sort(groups.begin(), groups.end(), [&](auto& a, auto& b) { return rank(a.first) < rank(b.first); });
    // The summary first: the totals, then a line per group.
    out += fmt::format("**{}**\n\n", summary_line(p));
    for (auto& n : p.notes) out += fmt::format("> {}\n", n);
    if (!p.notes.empty()) out += "\n";
    auto counts = [](const std::vector<const Change*>& cs) {
        Plan part;
        for (auto* c : cs) part.changes.push_back(*c);
        auto n = count(part);
        std::vector<std::string> said;
        if (n.add) said.push_back(fmt::format("{} to add", n.add));
        if (n.change) said.push_back(fmt::format("{} to change", n.change));
        if (n.destroy) said.push_back(fmt::format("{} to destroy", n.destroy));
        return said.empty() ? std::string("goes with the others") : fmt::format("{}", fmt::join(said, ", "));
    };
    std::string table = "| | changes |\n|---|---|\n";
    for (auto& [g, cs] : groups) table += fmt::format("| {} | {} |\n", g, counts(cs));
    // A table of more lines than a screen is folded too (and dropped past a third of the limit).
    if (groups.size() > 30)
        table = table.size() > limit / 3 ? ""
                                         : fmt::format("<details><summary>{} groups</summary>\n\n{}\n</details>\n", groups.size(), table);
    out += table + "\n";
    // Each group's changes; a long one folded. What would pass the limit is
    // left out whole, and said.
    constexpr size_t fold = 12;
    size_t left_groups = 0, left_changes = 0;
    const std::string tail_room(400, ' ');  // for the line saying what was left out
    for (auto& [g, cs] : groups) {
        std::string body = "```diff\n";
        for (auto* c : cs) body += markdown_line(*c);
        body += "```\n";
        std::string part = cs.size() > fold ? fmt::format("<details><summary>{}: {}</summary>\n\n{}\n</details>\n\n", g,
                                                          counts(cs), body)
                                            : fmt::format("#### {}\n\n{}\n", g, body);
        if (left_groups || out.size() + part.size() + tail_room.size() > limit) {
            ++left_groups, left_changes += cs.size();
            continue;
        }
        out += part;
    }
    if (left_groups)
        out += fmt::format("_{} more group{} ({} changes) left out to keep this under {} characters; `topo plan` prints "
                           "them all._\n",
                           left_groups, left_groups == 1 ? "" : "s", left_changes, limit);
    return out;
}

}  // namespace topo::cli
