// How a plan is shown (cli/output.hpp): the text lines with their symbols and
// fields, the JSON document, and the Markdown section for a review comment.
#include "cli/output.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

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

std::string plan_markdown(const Plan& p) {
    std::string out = fmt::format("### topo plan: `{}`{}\n\n", p.project,
                                  p.host.empty() ? "" : fmt::format(" on `{}`", p.host));
    if (p.empty()) return out + summary_line(p) + "\n";
    out += "```diff\n";
    for (auto& c : p.changes) {
        // diff syntax colours lines by their first character.
        char lead = c.action == Action::Create ? '+' : c.action == Action::Delete ? '-' : '!';
        auto d = detail(c);
        out += fmt::format("{} {:<8} {}{}\n", lead, to_string(c.kind()), c.id(), d.empty() ? "" : " " + d);
    }
    out += "```\n\n";
    for (auto& n : p.notes) out += fmt::format("> {}\n", n);
    out += fmt::format("**{}**\n", summary_line(p));
    return out;
}

}  // namespace topo::cli
