// libyaml's events turned into yaml::Node trees (manifest/yaml.hpp), with the
// limits on hostile input checked as the tree grows, merge keys resolved,
// and every error at its line and column.
#include "manifest/yaml.hpp"

#include <fmt/format.h>
#include <yaml.h>

#include <algorithm>
#include <set>
#include <unordered_map>

namespace topo::yaml {

namespace {

const std::string no_text;
const std::vector<Node::Entry> no_entries;
const std::vector<Node> no_items;

Mark at(const yaml_mark_t& m) { return {int(m.line), int(m.column)}; }

}  // namespace

Mark mark_at(std::string_view text, size_t offset) {
    offset = std::min(offset, text.size());
    auto head = text.substr(0, offset);
    auto nl = head.rfind('\n');
    auto line_start = nl == std::string_view::npos ? 0 : nl + 1;
    int column = 0;
    for (size_t i = line_start; i < offset; ++i) column += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    return {int(std::count(head.begin(), head.end(), '\n')), column};
}

namespace {

std::string text_of(const yaml_char_t* s) { return s ? reinterpret_cast<const char*>(s) : ""; }

// YAML 1.1's null: a plain, untagged ~, null or nothing; or an explicit !!null.
Node::Tag tag_of(const yaml_char_t* tag) {
    if (!tag) return Node::Tag::None;
    auto t = text_of(tag);
    return t == "!reset" ? Node::Tag::Reset : t == "!override" ? Node::Tag::Override : Node::Tag::None;
}

bool is_null(const yaml_event_t& e) {
    auto& s = e.data.scalar;
    if (s.tag) return text_of(s.tag) == YAML_NULL_TAG;
    if (s.style != YAML_PLAIN_SCALAR_STYLE) return false;
    std::string_view v(reinterpret_cast<const char*>(s.value), s.length);
    return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

// One libyaml parser and its current event, released however the parse ends.
class Events {
public:
    explicit Events(std::string_view text) : text_(text) {
        yaml_parser_initialize(&parser_);
        yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    }
    ~Events() {
        if (have_) yaml_event_delete(&event_);
        yaml_parser_delete(&parser_);
    }
    Events(const Events&) = delete;
    Events& operator=(const Events&) = delete;

    const yaml_event_t& next() {
        if (have_) yaml_event_delete(&event_);
        have_ = yaml_parser_parse(&parser_, &event_) != 0;
        if (!have_) fail();
        return event_;
    }

private:
    [[noreturn]] void fail() const {
        auto& p = parser_;
        std::string what = p.problem ? p.problem : "the YAML cannot be read";
        if (p.error == YAML_READER_ERROR) {  // bad bytes: libyaml gives an offset, not a line
            if (p.problem_value >= 0)
                what += fmt::format(" 0x{:02x}", unsigned(p.problem_value) & 0xff);
            throw Error(what + "; a manifest is UTF-8 text: save it as UTF-8", mark_at(text_, p.problem_offset));
        }
        bool elsewhere = p.context_mark.line != p.problem_mark.line || p.context_mark.column != p.problem_mark.column;
        if (p.context && elsewhere)
            what += fmt::format(" ({} that starts at {}:{})", p.context, p.context_mark.line + 1, p.context_mark.column + 1);
        else if (p.context)
            what += fmt::format(" ({})", p.context);
        throw Error(what, at(p.problem_mark));
    }

    std::string_view text_;
    yaml_parser_t parser_;
    yaml_event_t event_;
    bool have_ = false;
};

}  // namespace

const std::string& Node::Scalar() const { return IsScalar() ? data_->text : no_text; }

size_t Node::size() const {
    if (IsMap()) return data_->entries.size();
    if (IsSequence()) return data_->items.size();
    return 0;
}

Node Node::operator[](size_t i) const {
    return IsSequence() && i < data_->items.size() ? data_->items[i] : Node();
}

Node Node::operator[](std::string_view key) const {
    for (auto& [k, v] : entries())
        if (k.IsScalar() && k.Scalar() == key) return v;
    return {};
}

const std::vector<Node::Entry>& Node::entries() const { return IsMap() ? data_->entries : no_entries; }
const std::vector<Node>& Node::items() const { return IsSequence() ? data_->items : no_items; }

std::shared_ptr<Node::Data> Node::make(Kind kind, Mark mark, unsigned source, Tag tag) {
    auto d = std::make_shared<Data>();
    d->kind = kind;
    d->tag = tag;
    d->mark = mark;
    d->source = source;
    return d;
}

Node Node::map(const Node& like, std::vector<Entry> entries) {
    auto d = make(Kind::Map, like.mark(), like.source(), like.tag());
    d->entries = std::move(entries);
    for (auto& [k, v] : d->entries) d->weight += k.weight() + v.weight();
    return Node(std::move(d));
}

Node Node::sequence(const Node& like, std::vector<Node> items) {
    auto d = make(Kind::Sequence, like.mark(), like.source(), like.tag());
    d->items = std::move(items);
    for (auto& i : d->items) d->weight += i.weight();
    return Node(std::move(d));
}

Node Node::null(const Node& like) { return Node(make(Kind::Null, like.mark(), like.source(), like.tag())); }

Node Node::scalar(const Node& like, std::string text) {
    auto d = make(Kind::Scalar, like.mark(), like.source(), like.tag());
    d->text = std::move(text);
    return Node(std::move(d));
}

// Turns libyaml's events into nodes: a stack of open collections, the
// anchors seen so far, and the running count that enforces the limits.
class Builder {
public:
    Builder(unsigned source, Limits limits) : source_(source), limits_(limits) {}

