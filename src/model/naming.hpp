// Names topo gives kernel objects, and the markers that say an object is topo's.
//
// Host-namespace links get generated names of at most 15 characters:
// "t" + a kind letter + 4 hex digits of the project's hash + 9 of the object's
// (e.g. "tb3f09a1c2e4d5f"), born with a MAC fixed by the name (link_mac), so a
// crashed run's unmarked leftovers are recognisable by both. The authoritative marker is the link's ifalias, "topo/<project>/<what>";
// a sandbox namespace carries it on its `lo`. Nothing without a marker is topo's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/ip.hpp"

namespace topo::naming {

inline constexpr std::string_view marker_prefix = "topo/";

uint64_t hash(std::string_view s);  // FNV-1a 64, stable across versions and hosts

std::string netns(std::string_view project, std::string_view service);      // shop-web
std::string bridge(std::string_view project, std::string_view network);     // tb....
std::string vxlan(std::string_view project, std::string_view network);      // tx....
// A macvlan network's link for the host's own path to its sandboxes.
std::string host_shim(std::string_view project, std::string_view network);  // tm....
std::string veth(std::string_view project, std::string_view service,
                 std::string_view network);                                 // tv....
std::string nft_table(std::string_view project);                            // topo-shop
// The MAC a bridge is created with, fixed (06:… from its name's hash, never a
// sandbox's 02:42:…): the gateway's MAC stays put as ports come and go, and the
// kernel need not recompute the bridge id over every port each time one is added.
Mac bridge_mac(std::string_view bridge_name);
// The MAC every host link topo makes is born with (a bridge's, a veth's host
// end): fixed by its name, so that a link a killed run left unmarked is
// known by name and MAC together, never by a name alone.
inline Mac link_mac(std::string_view name) { return bridge_mac(name); }
uint32_t default_vni(std::string_view project, std::string_view network);   // 1..16777215

// Markers.
std::string project_marker(std::string_view project);  // "topo/shop/"
std::string network_marker(std::string_view project, std::string_view network);
std::string sandbox_marker(std::string_view project, std::string_view service);
std::string endpoint_marker(std::string_view project, std::string_view service,
                            std::string_view network);
bool owned_by(std::string_view marker, std::string_view project);
// A marker read back: "topo/<project>/" (a table's, a directory's),
// "topo/<project>/net/<network>", "topo/<project>/svc/<service>" (a
// sandbox's) or "topo/<project>/svc/<service>/<network>" (an endpoint's).
// Names never hold a '/'. parse() refuses anything else.
struct Marker {
    enum class Kind { Project, Network, Sandbox, Endpoint };
    Kind kind = Kind::Project;
    std::string project, network, service;
    static std::optional<Marker> parse(std::string_view text);
    std::string str() const;
};
// The first line of every file topo writes (hosts, resolv.conf), naming its project.
std::string file_marker(std::string_view project);
bool has_file_marker(std::string_view content, std::string_view project);
// The directory under /etc/netns of the project's shared files (".topo-shop":
// a dot name, so not one a user would give a namespace), and whether a
// symbolic link points into it, which makes the link topo's. It holds a hosts
// file per network, named by the network, and the resolv.conf of every
// sandbox without dns settings (no network's name starts with '_').
std::string shared_files_dir(std::string_view project);
inline constexpr const char* shared_resolv_conf = "_resolv.conf";
bool links_to_shared_files(std::string_view target, std::string_view project);

}  // namespace topo::naming
