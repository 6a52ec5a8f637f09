// What `topo watch` keeps of a manifest between runs, so that a commit that
// changes a few services re-reads those services' text, not the file's:
// 5,000 services were ~24 ms to parse and interpret each run, for a move of
// one (ARCHITECTURE.md, "Reading a manifest piecewise"). Internal to the
// manifest layer; manifest::load takes it.
//
// Only a file that nothing reaches across can be read in pieces: no
// interpolation, anchors, aliases, merge keys, tags or directives, no
// `include`, `extends` or `profiles` (piecewise()), in block style. Anything
// else, and any error or warning, is read whole, as without a cache.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "manifest/manifest.hpp"
#include "manifest/yaml.hpp"

namespace topo::manifest {

struct LoadCache {
    std::string file;
    std::string text;  // as last read
    yaml::Node root;   // read from it, as interpret() saw it
    // Where each service's entry begins (0-based lines of `text`, in order),
    // and the line after the last one's (the next top-level key's, or the
    // line count): an entry runs to the next one's line.
    std::vector<size_t> service_lines;
    size_t services_end = 0;
    size_t service_column = 0;  // the entries' keys' (all the same)
    // parse_service's result for each service, with the node it read: one
    // that is the same node next time is not parsed again.
    std::map<std::string, std::pair<yaml::Node, Service>> parsed;
    // The services' entries the last read parsed afresh or found gone, by
    // name; nothing when it read the file whole (what the next run can work
    // out from the last one: reconcile.hpp, Since).
    std::optional<std::set<std::string>> touched;

    // The project itself, patched rather than built anew (a watch's move of
    // one service among 5,000 was ~8 ms of copying and checking the others):
    // the watch gives back the project of the read before the last once it
    // is done with it (give_back), and the next read brings it up to the
    // last read's with `delta`, then puts in the entries that changed since.
    //
    // What a read changed in the project of the read before it: the entries
    // it took out and put in (`names`, as touched), the latter as they came
    // out (`entries`, each with its interfaces named), the project's other
    // parts, and how many lines (`moved`) the marks of entries from line
    // `after_line` (0-based, in the text before) moved.
    struct Delta {
        std::set<std::string> names;
        std::vector<Service> entries;
        Project shape;  // without services
        size_t after_line = 0;
        long moved = 0;
    };
    uint64_t id = 0;      // of the last read (load_id), 0: none kept
    uint64_t before = 0;  // of the read before it, which `delta` goes from
    std::optional<Delta> delta;
    std::optional<Project> spare;  // the read `before`'s project, given back
    uint64_t spare_of = 0;         // which read's it is: `before`, or `id` (a copy, keep_copy)
    bool patched = false;          // the last read patched it (for tests)

    bool ready() const { return bool(root); }
    void clear();
};

// Whether `text` holds nothing that reaches across services (see above).
bool piecewise(std::string_view text);

// After a whole read of `c.text` into `c.root`: where its services' entries
// are. False (and nothing learnt) unless the top level and `services` are
// block maps, each key on a line of its own.
bool learn_layout(LoadCache& c);

// `text` (the cache's file, changed) read again where it changed.
struct Reread {
    // Like `c.root`, with the services whose entries the change touched read
    // again from their new text, and every other node `c.root`'s own.
    yaml::Node root;
    std::vector<size_t> service_lines;  // its layout, as LoadCache's
    size_t services_end = 0;
    // The lines the change added (taken away: negative), and the index of
    // the first service after it: the marks of that service and those after
    // are that many lines off, and of nothing else (the change is on the
    // services' last lines of all when it adds or takes lines).
    long moved = 0;
    size_t after = 0;
    // The entries read again are [first, after); `end_line` is where those
    // after them began in the old text (0-based); `touched` names the entries
    // taken out and put in.
    size_t first = 0;
    size_t end_line = 0;
    std::set<std::string> touched;
};
// Nothing (`root` unset) when the change is not within the services'
// entries, or their new text does not read as entries of the same block map.
Reread reread(const LoadCache& c, const std::string& text);

}  // namespace topo::manifest
