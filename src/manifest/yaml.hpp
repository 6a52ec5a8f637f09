// A manifest's YAML as a tree of plain values, read with libyaml's event
// parser. yaml-cpp (topo's first parser) spent two thirds of loading a
// 1000-service manifest in its scanner (callgrind: 156M of 229M
// instructions) and ten times libyaml's time on the same text; a plan and
// every run of `topo watch` pay that. See ARCHITECTURE.md, "Reading YAML".
//
// Nodes are shared, immutable handles: an alias is the node its anchor names
// (so `is` tells them apart as yaml-cpp did), and copying a Node copies a
// pointer. Scalars are text: the manifest's reader says what a value means.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace topo::yaml {

// 0-based, as libyaml counts; line -1 when there is no position to give.
struct Mark {
    int line = -1;
    int column = -1;
};

// Limits on hostile input, checked while the tree is built.
struct Limits {
    size_t max_depth = 64;        // nesting, aliases followed
    size_t max_nodes = 200000;    // nodes, aliases expanded ("billion laughs")
};

// Where byte `offset` of `text` is: its line, and its column in characters
// (UTF-8 continuation bytes do not count), both 0-based as libyaml's.
Mark mark_at(std::string_view text, size_t offset);

// The text is not YAML, or breaks a limit, at `mark`.
struct Error : std::runtime_error {
    Error(const std::string& what, Mark at) : std::runtime_error(what), mark(at) {}
    Mark mark;
};

class Node {
public:
    enum class Kind : uint8_t { Null, Scalar, Sequence, Map };
    // Compose's merge tags: `!reset` (drop what the files before set) and
    // `!override` (replace it instead of merging). Other tags are not kept.
    enum class Tag : uint8_t { None, Reset, Override };
    using Entry = std::pair<Node, Node>;

    Node() = default;  // undefined: what a missing key or index gives

    explicit operator bool() const { return data_ != nullptr; }
    bool IsDefined() const { return data_ != nullptr; }
    bool IsNull() const { return data_ && data_->kind == Kind::Null; }
    bool IsScalar() const { return data_ && data_->kind == Kind::Scalar; }
    bool IsSequence() const { return data_ && data_->kind == Kind::Sequence; }
    bool IsMap() const { return data_ && data_->kind == Kind::Map; }
    // The same node (an alias and its anchor are).
    bool is(const Node& other) const { return data_ == other.data_; }

    const std::string& Scalar() const;  // "" unless a scalar
    Mark mark() const { return data_ ? data_->mark : Mark{}; }
    Tag tag() const { return data_ ? data_->tag : Tag::None; }
    // Which document it came from: the index the parser was given.
    unsigned source() const { return data_ ? data_->source : 0; }
    // Nodes in this subtree, aliases expanded (what Limits::max_nodes counts).
    size_t weight() const { return data_ ? data_->weight : 0; }

    // Entries of a map, items of a sequence; 0 otherwise.
    size_t size() const;
    // A sequence's item, or undefined.
    Node operator[](size_t i) const;
    // A map's value for the first entry with that scalar key, or undefined.
    Node operator[](std::string_view key) const;
    Node operator[](const char* key) const { return (*this)[std::string_view(key)]; }
    Node operator[](const std::string& key) const { return (*this)[std::string_view(key)]; }
    // A map's entries in document order (none for other nodes).
    const std::vector<Entry>& entries() const;
    std::vector<Entry>::const_iterator begin() const { return entries().begin(); }
    std::vector<Entry>::const_iterator end() const { return entries().end(); }
    const std::vector<Node>& items() const;  // a sequence's

    // New collections that take their position (and tag) from `like` (for
    // merging documents), weighed as the parser weighs them.
    static Node map(const Node& like, std::vector<Entry> entries);
    static Node sequence(const Node& like, std::vector<Node> items);
    // A scalar with new text, where `like` (a scalar) was (for interpolation).
    static Node scalar(const Node& like, std::string text);
    // A null (`key:` with no value), where `like` was.
    static Node null(const Node& like);

private:
    friend class Builder;
    struct Data {
        Kind kind = Kind::Null;
        Tag tag = Tag::None;
        Mark mark;
        unsigned source = 0;
        size_t weight = 1;  // nodes in this subtree, aliases expanded
        size_t height = 0;  // levels below this node
        std::string text;
        std::vector<Node> items;
        std::vector<Entry> entries;
    };
    explicit Node(std::shared_ptr<const Data> d) : data_(std::move(d)) {}
    static std::shared_ptr<Data> make(Kind kind, Mark mark, unsigned source, Tag tag = Tag::None);
    std::shared_ptr<const Data> data_;
};

// Parses one YAML document (YAML 1.1, as libyaml reads it), with `<<` merge
// keys resolved. An empty text is a Null node. Throws Error.
Node parse(std::string_view text, unsigned source = 0, Limits limits = {});

}  // namespace topo::yaml
