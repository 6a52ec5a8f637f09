// Reading a manifest: bounds → top level → networks → services → defaults →
// cross-checks. Several files are merged first with Compose's rules.
#include "manifest/manifest.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "manifest/assemble.hpp"
#include "manifest/cache.hpp"
#include "manifest/files.hpp"
#include "manifest/parsers.hpp"
#include "model/trace.hpp"

namespace topo::manifest {

// [a-z0-9][a-z0-9_-]*, at most 32 characters.
bool valid_project(const std::string& s) {
    auto ok = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && (c == '_' || c == '-'));
    };
    if (s.empty() || s.size() > 32) return false;
    for (size_t i = 0; i < s.size(); ++i)
        if (!ok(s[i], i == 0)) return false;
    return true;
}

namespace {

const std::vector<std::string> top_keys = {"name", "networks", "services", "hosts", "version", "volumes", "secrets", "configs", "include", "models"};

// Compose: the project name defaults to the directory's name, lower-cased with
// characters other than [a-z0-9_-] dropped (or, named by file, the file's stem).
std::string default_name(const std::string& file, bool by_file) {
    auto path = std::filesystem::absolute(file);
    auto base = by_file ? path.stem().string() : path.parent_path().filename().string();
    std::string out;
    for (unsigned char c : base) {
        c = char(std::tolower(c));
        if (std::isalnum(c) || c == '_' || c == '-') out += char(c);
    }
    while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out[0]))) out.erase(0, 1);
    return out;
}


void parse_hosts(Reader& r, const yaml::Node& n, Project& p) {
    if (!r.is_map(n, "hosts")) return;
    r.no_duplicate_keys(n, "hosts");
    for (auto it = n.begin(); it != n.end(); ++it) {
        auto name = it->first.Scalar();
        auto path = "hosts." + name;
        if (!valid_name(name)) r.error(it->first, path, fmt::format("\"{}\" is not a valid host name", name));
        if (!r.is_map(it->second, path)) continue;
        r.keys(it->second, path, {"address"});
        if (!it->second["address"]) {
            r.error(it->second, path, "a host needs address: (its underlay IP address)");
            continue;
        }
        if (auto a = r.ip(it->second["address"], path + ".address")) p.hosts[name] = {name, *a};
    }
}

void project_name(Reader& r, const yaml::Node& root, const LoadOptions& opts, Project& p) {
    if (opts.project) {
        p.name = *opts.project;
        if (!valid_project(p.name))
            r.errors.push_back({{r.files.back(), 0, 0}, opts.project_from,
                                fmt::format("\"{}\" is not a valid project name: use a-z, 0-9, _ and -, at most 32 characters, starting with a letter or digit", p.name)});
        return;
    }
    if (auto n = root["name"]) {
        p.name = r.scalar(n, "name").value_or("");
        if (!p.name.empty() && !valid_project(p.name))
            r.error(n, "name", fmt::format("\"{}\" is not a valid project name: use a-z, 0-9, _ and -, at most 32 characters, starting with a letter or digit", p.name));
        return;
    }
    p.name = default_name(r.files.back(), opts.named_by_file);
    if (!valid_project(p.name))
        r.errors.push_back({{r.files.back(), 0, 0}, "name",
                            fmt::format("cannot derive a project name from the manifest's {}; set name: at the top of the manifest",
                                        opts.named_by_file ? "file name" : "directory")});
}

template <class T, class F>
void each_entry(Reader& r, const yaml::Node& n, const std::string& section, std::map<std::string, T>& out, F parse) {
    if (!n || !r.is_map(n, section)) return;
    r.no_duplicate_keys(n, section);
    for (auto it = n.begin(); it != n.end(); ++it) {
        auto name = it->first.Scalar();
        if (!valid_name(name)) {
            r.error(it->first, join_path(section, name),
                    fmt::format("\"{}\" is not a valid name: use letters, digits, '_', '.' and '-' (at most 64, starting with a letter or digit)", name));
            continue;
        }
        parse(name, it->second, out[name]);
    }
}

bool has_networks(const Reader& r, const std::string& service) {
    auto svc = r.service(service);
    return svc.IsMap() && svc["networks"];
}

