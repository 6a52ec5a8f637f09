// The reader's helpers (manifest/reader.hpp): errors with their place and a
// printable text, typed access to scalars with key paths, unknown keys with
// a suggestion.
#include "manifest/reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace topo::manifest {

namespace {

// Control characters from the manifest (a NUL, an escape sequence) are
// shown, not sent to the terminal. A word longer than a line (a 100 kB name
// quoted back, twice) keeps its first 90 and last 10 bytes (at characters'
// starts, so its punctuation stays) and says how much was cut between.
std::string printable(const std::string& s) {
    constexpr size_t longest = 120, head = 90, tail = 10;
    auto start_of_char = [&](size_t at) {
        while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
        return at;
    };
    std::string out;
    auto put = [&](size_t from, size_t to) {
        for (size_t j = from; j < to; ++j) {
            auto c = static_cast<unsigned char>(s[j]);
            if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
            else out += char(c);
        }
    };
    for (size_t i = 0; i < s.size();) {
        size_t end = std::min(s.find(' ', i), s.size());
        if (end - i > longest) {
            size_t cut = start_of_char(i + head), resume = start_of_char(end - tail);
            put(i, cut);
            out += fmt::format("…[{} bytes cut]…", resume - cut);
            put(resume, end);
        } else {
            put(i, end);
        }
        if (end < s.size()) out += ' ';
        i = end + 1;
    }
    return out;
}

}  // namespace

std::string Error::str() const {
    if (mark.line == 0) return printable(fmt::format("{}: {}: {}", mark.file, path, message));
    return printable(fmt::format("{}:{}:{}: {}: {}", mark.file, mark.line, mark.column, path, message));
}

ManifestError::ManifestError(std::vector<Error> errors)
    : std::runtime_error(errors.empty() ? "invalid manifest" : errors.front().str()),
      errors_(std::move(errors)) {}

SourceMark Reader::mark(const yaml::Node& n) const {
    SourceMark m;
    if (n && n.source() < files.size()) m.file = files[n.source()];
    else if (!files.empty()) m.file = files.back();
    if (n && n.mark().line >= 0) {
        m.line = n.mark().line + 1;
        m.column = n.mark().column + 1;
    }
    return m;
}

void Reader::error(const yaml::Node& at, const std::string& path, std::string message) {
    errors.push_back({mark(at), path, std::move(message)});
}

void Reader::warn(const yaml::Node& at, const std::string& path, std::string message) {
    warnings.push_back({mark(at), path, std::move(message)});
}

std::optional<std::string> Reader::scalar(const yaml::Node& n, const std::string& path) {
    if (!n.IsScalar()) {
        error(n, path, n.IsNull() ? "a value is required here" : "expected a single value, not a list or map");
        return std::nullopt;
    }
    return n.Scalar();
}

std::optional<bool> Reader::boolean(const yaml::Node& n, const std::string& path) {
    auto s = scalar(n, path);
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "True" || *s == "yes") return true;
    if (*s == "false" || *s == "False" || *s == "no") return false;
    error(n, path, fmt::format("expected true or false, got \"{}\"", *s));
    return std::nullopt;
}

std::optional<long> Reader::integer(const yaml::Node& n, const std::string& path, long lo, long hi) {
    auto s = scalar(n, path);
    if (!s) return std::nullopt;
    size_t used = 0;
    long v = 0;
    try {
        v = std::stol(*s, &used, 10);
    } catch (...) {
        used = 0;
    }
    if (used == 0 || used != s->size()) {
        error(n, path, fmt::format("expected a whole number, got \"{}\"", *s));
        return std::nullopt;
    }
    if (v < lo || v > hi) {
        error(n, path, fmt::format("{} is out of range ({}-{})", v, lo, hi));
        return std::nullopt;
    }
    return v;
}

std::optional<IpAddr> Reader::ip(const yaml::Node& n, const std::string& path) {
    auto s = scalar(n, path);
    if (!s) return std::nullopt;
    auto a = IpAddr::parse(*s);
    if (!a) error(n, path, fmt::format("\"{}\" is not an IP address", *s));
    return a;
}

bool Reader::is_map(const yaml::Node& n, const std::string& path) {
    if (n.IsMap() || n.IsNull()) return true;
    error(n, path, "expected a map of keys and values");
    return false;
}

std::vector<std::string> Reader::strings(const yaml::Node& n, const std::string& path) {
    std::vector<std::string> out;
    if (n.IsNull()) return out;
    if (n.IsScalar()) return {n.Scalar()};
    if (!n.IsSequence()) {
        error(n, path, "expected a list of values");
        return out;
    }
    for (size_t i = 0; i < n.size(); ++i)
        if (auto s = scalar(n[i], fmt::format("{}[{}]", path, i))) out.push_back(*s);
    return out;
}

void Reader::no_duplicate_keys(const yaml::Node& n, const std::string& path) {
    if (!n.IsMap()) return;
    // Keys by reference: a service's map is read for each of thousands of
    // services. Sorted in a vector first: a set of 5,000 services' names, a
    // node each, was 1.5 ms of a watch's run; the set is for saying which.
    std::vector<std::string_view> keys;
    keys.reserve(n.size());
    for (auto& [key, _] : n)
        if (key.IsScalar()) keys.push_back(key.Scalar());
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) == keys.end()) return;
    std::set<std::string_view> seen;
    for (auto& [key, _] : n) {
        if (!key.IsScalar()) continue;
        const auto& k = key.Scalar();
        if (!seen.insert(k).second) error(key, join_path(path, k), "this key appears twice; keep one");
    }
}

void Reader::keys(const yaml::Node& n, const std::string& path, std::initializer_list<const char*> allowed) {
    if (!n.IsMap()) return;
    no_duplicate_keys(n, path);
    for (auto& [key, _] : n) {
        if (!key.IsScalar()) {
            error(key, path, "keys must be plain names");
            continue;
        }
        const auto& k = key.Scalar();
        if (k.starts_with("x-") || std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }))
            continue;
        auto hint = suggestion(k, std::vector<std::string>(allowed.begin(), allowed.end()));
        error(key, join_path(path, k), fmt::format("unknown key \"{}\"{}", k, hint.empty() ? "" : "; " + hint));
    }
}

yaml::Node node_at(const yaml::Node& root, std::initializer_list<std::string> keys) {
    yaml::Node cur = root;
    for (auto& k : keys) {
        if (!cur.IsMap()) return cur;
        yaml::Node next = cur[k];
        if (!next) return cur;
        cur = next;
    }
    return cur;
}

std::string join_path(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

static size_t distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string suggestion(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    size_t best_d = 3;  // at most two edits away
    for (auto& c : candidates) {
        auto d = distance(word, c);
        if (d < best_d) best_d = d, best = c;
    }
    return best.empty() ? "" : fmt::format("did you mean {}?", best);
}

}  // namespace topo::manifest
