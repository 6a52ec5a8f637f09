// Reading a changed manifest piecewise (manifest/cache.hpp).
#include "manifest/cache.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "manifest/files.hpp"
#include "manifest/reader.hpp"

namespace topo::manifest {

namespace {

// Where each line of `text` begins (a text ending in a newline has an empty
// last line, starting at its end).
std::vector<size_t> line_starts(std::string_view text) {
    std::vector<size_t> out{0};
    for (const char* p = text.data(); (p = static_cast<const char*>(std::memchr(p, '\n', text.data() + text.size() - p)));)
        out.push_back(size_t(++p - text.data()));
    return out;
}

// The line that byte `offset` is on.
size_t line_of(const std::vector<size_t>& starts, size_t offset) {
    return size_t(std::upper_bound(starts.begin(), starts.end(), offset) - starts.begin()) - 1;
}

size_t lines_in(std::string_view text) { return size_t(std::count(text.begin(), text.end(), '\n')); }

// Whether a key at `m` begins its line in block style: only spaces before it
// (no `?` of an explicit key, no `{` or `,` of a flow map).
bool begins_line(std::string_view text, const std::vector<size_t>& starts, yaml::Mark m) {
    if (m.line < 0 || size_t(m.line) >= starts.size() || m.column < 0) return false;
    size_t from = starts[size_t(m.line)], at = from + size_t(m.column);
    if (at >= text.size()) return false;
    for (size_t k = from; k < at; ++k)
        if (text[k] != ' ') return false;
    return true;
}

}  // namespace

void LoadCache::clear() { *this = LoadCache{}; }

bool piecewise(std::string_view text) {
    // `$` interpolation (values would change with the variables), `&` `*`
    // `<<` (one entry naming another's nodes), `!` tags, `%` directives, `\`
    // escapes (a quoted "\x24" is a `$`, "\x65xtends" is extends: found by
    // review); and the keys that make one service another's or leave it out.
    for (char c : {'$', '&', '*', '!', '%', '\\'})
        if (text.find(c) != std::string_view::npos) return false;
    for (auto* word : {"<<", "extends", "include", "profiles"})
        if (text.find(word) != std::string_view::npos) return false;
    // Lines are counted at '\n'; libyaml also breaks them at a lone '\r' and
    // at NEL, LS and PS (found by review: a rename after an LS in a comment
    // dropped a service).
    for (auto* other : {"\xC2\x85", "\xE2\x80\xA8", "\xE2\x80\xA9"})
        if (text.find(other) != std::string_view::npos) return false;
    for (size_t cr = text.find('\r'); cr != std::string_view::npos; cr = text.find('\r', cr + 1))
        if (cr + 1 == text.size() || text[cr + 1] != '\n') return false;
    return true;
}

bool learn_layout(LoadCache& c) {
    c.service_lines.clear();
    if (!c.root.IsMap()) return false;
    auto starts = line_starts(c.text);
    std::optional<size_t> services_line, next_line;
    yaml::Node services;
    int last = -1;
    for (auto& [k, v] : c.root) {
        auto m = k.mark();
        if (m.column != 0 || m.line <= last || !begins_line(c.text, starts, m)) return false;  // a flow map, or keys out of order
        last = m.line;
        if (k.Scalar() == "services") services_line = size_t(m.line), services = v;
        else if (services_line && !next_line) next_line = size_t(m.line);
    }
    if (!services_line || !services.IsMap() || services.size() == 0) return false;
    // `services:` alone on its line (or with a comment): a block map follows,
    // not a flow map whose entries could be on lines of their own.
    {
        size_t from = starts[*services_line] + std::string_view("services").size();
        size_t to = *services_line + 1 < starts.size() ? starts[*services_line + 1] : c.text.size();
        std::string_view rest(c.text.data() + from, to - from);
        size_t colon = rest.find_first_not_of(' ');
        if (colon == std::string_view::npos || rest[colon] != ':') return false;
        size_t after = rest.find_first_not_of(" \t\r\n", colon + 1);
        if (after != std::string_view::npos && rest[after] != '#') return false;
    }
    last = int(*services_line);
    for (auto& [k, v] : services) {
        auto m = k.mark();
        if (m.line <= last || m.column <= 0 || !begins_line(c.text, starts, m)) return false;
        if (c.service_lines.empty()) c.service_column = size_t(m.column);
        else if (size_t(m.column) != c.service_column) return false;
        last = m.line;
        c.service_lines.push_back(size_t(m.line));
    }
    c.services_end = next_line.value_or(starts.size());
    return true;
}

Reread reread(const LoadCache& c, const std::string& text) {
    Reread out;
    const std::string& old = c.text;
    size_t same = 0;
    size_t shorter = std::min(old.size(), text.size());
    while (same < shorter && old[same] == text[same]) ++same;
    if (same == old.size() && same == text.size()) {
        out.root = c.root;
        out.service_lines = c.service_lines;
        out.services_end = c.services_end;
        out.after = out.first = c.service_lines.size();
        out.end_line = c.services_end;
        return out;
    }
    size_t tail = 0;
    while (tail < shorter - same && old[old.size() - 1 - tail] == text[text.size() - 1 - tail]) ++tail;
    // The change: bytes [same, old.size() - tail) of the old text, [same,
    // text.size() - tail) of the new; the lines it is on, in the old.
    auto starts = line_starts(old);
    size_t end_old = old.size() - tail;
    size_t first = line_of(starts, same);
    size_t last = line_of(starts, end_old > same ? end_old - 1 : same);
    const auto& lines = c.service_lines;
    if (lines.empty() || first < lines.front() || last >= c.services_end) return {};
    // The entries it touches, i..j, and their text, old and new.
    size_t i = size_t(std::upper_bound(lines.begin(), lines.end(), first) - lines.begin()) - 1;
    size_t j = size_t(std::upper_bound(lines.begin(), lines.end(), last) - lines.begin()) - 1;
    size_t end_line = j + 1 < lines.size() ? lines[j + 1] : c.services_end;
    size_t begin = starts[lines[i]];
    size_t end = end_line < starts.size() ? starts[end_line] : old.size();
    if (begin > same || end < end_old) return {};
    size_t new_end = end + text.size() - old.size();
    // What follows is unchanged only if it still begins a line (an edit that
    // joins the next entry's line to this one's changes it).
    if (end < old.size() && (new_end == 0 || text[new_end - 1] != '\n')) return {};
    std::string_view was(old.data() + begin, end - begin), now(text.data() + begin, new_end - begin);
    // A document's start or end among them: read alone, the piece would end
    // there, where the whole file goes on (or is refused).
    for (size_t at = 0; at < now.size(); at = now.find('\n', at) + 1) {
        auto line = now.substr(at);
        if (line.starts_with("---") || line.starts_with("...")) return {};
        if (now.find('\n', at) == std::string_view::npos) break;
    }
    long moved = long(lines_in(now)) - long(lines_in(was));
    // Lines added or taken out move every mark after them: only services'
    // marks can be put right (by the caller), so nothing else may follow.
    if (moved != 0 && c.services_end < starts.size()) return {};

    // The new entries, read where they are: the lines before them left blank
    // (a block map may start lines after its key), so that their marks are
    // the file's.
    Reader r;
    auto piece = "services:" + std::string(lines[i], '\n') + std::string(now);
    auto mini = load_text(r, piece, c.file);
    if (!r.errors.empty() || !mini.IsMap() || mini.size() != 1) return {};
    auto fresh = mini["services"];
    if (!fresh || !(fresh.IsMap() || fresh.IsNull())) return {};

    // The piece begins with an entry's key, or is nothing: a line before the
    // first key (a comment, even an empty line) may belong to the entry
    // before it, to a block scalar that ends it.
    auto piece_starts = line_starts(piece);
    auto& fresh_entries = fresh.entries();
    if (fresh_entries.empty() ? !now.empty() : size_t(fresh_entries.front().first.mark().line) != lines[i]) return {};

    // The entries before i as they were, the fresh ones, those after j.
    out.service_lines.assign(lines.begin(), lines.begin() + long(i));
    const auto& old_entries = c.root["services"].entries();
    std::vector<yaml::Node::Entry> entries(old_entries.begin(), old_entries.begin() + long(i));
    out.first = i;
    out.end_line = end_line;
    for (size_t k = i; k <= j; ++k) out.touched.insert(old_entries[k].first.Scalar());
    for (auto& [k, v] : fresh) {
        auto m = k.mark();
        if (size_t(m.column) != c.service_column || (!out.service_lines.empty() && size_t(m.line) <= out.service_lines.back()) ||
            !begins_line(piece, piece_starts, m))
            return {};
        out.service_lines.push_back(size_t(m.line));
        out.touched.insert(k.Scalar());
        entries.emplace_back(k, v);
    }
    out.after = entries.size();
    for (size_t k = j + 1; k < lines.size(); ++k) {
        out.service_lines.push_back(size_t(long(lines[k]) + moved));
        entries.push_back(old_entries[k]);
    }
    out.services_end = size_t(long(c.services_end) + moved);
    out.moved = moved;
    std::vector<yaml::Node::Entry> top;
    for (auto& [k, v] : c.root) top.emplace_back(k, k.Scalar() == "services" ? yaml::Node::map(v, std::move(entries)) : v);
    out.root = yaml::Node::map(c.root, std::move(top));
    // The limits of a whole read hold for the pieces together.
    if (out.root.weight() > yaml::Limits{}.max_nodes) out.root = {};
    return out;
}

}  // namespace topo::manifest
