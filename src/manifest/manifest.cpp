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

// Compose's implicit network: a service (read from `node`) with no
// networks key joins `default`.
void join_default(Service& s, const yaml::Node& node) {
    if (s.mode != NetworkMode::Sandbox || !s.endpoints.empty() || (node.IsMap() && node["networks"])) return;
    Endpoint e;
    e.network = "default";
    s.endpoints.push_back(e);
}

// Whether a service is on `default` (joined, or naming it explicitly).
bool on_default(const std::map<std::string, Service>& services) {
    for (auto& [_, s] : services)
        for (auto& e : s.endpoints)
            if (e.network == "default") return true;
    return false;
}

void add_implicit_network(std::map<std::string, Network>& networks) {
    if (networks.count("default")) return;
    Network n;
    n.name = "default";
    n.implicit = true;
    networks["default"] = n;
}

void add_default_network(Project& p, const Reader& r) {
    for (auto& [name, s] : p.services) join_default(s, r.service(name));
    if (on_default(p.services)) add_implicit_network(p.networks);
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

// The ids of reads with a cache, across caches: a project given back is
// taken only by the cache that read it (give_back).
uint64_t next_load_id() {
    static uint64_t last = 0;
    return ++last;
}

// The marks of the entries that began at line `after_line` (0-based) or
// later, `moved` lines further: those after a change that added or took
// out lines. (An entry's marks are on its own lines: an earlier entry's
// are at most `after_line`, 1-based.)
void move_marks_after(Service& s, size_t after_line, long moved) {
    if (moved != 0 && s.mark.line > long(after_line)) move_marks(s, int(moved));
}

// Entry `name` taken out of a project, as expand_replicas() left it: false
// when it has replicas (whose links others' entries were rewritten to).
bool take_out(Project& p, const std::string& name) {
    if (auto it = p.services.find(name); it != p.services.end()) {
        if (it->second.replica_of) return false;
        p.services.erase(it);
    }
    return replicas_of(p, name).empty();
}

Project shape_of(const Project& p) {
    Project out;
    out.name = p.name;
    out.source_file = p.source_file;
    out.networks = p.networks;
    out.hosts = p.hosts;
    out.warnings = p.warnings;
    return out;
}

// The project the delta was made from (the spare), brought up to the one it
// led to; false when it cannot be (replicas).
bool replay(Project& p, LoadCache::Delta& d) {
    if (d.moved != 0)
        for (auto& [_, s] : p.services) move_marks_after(s, d.after_line, d.moved);
    for (auto& name : d.names)
        if (!take_out(p, name)) return false;
    for (auto& s : d.entries) {
        auto name = s.name;
        if (s.replica_of || !p.services.emplace(name, std::move(s)).second) return false;
    }
    auto services = std::move(p.services);
    p = std::move(d.shape);
    p.services = std::move(services);
    return true;
}

// What a read changed: `touched`'s entries as they came out. Nothing when
// one has replicas (replay() could not put them in).
std::optional<LoadCache::Delta> delta_of(const Project& p, const std::set<std::string>& touched, const Reread& next) {
    LoadCache::Delta d{touched, {}, shape_of(p), next.end_line, next.moved};
    for (auto& name : touched) {
        if (auto it = p.services.find(name); it != p.services.end()) d.entries.push_back(it->second);
        if (!replicas_of(p, name).empty()) return std::nullopt;
    }
    return d;
}

// The last read's project brought up to this text without building it anew
// (LoadCache::spare, with the last read's delta): the entries `next` read
// again taken out and put back as they now read, each checked with what it
// names (validate() on them alone), and against the others (meets_others()).
// The others are valid together, and nothing outside the services changed:
// that is the whole read's checks. Nothing when it cannot be done so
// (replicas, --scale, the implicit network coming or going, an entry that
// meets another): the caller builds the project from the parsed entries.
// `delta` is what it changed.
std::optional<Project> patched(LoadCache& c, const Reread& next, Reader& r, const LoadOptions& opts,
                               std::optional<LoadCache::Delta>& delta) {
    // A copy of the last read's own project has nothing to replay.
    bool last = c.spare && c.spare_of == c.id;
    if (!c.spare || (!last && !c.delta) || !opts.scale.empty()) return std::nullopt;
    Project p = std::move(*c.spare);
    c.spare.reset();
    if (!last && !replay(p, *c.delta)) return std::nullopt;
    // What is outside the services (unchanged: reread() says so), read as
    // interpret() reads it, to compare.
    Project q;
    q.source_file = r.files.back();
    project_name(r, next.root, opts, q);
    each_entry(r, next.root["networks"], "networks", q.networks,
               [&](const std::string& n, const yaml::Node& v, Network& net) { parse_network(r, n, v, net); });
    if (auto h = next.root["hosts"]) parse_hosts(r, h, q);
    for (auto& name : next.touched)
        if (!take_out(p, name)) return std::nullopt;
    if (next.moved != 0)
        for (auto& [_, s] : p.services) move_marks_after(s, next.end_line, next.moved);
    // The entries read again, parsed as interpret() parses them.
    const auto& entries = next.root["services"].entries();
    std::set<std::string> fresh;
    std::map<std::string, std::pair<yaml::Node, Service>> parsed;
    for (size_t k = next.first; k < next.after; ++k) {
        auto name = entries[k].first.Scalar();
        const auto& v = entries[k].second;
        if (!valid_name(name) || p.services.count(name) || !fresh.insert(name).second) return std::nullopt;
        Service s;
        parse_service(r, name, v, s);
        if (s.replicas) return std::nullopt;
        parsed.emplace(name, std::pair{v, s});
        join_default(s, v);
        r.service_nodes.emplace(name, v);
        q.services.emplace(name, std::move(s));
    }
    if (!r.errors.empty() || !r.warnings.empty()) return std::nullopt;
    // Compose's implicit network, as add_default_network() has it (the
    // others are looked at only when it may be theirs alone).
    auto was = p.networks.find("default");
    bool implicit = was != p.networks.end() && was->second.implicit;
    if (on_default(q.services) || (implicit && on_default(p.services))) add_implicit_network(q.networks);
    if (q.name != p.name || q.networks != p.networks || q.hosts != p.hosts) return std::nullopt;
    // What the fresh entries name, for validate() to find: their own links
    // dropped (they were valid with the others, which are unchanged).
    for (auto& name : fresh) {
        auto& s = q.services.at(name);
        auto named = [&](const std::string& t) {
            auto it = p.services.find(t);
            if (q.services.count(t) || it == p.services.end() || it->second.replica_of) return;
            q.services.emplace(t, it->second).first->second.links.clear();
        };
        for (auto& [target, _] : s.links) named(target);
        if (s.mode == NetworkMode::Service) named(s.mode_service);
    }
    validate(r, q, next.root);
    if (!r.errors.empty() || !r.warnings.empty() || meets_others(p, q, fresh, next.touched)) return std::nullopt;
    delta = LoadCache::Delta{next.touched, {}, shape_of(q), next.end_line, next.moved};
    for (auto& name : fresh) {
        delta->entries.push_back(q.services.at(name));
        p.services.insert(q.services.extract(name));
    }
    for (auto& name : next.touched)
        if (!fresh.count(name)) c.parsed.erase(name);
    for (auto& [name, e] : parsed) c.parsed[name] = std::move(e);
    return p;
}

// A watch's read of a manifest it read before: only the services whose text
// changed are parsed (manifest/cache.hpp), and where the watch gave back the
// project before the last, that is patched (patched()). Nothing when it
// cannot be done so, or finds anything to say: the whole read says it.
std::optional<Project> load_piecewise(LoadCache& c, const std::vector<std::string>& files, const LoadOptions& opts) {
    if (!c.ready() || opts.source || files.size() != 1 || files.front() != c.file) return std::nullopt;
    std::string text, problem;
    if (!read_manifest(c.file, text, problem) || text.size() > max_bytes || !piecewise(text)) return std::nullopt;
    auto next = reread(c, text);
    if (!next.root) return std::nullopt;
    // The services after the change, kept, are where it moved them.
    if (next.moved != 0)
        for (auto& [_, e] : c.parsed) move_marks_after(e.second, next.end_line, next.moved);
    auto reader = [&] {
        Reader r;
        LoadOptions named;
        naming(r, files, opts, named);
        r.files.push_back(c.file);
        return std::pair{std::move(r), named};
    };
    auto [r, named] = reader();
    std::optional<LoadCache::Delta> delta;
    auto p = patched(c, next, r, named, delta);
    c.patched = bool(p);
    std::set<std::string> touched = next.touched;
    if (!p) {
        auto [whole, named_again] = reader();
        touched.clear();
        p = interpret(whole, next.root, named_again, &c.parsed, &touched);
        if (!whole.errors.empty() || !whole.warnings.empty()) {
            c.clear();
            return std::nullopt;
        }
        delta = delta_of(*p, touched, next);
    }
    c.touched = std::move(touched);
    c.text = std::move(text);
    c.root = std::move(next.root);
    c.service_lines = std::move(next.service_lines);
    c.services_end = next.services_end;
    c.before = std::exchange(c.id, next_load_id());
    c.delta = std::move(delta);
    c.spare.reset();
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
        cache->before = std::exchange(cache->id, next_load_id());
        cache->delta.reset();  // a whole read: no delta from the read before
        cache->spare.reset();
        cache->patched = false;
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

uint64_t load_id(const LoadCache& cache) { return cache.id; }

void give_back(LoadCache& cache, Project&& project, uint64_t id) {
    if (id != 0 && id == cache.before && cache.delta) cache.spare = std::move(project), cache.spare_of = id;
}

void keep_copy(LoadCache& cache, const Project& project, uint64_t id) {
    if (id != 0 && id == cache.id && cache.ready() && !cache.spare && !cache.delta) cache.spare = project, cache.spare_of = id;
}

}  // namespace topo::manifest
