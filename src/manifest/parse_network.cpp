// networks.<name>: driver, driver_opts, ipam, flags; and `hosts`, which
// overlay networks span. Per-network checks only; checks across networks and
// services are in validate.cpp.
#include <fmt/format.h>

#include "manifest/parsers.hpp"

namespace topo::manifest {

namespace {

bool valid_ifname(const std::string& s) {
    if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
    for (unsigned char c : s)
        if (c <= ' ' || c >= 0x7f || c == '/' || c == ':') return false;
    return true;
}

void parse_ipam_entry(Reader& r, const yaml::Node& n, const std::string& path, Network& net) {
    r.keys(n, path, {"subnet", "ip_range", "gateway", "aux_addresses"});
    if (!n["subnet"]) {
        r.error(n, path, "an ipam config entry needs a subnet, e.g. subnet: 10.0.42.0/24");
        return;
    }
    auto text = r.scalar(n["subnet"], path + ".subnet");
    if (!text) return;
    auto subnet = Prefix::parse(*text);
    if (!subnet) {
        r.error(n["subnet"], path + ".subnet", fmt::format("\"{}\" is not a subnet; write it as address/length, e.g. 10.0.42.0/24", *text));
        return;
    }
    // Room for a gateway and at least one sandbox, and not everything: a /32,
    // a /127 or a /0 passed validation once and failed at apply.
    if (int max = subnet->addr.is_v4() ? 31 : 126; subnet->len > max || subnet->len == 0) {
        r.error(n["subnet"], path + ".subnet",
                subnet->len == 0
                    ? fmt::format("{} covers every address, the host's own routes included; give the network a subnet of its own", *text)
                    : fmt::format("{} has no room for a gateway and a sandbox; use a /{} or larger", *text, max));
        return;
    }
    if (!subnet->is_network()) {
        r.error(n["subnet"], path + ".subnet",
                fmt::format("{} has host bits set; did you mean {}?", *text, subnet->network().str()));
        return;
    }
    IpamConfig c;
    c.subnet = *subnet;
    c.mark = r.mark(n["subnet"]);
    c.path = path + ".subnet";
    auto within = [&](const yaml::Node& at, const std::string& p, const IpAddr& a) {
        if (subnet->contains(a)) return true;
        r.error(at, p, fmt::format("{} is outside the subnet {}", a.str(), subnet->str()));
        return false;
    };
    if (auto g = n["gateway"]) {
        if (auto a = r.ip(g, path + ".gateway"); a && within(g, path + ".gateway", *a)) {
            if (*a == subnet->network().addr || (a->is_v4() && subnet->len < 31 && *a == subnet->last_host().plus(1)))
                r.error(g, path + ".gateway", fmt::format("{} is the subnet's network or broadcast address; pick a host address", a->str()));
            c.gateway = a;
        }
    }
    if (auto rg = n["ip_range"]) {
        if (auto t = r.scalar(rg, path + ".ip_range")) {
            auto p = Prefix::parse(*t);
            if (!p) r.error(rg, path + ".ip_range", fmt::format("\"{}\" is not a range; write it as address/length, e.g. 10.0.42.128/25", *t));
            else if (!subnet->contains(*p)) r.error(rg, path + ".ip_range", fmt::format("{} is not inside the subnet {}", *t, subnet->str()));
            else c.ip_range = p->network();
        }
    }
    if (auto aux = n["aux_addresses"]; aux && r.is_map(aux, path + ".aux_addresses")) {
        for (auto it = aux.begin(); it != aux.end(); ++it) {
            auto p = join_path(path + ".aux_addresses", it->first.Scalar());
            if (auto a = r.ip(it->second, p); a && within(it->second, p, *a)) c.aux_addresses[it->first.Scalar()] = *a;
        }
    }
    auto& slot = subnet->addr.is_v4() ? net.ipv4 : net.ipv6;
    if (slot) {
        r.error(n, path, fmt::format("a second IPv{} subnet; topo allows one IPv4 and one IPv6 entry per network", subnet->addr.is_v4() ? 4 : 6));
        return;
    }
    slot = c;
}

void parse_ipam(Reader& r, const yaml::Node& n, const std::string& path, Network& net) {
    if (!r.is_map(n, path)) return;
    r.keys(n, path, {"driver", "config", "options"});
    if (auto d = n["driver"]) {
        if (auto s = r.scalar(d, path + ".driver"); s && *s != "default")
            r.error(d, path + ".driver", fmt::format("ipam driver \"{}\" is not supported; use default", *s));
    }
    auto cfg = n["config"];
    if (!cfg || cfg.IsNull()) return;
    if (!cfg.IsSequence()) {
        r.error(cfg, path + ".config", "expected a list of {subnet, ip_range, gateway, aux_addresses}");
        return;
    }
    for (size_t i = 0; i < cfg.size(); ++i) {
        auto p = fmt::format("{}.config[{}]", path, i);
        if (r.is_map(cfg[i], p)) parse_ipam_entry(r, cfg[i], p, net);
    }
}

// driver_opts: known options per driver; other com.docker.* ones are warnings.
void parse_driver_opts(Reader& r, const yaml::Node& n, const std::string& path, Network& net) {
    if (!r.is_map(n, path)) return;
    r.no_duplicate_keys(n, path);
    for (auto it = n.begin(); it != n.end(); ++it) {
        auto key = it->first.Scalar();
        auto p = join_path(path, key);
        const yaml::Node& v = it->second;
        bool bridge = net.driver == Driver::Bridge, mac = net.driver == Driver::Macvlan, ovl = net.driver == Driver::Overlay;
        if (key == "mtu" || key == "com.docker.network.driver.mtu") {
            if (auto m = r.integer(v, p, 68, 65535)) net.mtu = uint32_t(*m);
        } else if (bridge && key == "com.docker.network.bridge.name") {
            if (auto s = r.scalar(v, p)) {
                if (!valid_ifname(*s)) r.error(v, p, fmt::format("\"{}\" is not a valid interface name (at most 15 characters, no spaces, '/' or ':')", *s));
                else net.kernel_name = *s;
            }
        } else if (bridge && key == "com.docker.network.bridge.enable_icc") {
            if (auto b = r.boolean(v, p)) net.enable_icc = *b;
        } else if (bridge && key == "com.docker.network.bridge.enable_ip_masquerade") {
            if (auto b = r.boolean(v, p)) net.enable_masquerade = *b;
        } else if (bridge && key == "com.docker.network.bridge.host_binding_ipv4") {
            if (auto a = r.ip(v, p)) net.host_binding_ipv4 = a;
        } else if (mac && key == "parent") {
            if (auto s = r.scalar(v, p)) {
                if (!valid_ifname(*s)) r.error(v, p, fmt::format("\"{}\" is not a valid interface name", *s));
                else net.parent = *s, net.link_at = {r.mark(v), p};
            }
        } else if (mac && key == "host_access") {
            if (auto b = r.boolean(v, p)) net.host_access = *b;
        } else if (mac && key == "macvlan_mode") {
            if (auto s = r.scalar(v, p)) {
                if (*s != "bridge" && *s != "private" && *s != "vepa" && *s != "passthru")
                    r.error(v, p, fmt::format("unknown macvlan_mode \"{}\"; use bridge, private, vepa or passthru", *s));
                else net.macvlan_mode = *s;
            }
        } else if (ovl && key == "vxlan_id") {
            if (auto id = r.integer(v, p, 1, 16777215)) net.vxlan_id = uint32_t(*id);
        } else if (ovl && key == "dstport") {
            if (auto d = r.integer(v, p, 1, 65535)) net.dstport = uint16_t(*d);
        } else if (ovl && key == "encrypted") {
            net.encrypted = r.mark(it->first);  // Docker's: the key alone asks for it, whatever its value
        } else if (ovl && key == "underlay") {
            if (auto s = r.scalar(v, p)) net.underlay = *s;
        } else if (key.starts_with("com.docker.")) {
            r.warn(it->first, p, fmt::format("option {} is not implemented by topo and is ignored", key));
        } else {
            r.error(it->first, p, fmt::format("unknown option \"{}\" for the {} driver", key, to_string(net.driver)));
        }
    }
}

}  // namespace

void parse_network(Reader& r, const std::string& name, const yaml::Node& n, Network& net) {
    auto path = "networks." + name;
    net.name = name;
    net.mark = r.mark(n);
    if (!r.is_map(n, path)) return;
    r.keys(n, path, {"driver", "driver_opts", "ipam", "internal", "enable_ipv6", "enable_ipv4", "external", "name",
                     "labels", "attachable"});
    if (auto d = n["driver"]) {
        if (auto s = r.scalar(d, path + ".driver")) {
            if (*s == "bridge") net.driver = Driver::Bridge;
            else if (*s == "macvlan") net.driver = Driver::Macvlan;
            else if (*s == "overlay" || *s == "vxlan") net.driver = Driver::Overlay;
            else r.error(d, path + ".driver", fmt::format("unknown driver \"{}\"; use bridge, macvlan or overlay", *s));
        }
    }
    if (auto b = n["internal"]) net.internal = r.boolean(b, path + ".internal").value_or(false);
    if (auto b = n["enable_ipv6"]) net.enable_ipv6 = r.boolean(b, path + ".enable_ipv6").value_or(false);
    // Compose's enable_ipv4 (Docker 28): true is what every network is here.
    if (auto b = n["enable_ipv4"]; b && !r.boolean(b, path + ".enable_ipv4").value_or(true))
        r.error(b, path + ".enable_ipv4",
                "IPv6-only networks are not built by topo: every network has an IPv4 subnet; remove enable_ipv4: false");
    if (auto e = n["external"]) {
        if (e.IsMap()) {  // legacy Compose form: external: {name: x}
            net.external = true;
            if (auto nm = e["name"]) {
                net.kernel_name = r.scalar(nm, path + ".external.name").value_or("");
                net.link_at = {r.mark(nm), path + ".external.name"};
            }
        } else {
            net.external = r.boolean(e, path + ".external").value_or(false);
        }
    }
    // `name:` is the bridge's name where it can be one (at most 15
    // characters). Compose's network names are often longer: Docker's bridge
    // is br-<id> whatever the name, and so topo's is its own generated one.
    // An external network names an existing bridge, which cannot have such a name.
    bool named = false;
    if (auto nm = n["name"]) {
        if (auto s = r.scalar(nm, path + ".name")) {
            named = true;
            if (valid_ifname(*s))
                net.kernel_name = *s, net.link_at = {r.mark(nm), path + ".name"};
            else if (net.external)
                r.error(nm, path + ".name",
                        fmt::format("\"{}\" cannot be a bridge's name (at most 15 characters, no spaces, '/' or ':'): "
                                    "an external network joins an existing bridge by its kernel name (`ip -br link "
                                    "show type bridge` lists them; a bridge Docker made is br- and the first 12 "
                                    "characters of the network's id)",
                                    *s));
        }
    }
    if (auto o = n["driver_opts"]) parse_driver_opts(r, o, path + ".driver_opts", net);
    if (auto i = n["ipam"]) parse_ipam(r, i, path + ".ipam", net);
    if (auto l = n["labels"]; l && l.IsMap())
        for (auto it = l.begin(); it != l.end(); ++it) net.labels[it->first.Scalar()] = it->second.IsScalar() ? it->second.Scalar() : "";
    if (net.internal) net.enable_masquerade = false;
    if (net.driver == Driver::Macvlan && net.parent.empty())
        r.error(n, path + ".driver_opts.parent", "a macvlan network needs a parent interface: driver_opts: {parent: eth1}");
    if (net.external && net.driver != Driver::Bridge)
        r.error(n["external"], path + ".external", "only bridge networks can be external");
    if (net.external && net.kernel_name.empty() && !named)
        r.error(n["external"], path + ".external", "an external network needs `name:` with the existing bridge's name");
    if (net.ipv6 && !net.enable_ipv6)
        r.error(n, path + ".enable_ipv6", "an IPv6 subnet needs enable_ipv6: true");
    // The kernel turns IPv6 off on a link below 1280 (RFC 8200's minimum).
    if (net.enable_ipv6 && net.mtu && *net.mtu < 1280)
        for (auto* key : {"com.docker.network.driver.mtu", "mtu"})
            if (auto m = n["driver_opts"][key])
                r.error(m, path + ".driver_opts." + key,
                        fmt::format("an MTU of {} is below IPv6's minimum of 1280, and the network has enable_ipv6; "
                                    "use 1280 or more, or turn IPv6 off",
                                    *net.mtu));
}

void parse_hosts(Reader& r, const yaml::Node& n, Project& p) {
    if (!r.is_map(n, "hosts")) return;
    r.no_duplicate_keys(n, "hosts");
    for (auto it = n.begin(); it != n.end(); ++it) {
        auto name = it->first.Scalar();
        auto path = "hosts." + name;
        if (!valid_name(name)) r.error(it->first, path, fmt::format("\"{}\" is not a valid host name", name));
        if (!r.is_map(it->second, path)) continue;
        r.keys(it->second, path, {"address"});
        if (!it->second["address"]) {
            r.error(it->second, path, "a host needs address: (its underlay IP address)");
            continue;
        }
        auto at = it->second["address"];
        auto a = r.ip(at, path + ".address");
        if (!a) continue;
        // The tunnel's endpoint: an address of the host's own on the underlay,
        // one per host, all of one family (a VXLAN device sends in one).
        bool multicast = a->is_v4() ? (a->bytes[0] & 0xf0) == 0xe0 : a->bytes[0] == 0xff;
        if (a->is_loopback() || a->is_unspecified() || multicast) {
            r.error(at, path + ".address",
                    fmt::format("{} is not an address other hosts can send to; give the host's unicast address on "
                                "the network that joins the hosts (the underlay)",
                                a->str()));
            continue;
        }
        for (auto& [other, h] : p.hosts) {
            if (h.address == *a)
                r.error(at, path + ".address",
                        fmt::format("{} is also the address of host {}; each host needs its own", a->str(), other));
            else if (h.address.family != a->family)
                r.error(at, path + ".address",
                        fmt::format("an IPv{} address where host {}'s is IPv{}; a VXLAN tunnel joins hosts over one "
                                    "family: give every host an address of the same one",
                                    a->family, other, h.address.family));
            else
                continue;
            break;
        }
        p.hosts[name] = {name, *a};
    }
}

}  // namespace topo::manifest
