// Name resolution without a daemon: each sandbox gets a hosts file and a
// resolv.conf under /etc/netns/<project>-<service>/, which `ip netns exec` and
// `topo exec` bind-mount over /etc. Pure: the files are values in the desired
// state, so plan shows them, apply writes them and drift is repaired.
//
// A sandbox on exactly one network, without extra_hosts and with its service
// name as hostname, resolves exactly that network's members: its hosts file
// is a symbolic link to the network's, /etc/netns/.topo-<project>/<network>
// (the member lines, its own included), so adding a sandbox rewrites one file
// instead of one per peer. Every sandbox without dns settings links its
// resolv.conf to the project's one copy of the host's resolvers there.
//
// Docker's rules: a sandbox resolves the other sandboxes of every network it
// is on, by service name, hostname and that network's aliases — and nothing
// of networks it is not on. An alias several sandboxes share lists every
// address (glibc's `multi on` returns them all). Lines are sorted, so the
// same manifest always renders the same bytes.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "model/addressing.hpp"
#include "model/objects.hpp"
#include "model/project.hpp"

namespace topo {

struct NamesContext {
    std::string host;               // this host's name in `hosts` ("" for one host)
    std::string host_resolv_conf;   // the host's /etc/resolv.conf, for sandboxes without dns:
    std::string root = "/etc/netns";
};

std::vector<File> name_files(const Project& p, const Addressing& a, const NamesContext& ctx);
// Whether name_files() gives the same files for (`p`, `a`) as for (`was`,
// `was_addressing`), which differ only in the services `touched` names (and
// their addressing): none of them changed what any file says of it.
bool same_name_files(const Project& was, const Addressing& was_addressing, const Project& p, const Addressing& a,
                     const std::string& host, const std::set<std::string>& touched);
std::string hosts_file(const Project& p, const Addressing& a, const Service& s);
std::string resolv_conf(const Project& p, const Service& s, const std::string& host_resolv_conf);

// A hosts file as hosts_file() writes it, read back (for `topo show`): the
// "address<TAB>names" lines under each "# network NAME" header (section
// NAME) or the "# extra_hosts" one (section "extra_hosts"). Lines before
// the first header (localhost, the sandbox's own name) are not returned.
struct HostsEntry {
    std::string section, address, names;
};
std::vector<HostsEntry> parse_hosts(std::string_view text);

}  // namespace topo
