// The allocations the kernel already holds, read back from topo's markers.
//
// The state file remembers which address each endpoint got; the kernel holds
// the same facts on the objects topo marked: a network's subnet and gateway on
// its bridge, an endpoint's addresses on the interface marked
// "topo/<project>/svc/<service>/<network>", an ephemeral published port in the
// table's port maps. Recovering them lets a lost or damaged state file be
// rebuilt (`topo recover`) and lets an apply without a record keep what runs,
// so a lost state directory renumbers nothing.
//
// Pure: a value in, a value out.
#pragma once

#include <string>

#include "model/objects.hpp"
#include "model/project.hpp"
#include "reconcile/ipam.hpp"

namespace topo {

// `p` (may be null) is needed only to name ephemeral ports; without it they are not recovered.
Addressing recover_addressing(const HostState& live, const std::string& project, const Project* p);

// `base` with every network and endpoint the kernel holds taken from `live` instead.
Addressing overlay(Addressing base, const Addressing& live);

}  // namespace topo