    Node run(std::string_view text) {
        Events events(text);
        for (;;) {
            const yaml_event_t& e = events.next();
            switch (e.type) {
            case YAML_STREAM_END_EVENT:
                return root_ ? root_ : Node(Node::make(Node::Kind::Null, {}, source_));
            case YAML_DOCUMENT_START_EVENT:
                if (root_) throw Error("a manifest is one YAML document; remove this second one (or merge the files with -f)", at(e.start_mark));
                break;
            case YAML_ALIAS_EVENT: alias(e); break;
            case YAML_SCALAR_EVENT: scalar(e); break;
            case YAML_SEQUENCE_START_EVENT:
            case YAML_MAPPING_START_EVENT: open(e); break;
            case YAML_SEQUENCE_END_EVENT:
            case YAML_MAPPING_END_EVENT: close(); break;
            default: break;  // stream start, document end
            }
        }
    }

private:
    struct Frame {
        std::shared_ptr<Node::Data> node;
        Node key;                    // a map's key waiting for its value
        std::vector<size_t> merges;  // entries whose key is `<<`
        std::string anchor;          // named when the collection started, defined when it ends
    };

    void alias(const yaml_event_t& e) {
        auto name = text_of(e.data.alias.anchor);
        auto it = anchors_.find(name);
        if (it == anchors_.end())  // libyaml leaves this to the loader
            throw Error(fmt::format("the alias *{} names no anchor defined before it", name), at(e.start_mark));
        add(it->second, at(e.start_mark));
    }

    void scalar(const yaml_event_t& e) {
        auto& s = e.data.scalar;
        auto d = Node::make(is_null(e) ? Node::Kind::Null : Node::Kind::Scalar, at(e.start_mark), source_, tag_of(s.tag));
        if (d->kind == Node::Kind::Scalar) d->text.assign(reinterpret_cast<const char*>(s.value), s.length);
        // A plain `<<` where a key goes: a merge key (YAML 1.1), resolved when the map ends.
        bool at_key = !stack_.empty() && stack_.back().node->kind == Node::Kind::Map && !stack_.back().key;
        if (at_key && s.style == YAML_PLAIN_SCALAR_STYLE && !s.tag && d->text == "<<")
            stack_.back().merges.push_back(stack_.back().node->entries.size());
        Node n(std::move(d));
        anchor(s.anchor, n);
        add(n, n.mark());
    }

