// What a plan checks against the host's facts, and the facts it is made
// from, asked of the kernel interface: used by compute (reconcile.cpp).
// Each adds the errors (and notes) it finds; none changes the host.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kernel/kernel.hpp"
#include "reconcile/ipam.hpp"
#include "reconcile/reconcile.hpp"

namespace topo {

// Foreign objects the manifest relies on (an external bridge, a macvlan parent) exist.
void check_references(const Project& p, const Computed& c, std::vector<std::string>& errors);
// An encrypted overlay built here is refused, naming what the kernel lacks.
void check_encryption(Kernel& kernel, const Project& p, const Computed& c, std::vector<std::string>& errors);
// The MTU of each overlay built here without one in the manifest, from its underlay.
std::map<std::string, uint32_t> overlay_mtus(Kernel& kernel, const Project& p, const std::string& host);
// The project's external bridges as the kernel has them.
std::map<std::string, ExternalBridge> external_bridges(Kernel& kernel, const Project& p, const Addressing& previous);
// A bridge this run removes has no ports but the project's, unless forced.
void refuse_busy_bridges(Kernel& kernel, const std::string& project, const std::vector<Change>& changes,
                         std::vector<std::string>& errors);
// A port this run publishes is not one a program of the host listens on, unless taken over.
void refuse_taken_ports(Kernel& kernel, const Project* p, bool take_all, const std::vector<Change>& changes,
                        std::vector<std::string>& errors, std::vector<std::string>& notes);
// A VXLAN device this run makes has its VNI and UDP port free on the host.
void refuse_taken_vnis(Kernel& kernel, const std::vector<Change>& changes, std::vector<std::string>& errors);
// IPAM, with the addresses handed out afresh on an external bridge probed first.
IpamResult allocate_probed(Kernel& kernel, IpamInput& ii);

}  // namespace topo
