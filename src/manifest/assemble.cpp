// One Compose model out of a project's files (manifest/assemble.hpp).
#include "manifest/assemble.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "manifest/files.hpp"

namespace topo::manifest {

namespace {

// Whether two trees say the same (where they were written aside).
bool same(const yaml::Node& a, const yaml::Node& b) {
    if (a.IsMap() != b.IsMap() || a.IsSequence() != b.IsSequence() || a.IsScalar() != b.IsScalar()) return false;
    if (a.IsScalar()) return a.Scalar() == b.Scalar();
    if (a.IsSequence())
        return std::equal(a.items().begin(), a.items().end(), b.items().begin(), b.items().end(), same);
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return same(x.first, y.first) && same(x.second, y.second);
    });
}

std::vector<yaml::Node::Entry>::iterator entry(std::vector<yaml::Node::Entry>& entries, const std::string& key) {
    return std::find_if(entries.begin(), entries.end(),
                        [&](const auto& e) { return e.first.IsScalar() && e.first.Scalar() == key; });
}

// A map without some of its keys.
yaml::Node without(const yaml::Node& map, std::initializer_list<std::string_view> keys) {
    if (!map.IsMap()) return map;
    std::vector<yaml::Node::Entry> kept;
    for (auto& e : map)
        if (std::find(keys.begin(), keys.end(), e.first.Scalar()) == keys.end()) kept.push_back(e);
    return yaml::Node::map(map, std::move(kept));
}

// A map with `key` set to `value` (replaced where it is, else added).
yaml::Node with(const yaml::Node& map, const yaml::Node& key, const yaml::Node& value) {
    auto entries = map.entries();
    if (auto it = entry(entries, key.Scalar()); it != entries.end()) it->second = value;
    else entries.emplace_back(key, value);
    return yaml::Node::map(map, std::move(entries));
}

// A service's networks written as a list, as the map it stands for.
yaml::Node as_map(const yaml::Node& list) {
    std::vector<yaml::Node::Entry> entries;
    for (auto& item : list.items()) entries.emplace_back(item, yaml::Node::null(item));
    return yaml::Node::map(list, std::move(entries));
}

// A path as written in a file in `dir`, made absolute and normal.
std::string resolved_path(const std::string& dir, const std::string& path) {
    std::filesystem::path p(path);
    if (p.is_relative()) p = std::filesystem::path(dir) / p;
    return p.lexically_normal().string();
}

}  // namespace

yaml::Node merge(const yaml::Node& base, const yaml::Node& over, const std::string& key) {
    static const std::set<std::string> replaced = {"command", "entrypoint", "test"};  // shell commands
    if (key == "networks" && base.IsSequence() && over.IsMap()) return merge(as_map(base), over, key);
    if (key == "networks" && base.IsMap() && over.IsSequence()) return merge(base, as_map(over), key);
    if (base.IsMap() && over.IsNull()) return base;
    if (base.IsMap() && over.IsMap()) {
        auto out = base.entries();
        for (auto& e : over) {
            auto it = e.first.IsScalar() ? entry(out, e.first.Scalar()) : out.end();
            if (e.second.tag() == yaml::Node::Tag::Reset) {  // `key: !reset …`: as if never set
                if (it != out.end()) out.erase(it);
            } else if (it == out.end()) {
                out.push_back(e);
            } else {
                it->second = e.second.tag() == yaml::Node::Tag::Override ? e.second : merge(it->second, e.second, e.first.Scalar());
            }
        }
        return yaml::Node::map(base, std::move(out));
    }
    if (base.IsSequence() && over.IsSequence() && !replaced.count(key)) {
        auto out = base.items();
        // (An include's relative path names a different file in each file's directory: never one.)
        for (auto& item : over.items())
            if (key == "include" || std::none_of(out.begin(), out.end(), [&](const yaml::Node& had) { return same(had, item); }))
                out.push_back(item);
        return yaml::Node::sequence(base, std::move(out));
    }
    return over;
}

namespace {

// `include:` — each entry's files are a project of their own: merged
// together, their paths relative to their own directory, interpolated with
// this project's variables over their own env file (the included project's
// `.env` unless `env_file` names others), with their own includes and
// extends resolved; then their services, networks and the rest are copied
// into this model. A name both sides define differently is an error (Compose
// says it does not merge them; it would silently keep one).
struct Includer {
    Reader& r;
    std::vector<std::string> chain;  // the files being read, outermost first

    yaml::Node run(const yaml::Node& root, const Lookup& vars);

