// Interpolation of a manifest's values and the `.env` reader
// (manifest/interpolate.hpp), after the Compose specification.
#include "manifest/interpolate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace topo::manifest {

namespace {

bool name_start(char c) { return c == '_' || std::isalpha(static_cast<unsigned char>(c)); }
bool name_char(char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)); }

// A recursive reader of one value: `until_brace` stops at the `}` that
// closes a `${...}` whose default or replacement is being read.
struct Expander {
    std::string_view s;
    const Lookup& vars;
    std::set<std::string>& unset;
    size_t i = 0;

    std::string run(bool until_brace) {
        std::string out;
        while (i < s.size()) {
            char c = s[i];
            if (until_brace && c == '}') return out;
            if (c != '$') {
                out += c;
                ++i;
                continue;
            }
            size_t at = i++;
            if (i < s.size() && s[i] == '$') {
                out += '$';
                ++i;
            } else if (i < s.size() && s[i] == '{') {
                ++i;
                out += braced(at);
            } else if (i < s.size() && name_start(s[i])) {
                size_t from = i;
                while (i < s.size() && name_char(s[i])) ++i;
                out += value_of(std::string(s.substr(from, i - from)), true);
            } else {
                throw InterpolationError(
                    "a $ starts $VAR, ${VAR} or ${VAR:-default}; write $$ for a $ of its own", at);
            }
        }
        if (until_brace) throw InterpolationError("this ${ is not closed by a }", s.size());
        return out;
    }

    std::string value_of(const std::string& name, bool warn) {
        if (auto v = vars(name)) return *v;
        if (warn) unset.insert(name);
        return "";
    }

    // After `${`: a name, then `}` or an operator and its text.
    std::string braced(size_t at) {
        size_t from = i;
        if (i >= s.size() || !name_start(s[i]))
            throw InterpolationError("${ is followed by a variable's name (letters, digits and _)", at);
        while (i < s.size() && name_char(s[i])) ++i;
        std::string name(s.substr(from, i - from));
        if (i >= s.size()) throw InterpolationError("this ${ is not closed by a }", at);
        if (s[i] == '}') {
            ++i;
            return value_of(name, true);
        }
        bool colon = i < s.size() && s[i] == ':';
        if (colon) ++i;
        if (i >= s.size() || (s[i] != '-' && s[i] != '?' && s[i] != '+'))
            throw InterpolationError(fmt::format("${{{0}...}} is not a form Compose knows: use ${{{0}}}, ${{{0}:-default}}, "
                                                 "${{{0}:?message}} or ${{{0}:+replacement}}",
                                                 name),
                                     at);
        char op = s[i++];
        auto value = vars(name);
        bool given = colon ? value && !value->empty() : value.has_value();
        // The text after the operator is read (and so checked) whether or not it is used.
        bool used = op == '+' ? given : !given;  // a default that is not used warns of nothing
        std::set<std::string> inner_unset;
        Expander inner{s, vars, used ? unset : inner_unset, i};
        std::string text = inner.run(true);
        i = inner.i + 1;  // past the `}`
        switch (op) {
            case '-': return given ? *value : text;
            case '+': return given ? text : "";
            default:
                if (given) return *value;
                throw InterpolationError(
                    fmt::format("variable {} is {}: {}", name, value ? "empty" : "not set",
                                text.empty() ? "it is required" : text),
                    at);
        }
    }
};

// The value part of one `.env` line, from its first character.
std::string env_value(std::string_view v, const Lookup& vars, size_t line) {
    auto fail = [&](const std::string& why) {
        throw InterpolationError(fmt::format("line {}: {}", line, why), 0);
    };
    std::set<std::string> unset;
    if (!v.empty() && v[0] == '\'') {
        auto end = v.find('\'', 1);
        if (end == std::string_view::npos) fail("a ' is not closed");
        return std::string(v.substr(1, end - 1));
    }
    if (!v.empty() && v[0] == '"') {
        std::string raw;
        size_t k = 1;
        for (; k < v.size() && v[k] != '"'; ++k) {
            if (v[k] != '\\' || k + 1 >= v.size()) {
                raw += v[k];
                continue;
            }
            char e = v[++k];
            raw += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        }
        if (k >= v.size()) fail("a \" is not closed");
        try {
            return interpolate(raw, vars, unset);
        } catch (const InterpolationError& e) {
            fail(e.what());
        }
    }
    // Unquoted: up to a ` #` comment, trimmed.
    auto hash = v.find(" #");
    if (hash != std::string_view::npos) v = v.substr(0, hash);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    try {
        return interpolate(v, vars, unset);
    } catch (const InterpolationError& e) {
        fail(e.what());
    }
    return {};
}

