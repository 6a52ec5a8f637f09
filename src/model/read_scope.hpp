// What a read of the host covers, as a value: the kernel interface takes it
// (kernel/kernel.hpp), the desired state says what it must be
// (reconcile/desired.hpp), and a saved plan keeps it (state/serialize.hpp).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/ip.hpp"

namespace topo {

// What to read: the project's own objects are found by their markers; foreign
// objects (external bridges, macvlan parents) are read only when named here.
struct ReadScope {
    std::string project;
    std::vector<std::string> foreign_links;  // host-namespace link names
    std::vector<std::string> files;          // paths topo may manage for this project
    std::vector<std::string> sysctls;        // host-namespace keys, e.g. net/ipv4/ip_forward
    // Sandboxes the project has or had (manifest, record): an /etc/netns
    // directory left half-made by a killed run is claimed only under these names
    // (or a namespace read as the project's), never one of a project "<p>-x".
    std::vector<std::string> sandboxes;
    // Verification of a small change reads only what it touched: when set, only
    // these sandboxes, and of the files only those in `files` (no /etc/netns scan).
    std::optional<std::set<std::string>> only_sandboxes;
    // And with it: only these host links, asked for by name (plus the bridges
    // and parents they name), instead of a dump of every link on the host.
    std::optional<std::set<std::string>> only_host_links;
    // And of the devices named here (an overlay's VXLAN device), only these
    // static entries, asked for one by one instead of a dump of thousands: a
    // service moved between hosts changes three of 15,000 at 100 hosts.
    struct Entries {
        std::set<Mac> forwarding;       // the device's own entry and its bridge's, by MAC
        std::set<IpAddr> neighbours;    // permanent neighbour entries, by address
    };
    std::map<std::string, Entries> only_entries;
    // The project's nftables table (1000 published ports: ~1.5 ms to read).
    bool nft = true;
};

}  // namespace topo
