// What a read of the host saw, before any rule is applied to it, and the one
// pure function that applies the rules (`judge`): which of it is the
// project's, which is somebody else's that the project names, and which is
// left out of the read. The real kernel observes the host
// (kernel/read.cpp), the fake kernel its state (kernel/fake.cpp); both
// hand what they saw to `judge`, so the unit tests run on the very rules
// the host is read by, scope and ownership alike.
//
// An observer may see more than the scope asks (the fake sees everything it
// holds); it may see less only where the rules could not keep what it left
// out (a sandbox whose `lo` marks it as somebody else's is not looked into).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/objects.hpp"
#include "model/read_scope.hpp"

namespace topo {

struct Observation {
    // The host namespace's links, each with its ifalias as `owner` (a veth
    // without its other end: that is seen inside the sandbox), and their
    // addresses.
    std::vector<Link> host_links;
    std::vector<Address> host_addresses;
    // The static forwarding and the permanent neighbour entries of the
    // host's VXLAN devices (an observer that sees no VXLAN device looks for none).
    std::vector<Fdb> fdb;
    std::vector<Neigh> neighbours;
    // Static routes of the main table through the host's macvlan links (an
    // observer that sees none looks for none).
    std::vector<Route> host_routes;

    // A named namespace of the project's prefix.
    struct Sandbox {
        std::string name;
        bool residue = false;                 // an empty file: a create killed before the mount
        std::optional<std::string> lo_marker;  // unset: no `lo` (gone since it was listed)
        // Links with their ifalias as `owner`. A veth end names the host
        // link its other end is (`peer->name`; an index is only unique in its
        // own namespace, so it may name the wrong link: the markers decide),
        // a macvlan its `parent`.
        std::vector<Link> links;
        std::vector<Address> addresses;
        std::vector<Route> routes;  // static, of the main table
    };
    std::vector<Sandbox> sandboxes;

    std::optional<NftTable> table;  // the project's table, its comment as `owner`
    std::vector<Sysctl> sysctls;

    // Files as they are (no owner), and whether the directory that holds
    // every sandbox's files was listed (a read of part of the host does not).
    std::vector<File> files;
    bool listed = false;
    // A directory under it where a file topo wants or wrote is missing.
    struct Dir {
        std::string path;
        bool shared = false;    // the project's shared files (naming::shared_files_dir)
        bool symlink = false;   // a symbolic link or not a directory: never looked into
        std::string marker;     // its marker attribute, "" for none
        bool others = false;    // it holds something besides topo's temporary files
        // Files whose temporary is there without them: a write that was killed.
        std::vector<std::string> unfinished;
    };
    std::vector<Dir> dirs;
};

// Where topo keeps the sandboxes' files (`ip netns exec` binds them over /etc).
inline constexpr const char* netns_files_root = "/etc/netns/";

// What of `seen` the read of `scope` returns, and whose each object is
// (model/ownership.hpp).
HostState judge(Observation seen, const ReadScope& scope);

}  // namespace topo