std::string_view trim(std::string_view t) {
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
    return t;
}

// A key path built only when a problem needs it: a manifest of 5,000
// services has ~50,000 nodes and, as a rule, no `$` at all.
struct Path {
    const Path* parent = nullptr;
    std::string_view key;  // a map's key, or
    size_t index = 0;      // a sequence's index (key empty)

    std::string str() const {
        if (!parent) return "";
        auto head = parent->str();
        if (key.empty()) return fmt::format("{}[{}]", head, index);
        return head.empty() ? std::string(key) : head + "." + std::string(key);
    }
};

struct TreeWalk {
    const Lookup& vars;
    TreeInterpolation& out;
    std::map<std::string, TreeInterpolation::Problem> unset;

    yaml::Node walk(const yaml::Node& n, const Path& path) {
        if (n.IsScalar()) return scalar(n, path);
        if (n.IsSequence()) {
            std::vector<yaml::Node> items;  // filled only once an item changed
            for (size_t k = 0; k < n.size(); ++k) {
                auto item = walk(n[k], Path{&path, {}, k});
                if (items.empty() && !item.is(n[k])) items.assign(n.items().begin(), n.items().begin() + long(k));
                if (!items.empty() || !item.is(n[k])) items.push_back(std::move(item));
            }
            return items.empty() ? n : yaml::Node::sequence(n, std::move(items));
        }
        if (n.IsMap()) {
            std::vector<yaml::Node::Entry> entries;  // the same
            const auto& all = n.entries();
            for (size_t k = 0; k < all.size(); ++k) {
                auto& [key, v] = all[k];
                auto value = walk(v, Path{&path, key.Scalar(), 0});
                if (entries.empty() && !value.is(v)) entries.assign(all.begin(), all.begin() + long(k));
                if (!entries.empty() || !value.is(v)) entries.emplace_back(key, std::move(value));
            }
            return entries.empty() ? n : yaml::Node::map(n, std::move(entries));
        }
        return n;
    }

    yaml::Node scalar(const yaml::Node& n, const Path& path) {
        const auto& text = n.Scalar();
        if (text.find('$') == std::string::npos) return n;
        std::set<std::string> names;
        try {
            auto value = interpolate(text, vars, names);
            for (auto& name : names) unset.try_emplace(name, TreeInterpolation::Problem{n.mark(), n.source(), path.str(), name});
            return value == text ? n : yaml::Node::scalar(n, std::move(value));
        } catch (const InterpolationError& e) {
            out.errors.push_back({n.mark(), n.source(), path.str(), e.what()});
            return n;
        }
    }
};

}  // namespace

std::string interpolate(std::string_view text, const Lookup& vars, std::set<std::string>& unset) {
    Expander e{text, vars, unset};
    return e.run(false);
}

TreeInterpolation interpolate_tree(const yaml::Node& root, const Lookup& vars) {
    TreeInterpolation out;
    TreeWalk w{vars, out, {}};
    out.root = w.walk(root, Path{});
    for (auto& [_, p] : w.unset) out.unset.push_back(p);
    return out;
}

std::map<std::string, std::string> read_env_file(std::string_view text, const Lookup& environment) {
    std::map<std::string, std::string> out;
    // Entries above are seen by those below; the process's variables win.
    Lookup vars = [&](const std::string& name) -> std::optional<std::string> {
        if (auto v = environment(name)) return v;
        if (auto it = out.find(name); it != out.end()) return it->second;
        return std::nullopt;
    };
    size_t line = 0;
    while (!text.empty()) {
        ++line;
        auto nl = text.find('\n');
        auto raw = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        auto l = trim(raw);
        if (l.empty() || l[0] == '#') continue;
        if (l.starts_with("export ")) l = trim(l.substr(7));
        auto eq = l.find('=');
        if (eq == std::string_view::npos)
            throw InterpolationError(fmt::format("line {}: not VARIABLE=value", line), 0);
        auto key = trim(l.substr(0, eq));
        if (key.empty() || !name_start(key[0]) ||
            std::find_if_not(key.begin(), key.end(), name_char) != key.end())
            throw InterpolationError(fmt::format("line {}: \"{}\" is not a variable's name", line, key), 0);
        out[std::string(key)] = env_value(trim(l.substr(eq + 1)), vars, line);
    }
    return out;
}

}  // namespace topo::manifest
