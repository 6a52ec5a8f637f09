// The reconciler's steps, each a function over values and the kernel
// interface: compute (IPAM → desired → read live → diff → plan) and verify.
// The CLI strings them together; `topo plan` and `topo apply` share compute().
#pragma once

#include <string>
#include <vector>

#include "kernel/kernel.hpp"
#include "model/change.hpp"
#include "model/project.hpp"
#include "reconcile/desired.hpp"
#include "reconcile/ipam.hpp"

namespace topo {

struct PlanInput {
    const Project* project = nullptr;  // null: destroy (nothing desired)
    std::string project_name;
    std::string host;
    Addressing previous;                // allocations from the state file
    std::vector<Prefix> other_subnets;  // other topo projects' networks on this host
    std::vector<uint16_t> other_ports;  // host ports other topo projects publish
    std::string host_resolv_conf;       // the host's /etc/resolv.conf
    std::string files_root = "/etc/netns";
};

struct Computed {
    Addressing addressing;
    Desired desired;
    HostState live;
    Plan plan;
    std::vector<std::string> errors;  // the plan cannot be applied while any is here
};

Computed compute(Kernel& kernel, const PlanInput& in);

// Read the host again and list what still differs from `desired` (empty: converged):
// all of it, or with `changes`, the sandboxes and files those changes touched.
std::vector<std::string> verify(Kernel& kernel, const Desired& desired, const std::vector<Change>* changes = nullptr);

}  // namespace topo
