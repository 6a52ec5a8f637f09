// Reading a manifest: bounds → top level → networks → services → defaults →
// cross-checks. Several files are merged first with Compose's rules.
#include "manifest/manifest.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "manifest/interpolate.hpp"
#include "manifest/parsers.hpp"

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
        if (s.mode == NetworkMode::Sandbox && !has_networks(r, name)) {
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

Project interpret(Reader& r, const yaml::Node& root, const LoadOptions& opts) {
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
    each_entry(r, root["services"], "services", p.services,
               [&](const std::string& n, const yaml::Node& v, Service& s) { parse_service(r, n, v, s); });
    if (auto h = root["hosts"]) parse_hosts(r, h, p);
    if (auto svcs = root["services"]; svcs && svcs.IsMap())
        for (auto it = svcs.begin(); it != svcs.end(); ++it) r.service_nodes.emplace(it->first.Scalar(), it->second);
    add_default_network(p, r);
    validate(r, p, root);
    return p;
}

// Compose merge: maps merge key by key; these lists are appended; other values are replaced.
yaml::Node merge(const yaml::Node& base, const yaml::Node& over, const std::string& key = "") {
    static const std::set<std::string> appended = {"ports", "dns", "dns_search", "dns_opt", "extra_hosts", "expose"};
    if (base.IsMap() && over.IsMap()) {
        auto out = base.entries();
        for (auto& entry : over) {
            const auto& k = entry.first;
            auto same = std::find_if(out.begin(), out.end(), [&](auto& e) { return e.first.IsScalar() && e.first.Scalar() == k.Scalar(); });
            if (!k.IsScalar() || same == out.end()) out.push_back(entry);
            else same->second = merge(same->second, entry.second, k.Scalar());
        }
        return yaml::Node::map(base, std::move(out));
    }
    if (base.IsSequence() && over.IsSequence() && appended.count(key)) {
        auto out = base.items();
        out.insert(out.end(), over.items().begin(), over.items().end());
        return yaml::Node::sequence(base, std::move(out));
    }
    return over;
}

// A manifest's text: a regular file, or standard input for "-", read up to
// one byte past the limit (so /dev/zero is refused, not read to the end). A
// FIFO, a device or a directory is refused by what it is: opened without
// blocking, so a FIFO nobody writes to does not hang topo.
bool read_manifest(const std::string& path, std::string& text, std::string& problem) {
    int fd = path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        problem = fmt::format("cannot read {}: {}", path, std::strerror(errno));
        return false;
    }
    struct Close {
        int fd;
        ~Close() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        problem = fmt::format("cannot read {}: {}", path, std::strerror(errno));
        return false;
    }
    if (path != "-" && !S_ISREG(st.st_mode)) {
        const char* what = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                         : S_ISCHR(st.st_mode) ? "a character device" : S_ISBLK(st.st_mode) ? "a block device"
                         : S_ISSOCK(st.st_mode) ? "a socket" : "not a regular file";
        problem = fmt::format("{} is {}; give a manifest file{}, or - to read standard input", path, what,
                              S_ISDIR(st.st_mode) ? " (topo watch -f DIR takes a directory of them)" : "");
        return false;
    }
    if (path != "-") ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            problem = fmt::format("cannot read {}: {}", path, std::strerror(errno));
            return false;
        }
        if (n == 0) return true;
        text.append(buf, size_t(n));
        if (text.size() > max_bytes) return true;  // load_text says how large is too large
    }
}

// The variables a manifest's values are interpolated with (LoadOptions).
// An unreadable or malformed env file is an error of the manifest's.
Lookup variables(Reader& r, const LoadOptions& opts, const std::string& first_file) {
    auto store = std::make_shared<std::map<std::string, std::string>>(opts.variables.value_or(
        std::map<std::string, std::string>{}));
    const bool from_environment = !opts.variables;
    Lookup environment = [](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
    };
    // (Given variables are all there is. Text given without a file, as the unit tests parse it, has no project directory.)
    std::vector<std::string> files = from_environment ? opts.env_files : std::vector<std::string>{};
    bool named = !files.empty();
    if (from_environment && !named && !first_file.empty()) {
        auto dir = first_file == "-" ? std::filesystem::current_path() : std::filesystem::absolute(first_file).parent_path();
        files.push_back((dir / ".env").string());
    }
    for (auto& f : files) {
        if (!named && !std::filesystem::exists(f)) continue;  // a project without .env
        std::ifstream in(f, std::ios::binary);
        std::stringstream buf;
        if (in) buf << in.rdbuf();
        if (!in || in.bad()) {
            r.errors.push_back({{f, 0, 0}, "(env file)", fmt::format("cannot read {}: {}", f, std::strerror(errno))});
            continue;
        }
        auto text = buf.str();
        try {
            for (auto& [k, v] : read_env_file(text, environment)) (*store)[k] = v;
        } catch (const InterpolationError& e) {
            r.errors.push_back({{f, 0, 0}, "(env file)", e.what()});
        }
    }
    // The process's environment wins over the files.
    return [store, environment, from_environment](const std::string& name) -> std::optional<std::string> {
        if (from_environment)
            if (auto v = environment(name)) return v;
        if (auto it = store->find(name); it != store->end()) return it->second;
        return std::nullopt;
    };
}