// Compose's implicit network: services with no networks key join `default`.
void add_default_network(Project& p, const Reader& r) {
    bool needed = false;
    for (auto& [name, s] : p.services)
        if (s.mode == NetworkMode::Sandbox && s.endpoints.empty() && !has_networks(r, name)) {
            Endpoint e;
            e.network = "default";
            s.endpoints.push_back(e);
            needed = true;
        }
    // A service may also name Compose's implicit network explicitly.
    for (auto& [name, s] : p.services)
        for (auto& e : s.endpoints) needed |= e.network == "default";
    if (needed && !p.networks.count("default")) {
        Network n;
        n.name = "default";
        n.implicit = true;
        p.networks["default"] = n;
    }
}

// `parsed`: services parsed before, by the node they were read from (a
// watch's LoadCache): one whose node this root still holds is not parsed
// again; the others are, and replace what it holds, and are `touched`
// (with those gone), when given.
Project interpret(Reader& r, const yaml::Node& root, const LoadOptions& opts,
                  std::map<std::string, std::pair<yaml::Node, Service>>* parsed = nullptr,
                  std::set<std::string>* touched = nullptr) {
    Project p;
    p.source_file = r.files.back();
    if (root.IsNull()) {
        r.errors.push_back({{p.source_file, 0, 0}, "(document)", "the manifest is empty; it needs at least services:"});
        return p;
    }
    if (!root.IsMap()) {
        r.error(root, "(document)", "a manifest is a map with services:, networks: and name:");
        return p;
    }
    r.keys(root, "", {"name", "networks", "services", "hosts", "version", "volumes", "secrets", "configs", "include", "models"});
    project_name(r, root, opts, p);
    each_entry(r, root["networks"], "networks", p.networks,
               [&](const std::string& n, const yaml::Node& v, Network& net) { parse_network(r, n, v, net); });
    each_entry(r, root["services"], "services", p.services, [&](const std::string& n, const yaml::Node& v, Service& s) {
        if (!parsed) return parse_service(r, n, v, s);
        auto& was = (*parsed)[n];
        if (was.first.is(v)) {
            s = was.second;
            return;
        }
        parse_service(r, n, v, s);
        was = {v, s};
        if (touched) touched->insert(n);
    });
    if (parsed && parsed->size() > p.services.size())
        std::erase_if(*parsed, [&](const auto& e) {
            bool gone = !p.services.count(e.first);
            if (gone && touched) touched->insert(e.first);
            return gone;
        });
    if (auto h = root["hosts"]) parse_hosts(r, h, p);
    if (auto svcs = root["services"]; svcs && svcs.IsMap())
        for (auto it = svcs.begin(); it != svcs.end(); ++it) r.service_nodes.emplace(it->first.Scalar(), it->second);
    add_default_network(p, r);
    apply_scale(r, p, opts.scale);
    validate(r, p, root);
    if (r.errors.empty()) expand_replicas(p);
    return p;
}







}  // namespace

Project parse(std::string_view text, const std::string& filename, const LoadOptions& opts) {
    Reader r;
    auto vars = variables(r, opts, "");
    auto root = load_text(r, text, filename);
    if (root) root = interpolated(r, root, vars);
    if (root && r.errors.empty()) root = assemble(r, root, vars, opts);
    if (!r.errors.empty()) throw ManifestError(r.errors);
    auto p = interpret(r, root, opts);
    if (!r.errors.empty()) throw ManifestError(r.errors);
    p.warnings = r.warnings;
    return p;
}


namespace {

// The files read, interpolated (each before the merge, as Compose), merged
// and with the profiles applied; undefined with the errors in `r`. `named`:
// the options with COMPOSE_PROJECT_NAME, which names the project unless
// --project does.
Lookup naming(Reader& r, const std::vector<std::string>& files, const LoadOptions& opts, LoadOptions& named) {
    r.source = opts.source;
    auto vars = variables(r, opts, files.empty() ? "" : files.front());
    named = opts;
    if (auto env = vars("COMPOSE_PROJECT_NAME"); !opts.project && env && !env->empty()) {
        named.project = *env;
        named.project_from = "COMPOSE_PROJECT_NAME";
    }
    return vars;
}

yaml::Node read_all(Reader& r, const std::vector<std::string>& files, const LoadOptions& opts, LoadOptions& named) {
    auto vars = naming(r, files, opts, named);
    yaml::Node merged;
    for (auto& f : files)
        if (auto root = load_file(r, f, vars, {}, "(file)")) merged = merged ? merge(merged, root) : root;
    if (!r.errors.empty() || !merged) return {};
    return assemble(r, merged, vars, opts);
}

}  // namespace

