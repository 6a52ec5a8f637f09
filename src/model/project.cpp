// The small rules about a project that every layer above the model shares:
// where an error sits, which bridge a network is, which services run here,
// and how an ephemeral port is keyed in the addressing.
#include "model/project.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "model/addressing.hpp"
#include "model/naming.hpp"

namespace topo {

std::string located(const SourceMark& mark, const std::string& path) {
    return mark.line ? fmt::format("{}:{}:{}: {}", mark.file, mark.line, mark.column, path) : path;
}

std::string bridge_name(const Project& p, const Network& n) {
    if (!n.kernel_name.empty()) return n.kernel_name;
    return naming::bridge(p.name, n.name);
}

bool runs_here(const Project& p, const Service& s, const std::string& host) {
    if (!s.has_sandbox()) return false;
    if (p.hosts.empty() || host.empty()) return true;
    return s.host.empty() ? p.hosts.size() == 1 : s.host == host;
}

std::vector<std::string> replicas_of(const Project& p, const std::string& service) {
    std::vector<std::string> out;
    auto prefix = service + "-";
    for (auto it = p.services.lower_bound(prefix); it != p.services.end() && it->first.starts_with(prefix); ++it)
        if (it->second.replica_of && it->second.replica_of->service == service) out.push_back(it->first);
    return out;
}

std::vector<const Endpoint*> gateway_order(const Service& s) {
    std::vector<const Endpoint*> out;
    for (auto& e : s.endpoints) out.push_back(&e);
    std::stable_sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->gw_priority > b->gw_priority; });
    return out;
}

std::string ephemeral_port_key(const std::string& service, const Port& p) {
    return fmt::format("{}/{}/{}/{}", service, to_string(p.protocol), p.target.first,
                       p.host_ip ? p.host_ip->str() : "");
}

}  // namespace topo
