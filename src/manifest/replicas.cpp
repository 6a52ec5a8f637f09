// A service with replicas (deploy.replicas, scale, --scale) becomes its
// replicas, "<service>-1" … "<service>-N", each a sandbox of its own with
// its own addresses from IPAM, named as Compose names its containers
// (<project>-<service>-<i>). Checked first, while it is still one service,
// so that an error names the manifest's keys.
#include <fmt/format.h>

#include <algorithm>

#include "manifest/parsers.hpp"
#include "model/nft.hpp"

namespace topo::manifest {

void apply_scale(Reader& r, Project& p, const std::map<std::string, int>& scale) {
    for (auto& [name, n] : scale) {
        auto it = p.services.find(name);
        if (it == p.services.end()) {
            r.errors.push_back({{r.files.empty() ? "" : r.files.front(), 0, 0}, "--scale",
                                fmt::format("no service named \"{}\" to scale", name)});
            continue;
        }
        it->second.replicas = n;
    }
}

void check_replicas(Reader& r, const Project& p) {
    for (auto& [name, s] : p.services) {
        if (s.mode != NetworkMode::Service && !s.replicas) continue;  // nothing to check: no lookup
        auto node = r.service(name);
        auto path = "services." + name;
        if (s.mode == NetworkMode::Service && p.services.count(s.mode_service) && p.services.at(s.mode_service).replicas)
            r.error(node_at(node, {"network_mode"}), path + ".network_mode",
                    fmt::format("service {} has replicas, each its own sandbox: say which to share by running this "
                                "one as a replica too, or give {} no replicas",
                                s.mode_service, s.mode_service));
        if (!s.replicas) continue;
        int n = *s.replicas;
        auto at = [&]() -> yaml::Node {
            if (auto x = node["scale"]) return x;
            return node_at(node, {"deploy", "replicas"});
        };
        if (s.mode == NetworkMode::Host || s.mode == NetworkMode::Service)
            r.error(node_at(node, {"network_mode"}), path + ".network_mode",
                    "replicas each need a sandbox of their own, and this network_mode has none; remove one of them");
        if (n > replica_slots && !s.ports.empty())
            r.error(at(), path + (node["scale"] ? ".scale" : node["deploy"]["replicas"] ? ".deploy.replicas" : ""),
                    fmt::format("{} replicas behind published ports: at most {} can share a port", n, replica_slots));
        for (int i = 1; i <= n; ++i)
            if (auto other = fmt::format("{}-{}", name, i); p.services.count(other))
                r.error(at(), path, fmt::format("replica {} of {} would have the name of service {}; rename one of them", i, name, other));
        if (n <= 1) continue;
        for (auto& e : s.endpoints) {
            auto ep = node_at(node, {"networks", e.network});
            for (auto* key : {"ipv4_address", "ipv6_address", "mac_address"}) {
                bool set = std::string(key) == "ipv4_address" ? bool(e.ipv4_address)
                         : std::string(key) == "ipv6_address" ? bool(e.ipv6_address)
                                                              : e.mac_address && e.mac_address != s.mac_address;
                if (set)
                    r.error(ep.IsMap() && ep[key] ? ep[key] : ep, fmt::format("{}.networks.{}.{}", path, e.network, key),
                            fmt::format("{} replicas cannot share one {}; remove it (IPAM gives each replica its own) or "
                                        "the replicas", n, key));
            }
        }
        if (s.mac_address)
            r.error(node_at(node, {"mac_address"}), path + ".mac_address",
                    fmt::format("{} replicas cannot share one mac_address; remove it or the replicas", n));
    }
}

void expand_replicas(Project& p) {
    std::vector<std::string> replicated;
    for (auto& [name, s] : p.services)
        if (s.replicas) replicated.push_back(name);
    if (replicated.empty()) return;
    for (auto& name : replicated) {
        Service base = std::move(p.services.at(name));
        p.services.erase(name);
        int n = *base.replicas;
        for (int i = 1; i <= n; ++i) {
            Service r = base;
            r.name = fmt::format("{}-{}", name, i);
            if (base.hostname == name) r.hostname = r.name;
            r.replicas.reset();
            r.replica_of = Service::Replica{name, i, n};
            if (i > 1) r.ports.clear();  // replica 1 carries them, for all
            for (auto& e : r.endpoints) {
                e.aliases.insert(e.aliases.begin(), {name, fmt::format("{}-{}-{}", p.name, name, i)});
            }
            p.services.emplace(r.name, std::move(r));
        }
    }
    // A link to a replicated service is a link to each replica, under one alias.
    for (auto& [_, s] : p.services) {
        std::vector<std::pair<std::string, std::string>> links;
        for (auto& [target, alias] : s.links) {
            auto it = std::find(replicated.begin(), replicated.end(), target);
            if (it == replicated.end()) {
                links.emplace_back(target, alias);
                continue;
            }
            for (auto& [rname, r] : p.services)
                if (r.replica_of && r.replica_of->service == target) links.emplace_back(rname, alias);
        }
        s.links = std::move(links);
    }
}

}  // namespace topo::manifest
