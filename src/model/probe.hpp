// `topo probe`'s questions to the kernel, as values: connection attempts
// from a namespace to an address, the listeners they need, and what came of
// each. What is expected of them is reconcile/probe.hpp's; the kernel only
// tries (kernel/probe.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "model/ip.hpp"

namespace topo {

// One attempt: a TCP connection (to `port`) or an ICMP echo, from a
// namespace ("" is the host's) to an address.
struct Probe {
    enum class Kind { Tcp, Ping };
    Kind kind = Kind::Tcp;
    std::string from;
    IpAddr to;
    uint16_t port = 0;
};

// A listener a probe needs: TCP on `port` of every address of the
// namespace, never accepting (the kernel completes the handshakes), closed
// when the probe ends. A port a program already listens on is left to it:
// a connection that reaches the program proves as much.
struct ProbeListener {
    std::string netns;
    uint16_t port = 0;
};

struct ProbeRun {
    std::vector<ProbeListener> listeners;
    std::vector<Probe> probes;
    std::chrono::milliseconds timeout{1000};  // for each attempt; they run in parallel
};

struct ProbeOutcome {
    bool reached = false;
    std::string what;  // "connected", "refused", "no answer in 1000 ms", "unreachable", "echo reply", ...
};

// A base chain of any table at a netfilter hook (for a probe's causes: a
// rule there of another table can accept or drop before topo's).
struct BaseChain {
    std::string family, table, chain, hook;
    int priority = 0;
    std::string policy;  // accept | drop
    size_t rules = 0;
};

}  // namespace topo