yaml::Node resolve(const std::vector<std::string>& files, const LoadOptions& opts) {
    Reader r;
    LoadOptions named;
    auto root = read_all(r, files, opts, named);
    if (!root) throw ManifestError(r.errors);
    return root;
}

namespace {

// A service's marks `lines` further down the file.
void move_marks(Service& s, int lines) {
    auto move = [&](SourceMark& m) {
        if (m.line > 0) m.line += lines;
    };
    move(s.mark);
    for (auto& e : s.endpoints) move(e.mark);
    for (auto& port : s.ports) move(port.mark);
}

// A watch's read of a manifest it read before: only the services whose text
// changed are parsed (manifest/cache.hpp). Nothing when it cannot be done so,
// or finds anything to say: the whole read says it.
std::optional<Project> load_piecewise(LoadCache& c, const std::vector<std::string>& files, const LoadOptions& opts) {
    if (!c.ready() || opts.source || files.size() != 1 || files.front() != c.file) return std::nullopt;
    std::string text, problem;
    if (!read_manifest(c.file, text, problem) || text.size() > max_bytes || !piecewise(text)) return std::nullopt;
    auto next = reread(c, text);
    if (!next.root) return std::nullopt;
    // The services after the change, kept, are where it moved them.
    if (next.moved != 0) {
        const auto& entries = next.root["services"].entries();
        for (size_t k = next.after; k < entries.size(); ++k)
            if (auto it = c.parsed.find(entries[k].first.Scalar()); it != c.parsed.end() && it->second.first.is(entries[k].second))
                move_marks(it->second.second, int(next.moved));
    }
    Reader r;
    LoadOptions named;
    naming(r, files, opts, named);
    r.files.push_back(c.file);
    std::set<std::string> touched;
    auto p = interpret(r, next.root, named, &c.parsed, &touched);
    if (!r.errors.empty() || !r.warnings.empty()) {
        c.clear();
        return std::nullopt;
    }
    c.touched = std::move(touched);
    c.text = std::move(text);
    c.root = std::move(next.root);
    c.service_lines = std::move(next.service_lines);
    c.services_end = next.services_end;
    return p;
}

}  // namespace

Project load(const std::vector<std::string>& files, const LoadOptions& opts, LoadCache* cache) {
    if (cache) {
        auto start = std::chrono::steady_clock::now();
        if (auto p = load_piecewise(*cache, files, opts)) {
            trace::report("manifest in pieces", start);
            return std::move(*p);
        }
        cache->touched.reset();
    }
    Reader r;
    LoadOptions named;
    std::vector<std::string> texts;
    if (cache) r.texts = &texts;
    auto root = read_all(r, files, opts, named);
    if (!root) {
        if (cache) cache->clear();
        throw ManifestError(r.errors);
    }
    // Kept for the next read when it can be read in pieces.
    bool keep = cache && !opts.source && files.size() == 1 && files.front() != "-" && texts.size() == 1 && piecewise(texts.front());
    if (cache && !keep) cache->clear();
    auto p = interpret(r, root, named, keep ? &cache->parsed : nullptr);
    if (keep) {
        cache->file = files.front();
        cache->text = std::move(texts.front());
        cache->root = root;
        if (!r.errors.empty() || !r.warnings.empty() || !learn_layout(*cache)) cache->clear();
    }
    if (!r.errors.empty()) throw ManifestError(r.errors);
    p.warnings = r.warnings;
    return p;
}

std::shared_ptr<LoadCache> load_cache() { return std::make_shared<LoadCache>(); }

std::optional<std::set<std::string>> touched(const LoadCache& cache) { return cache.touched; }

}  // namespace topo::manifest
