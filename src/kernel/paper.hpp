// A host on paper, for `topo plan --base` (a review without the host): the
// in-memory kernel of the unit tests (kernel/fake.hpp), empty — no other
// projects, no routes, no addresses, no listeners. Changes applied to it
// change it as the kernel would, so a plan computed against it after the
// old manifest's plan was carried out is the plan a real host holding the
// old manifest would get (the transition tests check that equivalence).
// Part of the topo_kernel_fake library; the CLI reaches it only here.
#pragma once

#include <memory>

#include "kernel/kernel.hpp"

namespace topo {

std::unique_ptr<Kernel> paper_host();

}  // namespace topo