// The tree with its values interpolated; each value that cannot be is an
// error at its place, each variable used unset a warning.
yaml::Node interpolated(Reader& r, const yaml::Node& root, const Lookup& vars) {
    auto t = interpolate_tree(root, vars);
    auto where = [&](const TreeInterpolation::Problem& p) {
        return SourceMark{r.files[p.source], p.mark.line + 1, p.mark.column + 1};
    };
    for (auto& e : t.errors) r.errors.push_back({where(e), e.path, e.message});
    for (auto& u : t.unset)
        r.warnings.push_back({where(u), u.path,
                              fmt::format("variable {} is not set, and is an empty string here; set it (in the "
                                          "environment or .env), or give a default: ${{{}:-default}}",
                                          u.message, u.message)});
    return t.root;
}

// The file's tree, or undefined with the problem recorded. Its nodes carry
// the file's index in r.files, which names the file of an error.
yaml::Node load_text(Reader& r, std::string_view text, const std::string& file) {
    r.files.push_back(file);
    if (text.size() > max_bytes) {  // at the first byte past the limit
        auto at = yaml::mark_at(text, max_bytes);
        r.errors.push_back({{file, at.line + 1, at.column + 1}, "(document)",
                            fmt::format("the manifest is more than {} bytes (1 MiB), the most topo reads; split it "
                                        "(-f takes several files)",
                                        max_bytes)});
        return {};
    }
    try {
        return yaml::parse(text, unsigned(r.files.size() - 1));
    } catch (const yaml::Error& e) {
        r.errors.push_back({{file, e.mark.line + 1, e.mark.column + 1}, "(yaml)", e.what()});
        return {};
    }
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

Project parse(std::string_view text, const std::string& filename, const LoadOptions& opts) {
    Reader r;
    auto vars = variables(r, opts, "");
    auto root = load_text(r, text, filename);
    if (root) root = apply_profiles(interpolated(r, root, vars), opts, vars);
    if (!r.errors.empty()) throw ManifestError(r.errors);
    auto p = interpret(r, root, opts);
    if (!r.errors.empty()) throw ManifestError(r.errors);
    p.warnings = r.warnings;
    return p;
}

std::vector<std::string> discover_files() {
    std::vector<std::string> out;
    if (const char* env = std::getenv("COMPOSE_FILE"); env && *env) {
        std::string_view list(env);
        while (!list.empty()) {
            auto colon = list.find(':');
            if (auto part = list.substr(0, colon); !part.empty()) out.emplace_back(part);
            list = colon == std::string_view::npos ? std::string_view() : list.substr(colon + 1);
        }
        return out;
    }
    std::error_code ec, absent;  // (an absent file is not an error here)
    for (auto dir = std::filesystem::current_path(ec); !ec && !dir.empty(); dir = dir.parent_path()) {
        for (auto* name : {"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}) {
            auto file = dir / name;
            if (!std::filesystem::is_regular_file(file, absent)) continue;
            out.push_back(file.string());
            for (auto* over : {"compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml",
                               "docker-compose.override.yml"})
                if (std::filesystem::is_regular_file(dir / over, absent)) {
                    out.push_back((dir / over).string());
                    break;
                }
            return out;
        }
        if (dir == dir.root_path()) break;
    }
    return out;
}

namespace {

// The files read, interpolated (each before the merge, as Compose), merged
// and with the profiles applied; undefined with the errors in `r`. `named`:
// the options with COMPOSE_PROJECT_NAME, which names the project unless
// --project does.
yaml::Node read_all(Reader& r, const std::vector<std::string>& files, const LoadOptions& opts, LoadOptions& named) {
    auto vars = variables(r, opts, files.empty() ? "" : files.front());
    named = opts;
    if (auto env = vars("COMPOSE_PROJECT_NAME"); !opts.project && env && !env->empty()) {
        named.project = *env;
        named.project_from = "COMPOSE_PROJECT_NAME";
    }
    yaml::Node merged;
    for (auto& f : files) {
        std::string text, problem;
        if (!read_manifest(f, text, problem)) {
            r.files.push_back(f);
            r.errors.push_back({{f, 0, 0}, "(file)", problem});
            continue;
        }
        auto root = load_text(r, text, f == "-" ? "<stdin>" : f);
        if (root) root = interpolated(r, root, vars);
        if (root) merged = merged ? merge(merged, root) : root;
    }
    if (!r.errors.empty() || !merged) return {};
    return apply_profiles(merged, opts, vars);
}

}  // namespace

yaml::Node resolve(const std::vector<std::string>& files, const LoadOptions& opts) {
    Reader r;
    LoadOptions named;
    auto root = read_all(r, files, opts, named);
    if (!root) throw ManifestError(r.errors);
    return root;
}

Project load(const std::vector<std::string>& files, const LoadOptions& opts) {
    Reader r;
    LoadOptions named;
    auto root = read_all(r, files, opts, named);
    if (!root) throw ManifestError(r.errors);
    auto p = interpret(r, root, named);
    if (!r.errors.empty()) throw ManifestError(r.errors);
    p.warnings = r.warnings;
    return p;
}

}  // namespace topo::manifest
