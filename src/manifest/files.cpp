// A manifest's files (manifest/files.hpp): reading them without blocking or
// reading without end, their YAML, their variables and interpolation.
#include "manifest/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

namespace topo::manifest {

// A manifest's text: a regular file, or standard input for "-", read up to
// one byte past the limit (so /dev/zero is refused, not read to the end). A
// FIFO, a device or a directory is refused by what it is: opened without
// blocking, so a FIFO nobody writes to does not hang topo.
bool read_manifest(const std::string& path, std::string& text, std::string& problem, bool devices_too) {
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
    if (path != "-" && !S_ISREG(st.st_mode) && !(devices_too && S_ISCHR(st.st_mode))) {
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

namespace {

// A file's text from where the reader reads (LoadOptions::source), else as read_manifest reads it.
bool read_source(Reader& r, const std::string& path, std::string& text, std::string& problem, bool devices_too = false) {
    if (!r.source) return read_manifest(path, text, problem, devices_too);
    auto at = path == "-" ? path : std::filesystem::absolute(path).lexically_normal().string();
    return r.source(at, text, problem);
}

}  // namespace

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

Lookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
    };
}

Lookup layered(Lookup first, std::map<std::string, std::string> then) {
    auto store = std::make_shared<const std::map<std::string, std::string>>(std::move(then));
    return [first = std::move(first), store](const std::string& name) -> std::optional<std::string> {
        if (first)
            if (auto v = first(name)) return v;
        if (auto it = store->find(name); it != store->end()) return it->second;
        return std::nullopt;
    };
}

std::map<std::string, std::string> env_values(Reader& r, const std::vector<std::string>& files, bool required,
                                              const Lookup& refs, const yaml::Node& at, const std::string& path) {
    std::map<std::string, std::string> out;
    auto problem = [&](const std::string& f, std::string message) {
        if (at) r.error(at, path, fmt::format("{}: {}", f, message));
        else r.errors.push_back({{f, 0, 0}, "(env file)", std::move(message)});
    };
    for (auto& f : files) {
        std::error_code absent;
        if (!required && !r.source && !std::filesystem::exists(f, absent)) continue;  // a project without .env
        std::string text, why;
        bool read = read_source(r, f, text, why, true);
        if (!read && !required && r.source) continue;  // (from a source: absent there)
        if (!read || text.size() > max_bytes) {
            problem(f, why.empty() ? "more than 1 MiB; an env file is a few lines of VARIABLE=value" : why);
            continue;
        }
        try {
            // Entries of an earlier file are seen by a later one's ${}.
            for (auto& [k, v] : read_env_file(text, layered(refs, out))) out[k] = v;
        } catch (const InterpolationError& e) {
            problem(f, e.what());
        }
    }
    return out;
}

// An unreadable or malformed env file is an error of the manifest's.
Lookup variables(Reader& r, const LoadOptions& opts, const std::string& first_file) {
    // Given variables are all there is (the unit tests').
    if (opts.variables) return layered(nullptr, *opts.variables);
    std::vector<std::string> files = opts.env_files;
    bool named = !files.empty();
    // Text given without a file has no project directory.
    if (!named && !first_file.empty()) {
        auto dir = first_file == "-" ? std::filesystem::current_path() : std::filesystem::absolute(first_file).parent_path();
        files.push_back((dir / ".env").string());
    }
    // The process's environment wins over the files.
    auto environment = process_environment();
    return layered(environment, env_values(r, files, named, environment));
}

yaml::Node load_file(Reader& r, const std::string& file, const Lookup& vars, const yaml::Node& at,
                     const std::string& path) {
    std::string text, problem;
    if (!read_source(r, file, text, problem)) {
        if (at) r.error(at, path, problem);
        else {
            r.files.push_back(file);
            r.errors.push_back({{file, 0, 0}, "(file)", problem});
        }
        return {};
    }
    if (r.texts) r.texts->push_back(text);
    auto root = load_text(r, text, file == "-" ? "<stdin>" : file);
    return root ? interpolated(r, root, vars) : root;
}

std::string directory_of(const Reader& r, const yaml::Node& n) {
    std::error_code ec;
    auto file = n.source() < r.files.size() ? r.files[n.source()] : std::string();
    if (file.empty() || file == "<stdin>") return std::filesystem::current_path(ec).string();
    return std::filesystem::absolute(file, ec).parent_path().string();
}

std::vector<std::string> discover_files(const std::vector<std::string>& env_files) {
    std::vector<std::string> out;
    // COMPOSE_FILE from the environment, or from the working directory's
    // .env (--env-file's files instead); a malformed one is said when the
    // project's variables are read, not here.
    Reader quiet;
    auto environment = process_environment();
    auto vars = layered(environment, env_values(quiet, env_files.empty() ? std::vector<std::string>{".env"} : env_files,
                                                false, environment));
    if (auto list = vars("COMPOSE_FILE"); list && !list->empty()) {
        auto sep = vars("COMPOSE_PATH_SEPARATOR").value_or(":");
        if (sep.empty()) sep = ":";
        std::string_view rest(*list);
        while (!rest.empty()) {
            auto at = rest.find(sep);
            if (auto part = rest.substr(0, at); !part.empty()) out.emplace_back(part);
            rest = at == std::string_view::npos ? std::string_view() : rest.substr(at + sep.size());
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

}  // namespace topo::manifest
