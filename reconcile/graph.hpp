// `topo graph`: a picture of a project's topology, as Graphviz dot or Mermaid.
//
// Pure: the project and its addressing (IPAM's, so the addresses are the ones
// apply gives) in, text out. Networks are boxes, sandboxes rounded boxes, an
// endpoint is an edge labelled with its interface, addresses and aliases, and
// published ports are arrows from the host. With several `hosts`, each host is
// a cluster holding its sandboxes and its own copy of every local network they
// join; overlays span the clusters.
#pragma once

#include <string>

#include "model/addressing.hpp"
#include "model/project.hpp"

namespace topo {

enum class GraphFormat { Dot, Mermaid };

std::string graph(const Project& p, const Addressing& a, GraphFormat format);

}  // namespace topo