    yaml::Node one(const yaml::Node& e, const std::string& path, const Lookup& vars) {
        auto dir = directory_of(r, e);
        std::vector<std::string> files, env_files;
        std::string project_dir;
        bool named_env = false;
        if (e.IsScalar()) {
            files.push_back(resolved_path(dir, e.Scalar()));
        } else if (e.IsMap()) {
            r.keys(e, path, {"path", "project_directory", "env_file"});
            if (!e["path"]) r.error(e, path, "an include needs path: (a Compose file, or a list of them)");
            else
                for (auto& f : r.strings(e["path"], path + ".path")) files.push_back(resolved_path(dir, f));
            if (auto d = e["project_directory"])
                project_dir = resolved_path(dir, r.scalar(d, path + ".project_directory").value_or("."));
            if (auto f = e["env_file"]) {
                named_env = true;
                for (auto& one : r.strings(f, path + ".env_file")) env_files.push_back(resolved_path(dir, one));
            }
        } else {
            r.error(e, path, "expected a Compose file's path, or a map with path:");
        }
        if (files.empty()) return {};
        for (auto& f : files)
            if (auto loop = std::find(chain.begin(), chain.end(), f); loop != chain.end()) {
                std::vector<std::string> cycle(loop, chain.end());
                cycle.push_back(f);
                r.error(e, path, fmt::format("include cycle: {}; remove one of these includes", fmt::join(cycle, " → ")));
                return {};
            }
        if (project_dir.empty()) project_dir = std::filesystem::path(files.front()).parent_path().string();
        if (!named_env) env_files.push_back(project_dir + "/.env");
        auto own = layered(vars, env_values(r, env_files, named_env, vars, e, path + ".env_file"));
        yaml::Node tree;
        for (auto& f : files)
            if (auto one = load_file(r, f, own, e, path)) tree = tree ? merge(tree, one) : one;
        if (!tree) return {};
        chain.insert(chain.end(), files.begin(), files.end());
        tree = run(tree, own);
        chain.resize(chain.size() - files.size());
        return tree;
    }
};

yaml::Node extend(Reader& r, const yaml::Node& root, const Lookup& vars);

yaml::Node Includer::run(const yaml::Node& root, const Lookup& vars) {
    auto list = root["include"];
    if (!list) return extend(r, root, vars);
    auto out = without(root, {"include"});
    if (!list.IsSequence()) {
        r.error(list, "include", "expected a list of Compose files (or of path: entries)");
        return out;
    }
    for (size_t i = 0; i < list.size(); ++i) {
        auto theirs = one(list[i], fmt::format("include[{}]", i), vars);
        if (!theirs.IsMap()) continue;
        for (auto* section : {"services", "networks", "volumes", "secrets", "configs", "hosts"}) {
            auto from = theirs[section];
            if (!from.IsMap()) continue;
            auto ours = out[section];
            auto entries = ours.IsMap() ? ours.entries() : std::vector<yaml::Node::Entry>{};
            for (auto& e : from) {
                auto it = entry(entries, e.first.Scalar());
                if (it == entries.end()) entries.push_back(e);
                else if (!same(it->second, e.second))
                    r.error(it->first, fmt::format("{}.{}", section, e.first.Scalar()),
                            fmt::format("defined here and, differently, in the included {} (line {}); Compose does not "
                                        "merge an included project's {}: rename one, or define it in one place",
                                        r.files[e.first.source()], e.first.mark().line + 1, section));
            }
            out = with(out, yaml::Node::scalar(from, section), yaml::Node::map(ours ? ours : from, std::move(entries)));
        }
    }
    return extend(r, out, vars);
}

// `extends:` — a service starts from another (of this file, or of `file:`,
// relative to the file that says so), which may extend in turn; its own
// keys are merged on top. `depends_on` and `volumes_from` are never taken
// over, as in Compose. A loop is an error naming it.
struct Extender {
    Reader& r;
    const Lookup& vars;
    std::map<std::string, yaml::Node> files;  // other files' trees, by path
    std::vector<std::string> chain;           // the services being extended, outermost first
    std::set<std::set<std::string>> cycles;   // said once, from whichever member is met first