    void open(const yaml_event_t& e) {
        check_depth(stack_.size(), 0, at(e.start_mark));
        count(1, at(e.start_mark));
        bool map = e.type == YAML_MAPPING_START_EVENT;
        auto d = Node::make(map ? Node::Kind::Map : Node::Kind::Sequence, at(e.start_mark), source_,
                            tag_of(map ? e.data.mapping_start.tag : e.data.sequence_start.tag));
        stack_.push_back({d, {}, {}, text_of(map ? e.data.mapping_start.anchor : e.data.sequence_start.anchor)});
    }

    void close() {
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        if (!f.merges.empty()) resolve_merges(*f.node, f.merges);
        for (auto& n : f.node->items) grow(*f.node, n);
        for (auto& [k, v] : f.node->entries) grow(*f.node, k), grow(*f.node, v);
        Node n(f.node);
        if (!f.anchor.empty()) anchors_[f.anchor] = n;
        attach(n);
    }

    void anchor(const yaml_char_t* name, const Node& n) {
        if (name) anchors_[text_of(name)] = n;
    }

    // Both limits are reported where they are crossed.
    void check_depth(size_t depth, size_t height, Mark where) const {
        if (depth + height > limits_.max_depth)
            throw Error(fmt::format("the document is nested more than {} levels deep (aliases followed); "
                                    "flatten it",
                                    limits_.max_depth),
                        where);
    }

    void count(size_t nodes, Mark where) {
        expanded_ += nodes;
        if (expanded_ > limits_.max_nodes)
            throw Error(fmt::format("the document expands to more than {} nodes (YAML aliases?); "
                                    "write the values out or shorten it", limits_.max_nodes), where);
    }

    static void grow(Node::Data& parent, const Node& child) {
        parent.weight += child.data_->weight;
        parent.height = std::max(parent.height, child.data_->height + 1);
    }

    // A scalar or an alias in the current collection (or as the document).
    void add(const Node& n, Mark where) {
        check_depth(stack_.size(), n.data_->height, where);
        count(n.data_->weight, where);
        attach(n);
    }

    void attach(const Node& n) {
        if (stack_.empty()) {
            root_ = n;
            return;
        }
        Frame& f = stack_.back();
        if (f.node->kind == Node::Kind::Sequence) {
            f.node->items.push_back(n);
        } else if (!f.key) {
            f.key = n;
        } else {
            f.node->entries.emplace_back(std::move(f.key), n);
            f.key = {};
        }
    }

    // YAML 1.1 merge keys, as Compose files use them (`<<: *defaults`): the
    // merged maps' entries join this map where `<<` stood, unless this map
    // (or a map merged before) already has the key.
    static void resolve_merges(Node::Data& map, const std::vector<size_t>& merges) {
        std::set<std::string> have;
        for (size_t i = 0; i < map.entries.size(); ++i)
            if (std::find(merges.begin(), merges.end(), i) == merges.end() && map.entries[i].first.IsScalar())
                have.insert(map.entries[i].first.Scalar());
        std::vector<Node::Entry> out;
        for (size_t i = 0; i < map.entries.size(); ++i) {
            auto& [key, value] = map.entries[i];
            if (std::find(merges.begin(), merges.end(), i) == merges.end()) {
                out.push_back(map.entries[i]);
                continue;
            }
            std::vector<Node> from = value.IsSequence() ? value.items() : std::vector<Node>{value};
            for (auto& m : from) {
                if (!m.IsMap())
                    throw Error("<< merges a map, or a list of maps, into this map; this is neither", m ? m.mark() : key.mark());
                for (auto& entry : m.entries())
                    if (!entry.first.IsScalar() || have.insert(entry.first.Scalar()).second) out.push_back(entry);
            }
        }
        map.entries = std::move(out);
    }

    unsigned source_;
    Limits limits_;
    Node root_;
    std::vector<Frame> stack_;
    std::unordered_map<std::string, Node> anchors_;
    size_t expanded_ = 0;
};

Node parse(std::string_view text, unsigned source, Limits limits) {
    return Builder(source, limits).run(text);
}

}  // namespace topo::yaml
