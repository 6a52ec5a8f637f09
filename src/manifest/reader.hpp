// The YAML side of reading a manifest: node access with key paths and marks,
// and the list of problems found so far. Parsers report every problem here
// and carry on, so that all of a manifest's errors are shown at once.
#pragma once

#include "manifest/yaml.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/manifest.hpp"

namespace topo::manifest {

// Limits on hostile input, checked before anything is interpreted: 1 MiB of
// YAML here; nesting and nodes with aliases expanded while it is parsed
// (yaml::Limits).
inline constexpr size_t max_bytes = 1 << 20;

struct Reader {
    // Every file read, by the source index its nodes carry.
    std::vector<std::string> files;
    std::vector<Error> errors;
    std::vector<Warning> warnings;
    // The manifest files' texts as read, in order, when set (a watch's cache
    // keeps the text its tree was read from).
    std::vector<std::string>* texts = nullptr;
    // Where files are read from (LoadOptions::source); unset: the file system.
    std::function<bool(const std::string& path, std::string& text, std::string& problem)> source;
    // services.<name> nodes by name: a map's keys are looked up linearly, so
    // per-service lookups through the root would make 10,000 services O(N²).
    std::map<std::string, yaml::Node> service_nodes;
    yaml::Node service(const std::string& name) const {
        auto it = service_nodes.find(name);
        return it == service_nodes.end() ? yaml::Node() : it->second;
    }

    SourceMark mark(const yaml::Node& n) const;
    void error(const yaml::Node& at, const std::string& path, std::string message);
    void warn(const yaml::Node& at, const std::string& path, std::string message);

    // Typed access; on a wrong type an error is recorded and nullopt returned.
    std::optional<std::string> scalar(const yaml::Node& n, const std::string& path);
    std::optional<bool> boolean(const yaml::Node& n, const std::string& path);
    std::optional<long> integer(const yaml::Node& n, const std::string& path, long lo, long hi);
    std::optional<IpAddr> ip(const yaml::Node& n, const std::string& path);
    bool is_map(const yaml::Node& n, const std::string& path);  // null counts as an empty map
    // A list of strings, or a single string (Compose allows both for dns, dns_search).
    std::vector<std::string> strings(const yaml::Node& n, const std::string& path);
    // f(item, path, text) for each scalar of a list, or for `n` itself when it
    // is one scalar (Compose allows both for expose, link_local_ips, ...);
    // an item that is not a scalar is an error at it.
    template <class F>
    void each_scalar(const yaml::Node& n, const std::string& path, F f) {
        if (!n.IsSequence()) {
            if (auto text = scalar(n, path)) f(n, path, *text);
            return;
        }
        for (size_t i = 0; i < n.size(); ++i) {
            auto p = path + "[" + std::to_string(i) + "]";
            if (auto text = scalar(n[i], p)) f(n[i], p, *text);
        }
    }
    // Checks a map's keys against the allowed ones: unknown keys and duplicates are errors.
    void keys(const yaml::Node& n, const std::string& path, std::initializer_list<const char*> allowed);
    void no_duplicate_keys(const yaml::Node& n, const std::string& path);
};

// The node at a key path, or the deepest one that exists on the way (to point
// an error at). Never throws, unlike chained operator[] on a missing key.
yaml::Node node_at(const yaml::Node& root, std::initializer_list<std::string> keys);

// "did you mean networks?" for a misspelt key, or "".
std::string suggestion(const std::string& word, const std::vector<std::string>& candidates);
std::string join_path(const std::string& path, const std::string& key);

}  // namespace topo::manifest