    // `found`: the service's node when the caller has it (a map's keys are
    // looked up linearly: by name for each of 5,000 services is O(N²)).
    yaml::Node service(const yaml::Node& services, const std::string& file, const std::string& name,
                       const yaml::Node* found = nullptr) {
        auto s = found ? *found : services[name];
        auto e = s["extends"];
        if (!s.IsMap() || !e) return s;
        auto label = file.empty() ? name : fmt::format("{} ({})", name, file);
        auto path = file.empty() ? fmt::format("services.{}.extends", name) : "extends";
        auto own = without(s, {"extends"});
        if (auto loop = std::find(chain.begin(), chain.end(), label); loop != chain.end()) {
            std::vector<std::string> cycle(loop, chain.end());
            if (cycles.insert({cycle.begin(), cycle.end()}).second) {
                cycle.push_back(label);
                r.error(e, path, fmt::format("extends cycle: {}; one of them must not extend the next", fmt::join(cycle, " → ")));
            }
            return own;
        }
        std::string target, target_file = file;
        auto target_services = services;
        if (e.IsScalar()) {
            target = e.Scalar();
        } else if (e.IsMap() && e["service"]) {
            r.keys(e, path, {"service", "file"});
            target = r.scalar(e["service"], path + ".service").value_or("");
            if (auto f = e["file"]) {
                target_file = resolved_path(directory_of(r, e), r.scalar(f, path + ".file").value_or(""));
                auto [it, fresh] = files.try_emplace(target_file);
                if (fresh) it->second = load_file(r, target_file, vars, f, path + ".file");
                if (!it->second) return own;  // (said where it was named)
                target_services = it->second["services"];
            }
        } else {
            r.error(e, path, "expected the name of a service to start from, or a map with service: (and file:)");
            return own;
        }
        if (!target_services[target].IsMap()) {
            if (!target.empty())
                r.error(e, path, fmt::format("there is no service \"{}\" in {} to extend", target,
                                             target_file.empty() ? "this project" : target_file));
            return own;
        }
        chain.push_back(label);
        auto base = service(target_services, target_file, target);
        chain.pop_back();
        return merge(without(base, {"depends_on", "volumes_from"}), own);
    }
};

yaml::Node extend(Reader& r, const yaml::Node& root, const Lookup& vars) {
    auto services = root["services"];
    if (!services.IsMap()) return root;
    Extender x{r, vars, {}, {}, {}};
    std::vector<yaml::Node::Entry> out;
    bool changed = false;
    for (auto& [k, v] : services) {
        auto s = x.service(services, "", k.Scalar(), &v);
        changed |= !s.is(v);
        out.emplace_back(k, s);
    }
    if (!changed) return root;
    return with(root, yaml::Node::scalar(services, "services"), yaml::Node::map(services, std::move(out)));
}

// The tree without the services of profiles that are not active (nor named).
yaml::Node apply_profiles(const yaml::Node& root, const LoadOptions& opts, const Lookup& vars) {
    auto services = root["services"];
    if (!services.IsMap()) return root;
    std::set<std::string> active(opts.profiles.begin(), opts.profiles.end());
    if (auto env = vars("COMPOSE_PROFILES")) {
        std::string_view list(*env);
        while (!list.empty()) {
            auto comma = list.find(',');
            if (auto part = list.substr(0, comma); !part.empty()) active.emplace(part);
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
    }
    std::set<std::string> named(opts.named_services.begin(), opts.named_services.end());
    auto on = [&](const yaml::Node& name, const yaml::Node& s) {
        auto profiles = s["profiles"];
        if (!profiles.IsSequence() || profiles.size() == 0 || active.count("*") || named.count(name.Scalar())) return true;
        for (auto& p : profiles.items())
            if (active.count(p.Scalar())) return true;
        return false;
    };
    std::vector<yaml::Node::Entry> kept;
    for (auto& entry : services)
        if (on(entry.first, entry.second)) kept.push_back(entry);
    if (kept.size() == services.size()) return root;
    std::vector<yaml::Node::Entry> top;
    for (auto& [k, v] : root) top.emplace_back(k, k.Scalar() == "services" ? yaml::Node::map(v, kept) : v);
    return yaml::Node::map(root, std::move(top));
}

}  // namespace

yaml::Node assemble(Reader& r, const yaml::Node& merged, const Lookup& vars, const LoadOptions& opts) {
    if (!merged.IsMap()) return merged;  // (interpret says what is wrong with it)
    Includer inc{r, {}};
    for (auto& f : r.files)
        if (f != "<stdin>") inc.chain.push_back(resolved_path(std::filesystem::current_path().string(), f));
    auto root = inc.run(merged, vars);
    if (!r.errors.empty()) return {};
    return apply_profiles(root, opts, vars);
}

}  // namespace topo::manifest
