// `topo probe` (README, "Probe"): what the manifest promises, as probes
// with the outcome each must have, and a verdict on what the kernel made of
// them, with the likely cause of each broken promise. Pure: the kernel's
// part is Kernel::probe.
//
// Promises: every pair of sandboxes on a network reaches the other (TCP to
// a listener probe starts on probe_port, and ICMP echo), unless the network
// has enable_icc: false; a sandbox does not reach another's address on a
// bridge or overlay network it is not on; a sandbox on a network that is
// not internal reaches the host's address outside the project's networks
// (egress), one only on internal networks does not; every published TCP port answers
// at each of the host's addresses (and 127.0.0.1) from the host, and from a
// sandbox through the host's address (hairpin); a port bound to one host
// address answers nowhere else; each sandbox's hosts file is what topo
// wrote.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "model/addressing.hpp"
#include "model/probe.hpp"
#include "model/project.hpp"
#include "reconcile/reconcile.hpp"

namespace topo {

// The port probe's listeners take in each sandbox (a program already on it
// answers in their place).
inline constexpr uint16_t probe_port = 47999;

// Pairs of sandboxes on a network a probe tries at most, over all networks.
// Each pair is a neighbour entry at each end, and the kernel's neighbour
// table is one for the whole host (gc_thresh3, 1024 by default) and frees
// no entry younger than 5 s: every pair of 200 sandboxes (39,800) overflows
// it, and the probes fail for want of ARP, not for anything topo did. Past
// the budget, each sandbox tries the peers `stride` places after it around
// each network's ring, for the strides 1, N/2, N/3, … that fit (at least
// one): each is still sender and receiver of a probe, through its own link
// and its bridge port. Across networks (the isolation probes, which meet
// only the host's gateway) likewise, each tries two of every network it is
// not on.
inline constexpr size_t pair_budget = 200;

struct Expectation {
    bool reach = true;
    std::string table;     // "network front", "isolation", "ports"
    std::string from, to;  // service names, or "host"
    std::string what;      // "tcp 10.5.0.3:47999", "ping 10.5.0.3", "8080/tcp at 198.51.100.1"
    // What the probe's path goes through, to match the plan's changes
    // against: sandboxes' namespaces, bridges, "nft" and "sysctl".
    std::set<std::string> path;
};

struct ProbePlan {
    ProbeRun run;                     // run.probes[i] is expect[i]'s
    std::vector<Expectation> expect;
    std::vector<std::string> notes;   // what was not probed, and why
};

// `host_addresses`: the host's own addresses to probe published ports at
// (not loopback, link-local or the project's gateways; 127.0.0.1 is added).
// `only`: services whose probes (from or to them) are made; empty is all.
// `chains`: the host's base chains; where another table's input chain may
// drop (rules, or a drop policy), what reaches the host's own address is
// that firewall's choice, not the network's: egress is then not probed
// that way, and a note says so.
ProbePlan probe_plan(const Project& p, const Addressing& a, const std::string& host,
                     const std::vector<IpAddr>& host_addresses, const std::set<std::string>& only,
                     std::chrono::milliseconds timeout, const std::vector<BaseChain>& chains = {},
                     const std::string& own_table = "");

struct Finding {
    const Expectation* expect = nullptr;  // null for a hosts file
    ProbeOutcome got;
    bool ok = true;
    std::string sandbox;                  // for a hosts file
    std::vector<std::string> causes;      // most likely first
};

struct ProbeReport {
    std::vector<Finding> findings;  // one per probe, then one per sandbox's hosts file
    size_t broken = 0;
};

// The verdict: each outcome against its expectation, each hosts file against
// the desired one (from `c`), and for what broke, the causes found: the
// plan's changes on its path (drift topo would repair), and other tables'
// base chains that run before topo's at the same hooks.
ProbeReport judge_probes(const ProbePlan& plan, const std::vector<ProbeOutcome>& got, const Computed& c,
                         const std::vector<BaseChain>& chains, const std::string& own_table);

}  // namespace topo
