// Random valid manifests and the day-2 edits people make to them, for the
// transition tests (apply A, apply B, the next plan is empty; then back to A).
//
// A manifest is generated as a small value (Spec), edited as a value, and
// written out as YAML, so every case also goes through the reader and its
// validation: a case the reader refuses is a bug of the generator, and the
// tests fail on it. Everything comes from one seeded engine: a failing pair
// is reproduced from the seed the test prints.
//
// What varies: networks (a fixed /24 subnet from a small pool, or one IPAM
// picks; an ip_range; IPv6; internal; enable_icc; mtu), services (joining
// and leaving networks, static and dynamic addresses, aliases, published
// ports, network_mode none and service:X), renames of networks and services,
// and subnet changes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace topo::gen {

struct NetSpec {
    int subnet = -1;  // index into the pool of /24s (10.77.<i>.0/24); -1: IPAM picks
    bool range = false;  // ip_range: the upper half
    bool ipv6 = false;   // fd77:<i>::/64 with the subnet's index
    bool internal = false;
    bool icc = true;
    std::optional<int> mtu;
};

struct Attach {
    std::string network;
    int host = 0;  // static address .<host> (needs a fixed subnet); 0: dynamic
    std::vector<std::string> aliases;
};

struct SvcSpec {
    std::string mode;  // "", "none" or "service:<name>"
    std::vector<Attach> nets;
    std::vector<int> ports;  // published host ports, to port 80 in the sandbox
};

struct Spec {
    std::string project = "gen";
    std::map<std::string, NetSpec> networks;
    std::map<std::string, SvcSpec> services;
};

struct Limits {
    int max_networks = 3;
    int max_services = 4;
};

Spec random_spec(std::mt19937_64& rng, const Limits& lim = {});
// One to three edits of `a`, each a thing people do on day 2; what was edited
// is appended to `log` ("rename network n1 → n4").
Spec edit(const Spec& a, std::mt19937_64& rng, std::vector<std::string>& log, const Limits& lim = {});
std::string to_yaml(const Spec& s);

}  // namespace topo::gen
