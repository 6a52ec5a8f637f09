// The YAML side of reading a manifest: node access with key paths and marks,
// and the list of problems found so far. Parsers report every problem here
// and carry on, so that all of a manifest's errors are shown at once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/manifest.hpp"

namespace topo::manifest {

// Limits on hostile input, checked before anything is interpreted.
inline constexpr size_t max_bytes = 1 << 20;   // 1 MiB of YAML
inline constexpr int max_depth = 64;           // nesting
inline constexpr size_t max_nodes = 200000;    // nodes visited, aliases expanded

struct Reader {
    // Every file that was merged, to name the one a node came from.
    std::vector<std::pair<std::string, YAML::Node>> files;
    std::vector<Error> errors;
    std::vector<Warning> warnings;
    // services.<name> nodes by name: yaml-cpp looks map keys up linearly, so
    // per-service lookups through the root would make 10,000 services O(N²).
    std::map<std::string, YAML::Node> service_nodes;
    YAML::Node service(const std::string& name) const {
        auto it = service_nodes.find(name);
        return it == service_nodes.end() ? YAML::Node() : it->second;
    }

    SourceMark mark(const YAML::Node& n) const;
    void error(const YAML::Node& at, const std::string& path, std::string message);
    void warn(const YAML::Node& at, const std::string& path, std::string message);

    // Typed access; on a wrong type an error is recorded and nullopt returned.
    std::optional<std::string> scalar(const YAML::Node& n, const std::string& path);
    std::optional<bool> boolean(const YAML::Node& n, const std::string& path);
    std::optional<long> integer(const YAML::Node& n, const std::string& path, long lo, long hi);
    std::optional<IpAddr> ip(const YAML::Node& n, const std::string& path);
    bool is_map(const YAML::Node& n, const std::string& path);  // null counts as an empty map
    // A list of strings, or a single string (Compose allows both for dns, dns_search).
    std::vector<std::string> strings(const YAML::Node& n, const std::string& path);
    // Checks a map's keys against the allowed ones: unknown keys and duplicates are errors.
    void keys(const YAML::Node& n, const std::string& path, std::initializer_list<const char*> allowed);
    void no_duplicate_keys(const YAML::Node& n, const std::string& path);
};

// A map's values by key, from one walk over it. yaml-cpp finds a key by
// walking the map and converting every key it passes, and answers a key that
// is not there with a new undefined node whose key text it builds through a
// std::stringstream (~35,000 instructions): with a dozen optional keys
// looked up per service and endpoint, that was most of turning a
// 1000-service manifest into the model (callgrind).
class Fields {
public:
    explicit Fields(const YAML::Node& map);  // anything but a map has none
    // The value of the first entry with that key; if there is none, an
    // undefined node, as a const map's operator[] gives.
    YAML::Node operator[](std::string_view key) const;

private:
    std::vector<std::pair<std::string, YAML::Node>> entries_;
};

// The node at a key path, or the deepest one that exists on the way (to point
// an error at). Never throws, unlike chained operator[] on a missing key.
YAML::Node node_at(const YAML::Node& root, std::initializer_list<std::string> keys);

// "did you mean networks?" for a misspelt key, or "".
std::string suggestion(const std::string& word, const std::vector<std::string>& candidates);
std::string join_path(const std::string& path, const std::string& key);

// Bounds on size, depth and expanded node count (YAML aliases): error text or "".
std::string check_bounds(const YAML::Node& root);

}  // namespace topo::manifest
