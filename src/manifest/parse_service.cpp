// services.<name>: its endpoints (networks), ports, names and network mode.
// Compose keys that concern the container runtime are accepted and ignored;
// an unknown key is an error (with a suggestion), so a typo such as
// "netwroks" never silently leaves a service unconnected.
#include <fmt/format.h>

#include <algorithm>

#include "manifest/parsers.hpp"

namespace topo::manifest {

namespace {

// Service keys of the Compose specification that topo accepts and ignores.
const std::vector<std::string>& runtime_keys() {
    static const std::vector<std::string> keys = {
        "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup",
        "cgroup_parent", "command", "configs", "container_name", "cpu_count", "cpu_percent",
        "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus",
        "cpuset", "credential_spec", "depends_on", "deploy", "develop", "device_cgroup_rules",
        "devices", "domainname", "driver_opts", "entrypoint", "env_file", "environment",
        "extends", "gpus", "group_add", "healthcheck", "image", "init", "ipc",
        "isolation", "labels", "label_file", "logging", "mem_limit",
        "mem_reservation", "mem_swappiness", "memswap_limit", "models", "oom_kill_disable",
        "oom_score_adj", "pid", "pids_limit", "platform", "post_start", "pre_stop", "privileged",
        "profiles", "provider", "pull_policy", "read_only", "restart", "runtime",
        "secrets", "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal",
        "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "use_api_socket", "user", "userns_mode",
        "uts", "volumes", "volumes_from", "working_dir"};
    return keys;
}

const std::vector<std::string>& network_keys() {
    static const std::vector<std::string> keys = {"networks", "ports", "dns", "dns_search", "extra_hosts",
                                                  "hostname", "network_mode", "host", "links", "dns_opt", "scale",
                                                  "external_links", "expose", "mac_address"};
    return keys;
}

bool valid_hostname(const std::string& s) {
    if (s.empty() || s.size() > 253) return false;
    for (unsigned char c : s)
        if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_')) return false;
    return s.front() != '-' && s.front() != '.';
}

std::optional<Mac> parse_mac(Reader& r, const yaml::Node& m, const std::string& path) {
    auto s = r.scalar(m, path);
    if (!s) return std::nullopt;
    auto mac = Mac::parse(*s);
    if (!mac) r.error(m, path, fmt::format("\"{}\" is not a MAC address; write it as 02:42:0a:00:00:02", *s));
    else if (mac->bytes[0] & 1)  // the kernel refuses it ("Cannot assign requested address")
        r.error(m, path, fmt::format("{} is a multicast address (its first byte is odd); a link needs a unicast one, e.g. 02:42:0a:00:00:02", *s)), mac.reset();
    else if (*mac == Mac{})
        r.error(m, path, "00:00:00:00:00:00 is not a usable MAC address; e.g. 02:42:0a:00:00:02"), mac.reset();
    return mac;
}

bool link_local(const IpAddr& a) {
    if (a.is_v4()) return Prefix::parse("169.254.0.0/16")->contains(a);
    return Prefix::parse("fe80::/10")->contains(a);
}

void parse_endpoint(Reader& r, const yaml::Node& n, const std::string& path, Endpoint& e) {
    e.mark = r.mark(n);
    if (n.IsNull()) return;
    if (!r.is_map(n, path)) return;
    r.keys(n, path, {"aliases", "ipv4_address", "ipv6_address", "mac_address", "interface_name",
                     "priority", "link_local_ips", "driver_opts", "gw_priority"});
    if (auto a = n["aliases"]) {
        for (auto& alias : r.strings(a, path + ".aliases")) {
            if (valid_hostname(alias)) e.aliases.push_back(alias);
            else r.error(a, path + ".aliases", fmt::format("\"{}\" is not a valid host name", alias));
        }
    }
    if (auto a = n["ipv4_address"]) {
        e.ipv4_address = r.ip(a, path + ".ipv4_address");
        if (e.ipv4_address && !e.ipv4_address->is_v4())
            r.error(a, path + ".ipv4_address", fmt::format("{} is not an IPv4 address; use ipv6_address", e.ipv4_address->str())), e.ipv4_address.reset();
    }
    if (auto a = n["ipv6_address"]) {
        e.ipv6_address = r.ip(a, path + ".ipv6_address");
        if (e.ipv6_address && !e.ipv6_address->is_v6())
            r.error(a, path + ".ipv6_address", fmt::format("{} is not an IPv6 address; use ipv4_address", e.ipv6_address->str())), e.ipv6_address.reset();
    }
    if (auto m = n["mac_address"]) e.mac_address = parse_mac(r, m, path + ".mac_address");
    if (auto i = n["interface_name"]) {
        if (auto s = r.scalar(i, path + ".interface_name")) {
            bool ok = !s->empty() && s->size() <= 15 && *s != "lo" &&
                      std::all_of(s->begin(), s->end(), [](unsigned char c) { return c > ' ' && c < 0x7f && c != '/' && c != ':'; });
            if (!ok) r.error(i, path + ".interface_name", fmt::format("\"{}\" is not a valid interface name (1-15 characters, no spaces, '/' or ':', not lo)", *s));
            else e.interface_name = *s;
        }
    }
    if (auto p = n["priority"]) e.priority = int(r.integer(p, path + ".priority", -100000, 100000).value_or(0));
    if (auto p = n["gw_priority"]) e.gw_priority = int(r.integer(p, path + ".gw_priority", -100000, 100000).value_or(0));
    if (auto l = n["link_local_ips"]) {
        r.each_scalar(l, path + ".link_local_ips", [&](const yaml::Node& item, const std::string& p, const std::string& text) {
            auto a = IpAddr::parse(text);
            if (!a) r.error(item, p, fmt::format("\"{}\" is not an IP address", text));
            else if (!link_local(*a))
                r.error(item, p, fmt::format("{} is not link-local; link_local_ips takes addresses of {}", text,
                                             a->is_v4() ? "169.254.0.0/16" : "fe80::/10"));
            else e.link_local_ips.push_back(*a);
        });
    }
    // Options of Docker's network drivers for one endpoint (sysctls, for
    // one): topo has no drivers to hand them to.
    if (auto o = n["driver_opts"]; o && o.size())
        r.warn(o, path + ".driver_opts", "endpoint driver_opts are for Docker's network drivers, and topo ignores them");
}

// scale: N, or deploy.replicas: N (the rest of deploy is the runtime's);
// both, differing, is an error as in Compose.
void parse_replicas(Reader& r, const yaml::Node& n, const std::string& path, Service& s) {
    constexpr long most = 10000;
    std::optional<long> scale, replicas;
    if (auto x = n["scale"]) scale = r.integer(x, path + ".scale", 0, most);
    if (auto d = n["deploy"]; d.IsMap() && d["replicas"]) replicas = r.integer(d["replicas"], path + ".deploy.replicas", 0, most);
    if (scale && replicas && *scale != *replicas)
        r.error(n["scale"], path + ".scale",
                fmt::format("scale {} and deploy.replicas {} disagree; keep one of them", *scale, *replicas));
    if (auto v = scale ? scale : replicas) s.replicas = int(*v);
}

// links: ["db", "db:database"]; the alias defaults to the service's name.
void parse_links(Reader& r, const yaml::Node& n, const std::string& path, Service& s) {
    if (!n.IsSequence()) {
        r.error(n, path, "expected a list of \"service\" or \"service:alias\"");
        return;
    }
    r.each_scalar(n, path, [&](const yaml::Node& item, const std::string& p, const std::string& text) {
        auto colon = text.find(':');
        auto service = text.substr(0, colon), alias = colon == std::string::npos ? service : text.substr(colon + 1);
        if (service.empty() || !valid_hostname(alias))
            r.error(item, p, fmt::format("\"{}\" is not \"service\" or \"service:alias\" with a valid host name", text));
        else s.links.emplace_back(service, alias);
    });
}

void parse_networks(Reader& r, const yaml::Node& n, const std::string& path, Service& s) {
    if (n.IsSequence()) {
        for (size_t i = 0; i < n.size(); ++i) {
            auto name = r.scalar(n[i], fmt::format("{}[{}]", path, i));
            if (!name) continue;
            Endpoint e;
            e.network = *name;
            e.mark = r.mark(n[i]);
            s.endpoints.push_back(e);
        }
        return;
    }
    if (!r.is_map(n, path)) return;
    r.no_duplicate_keys(n, path);
    for (auto it = n.begin(); it != n.end(); ++it) {
        Endpoint e;
        e.network = it->first.Scalar();
        parse_endpoint(r, it->second, join_path(path, e.network), e);
        e.mark = r.mark(it->first);
        s.endpoints.push_back(e);
    }
}

void parse_extra_hosts(Reader& r, const yaml::Node& n, const std::string& path, Service& s) {
    auto add = [&](const yaml::Node& at, const std::string& p, const std::string& name, const std::string& addr) {
        auto a = IpAddr::parse(addr);
        if (!valid_hostname(name)) r.error(at, p, fmt::format("\"{}\" is not a valid host name", name));
        else if (addr == "host-gateway") s.extra_hosts.push_back({name, std::nullopt});
        else if (!a) r.error(at, p, fmt::format("\"{}\" is not an IP address (or host-gateway, the host itself)", addr));
        else s.extra_hosts.push_back({name, *a});
    };
    if (n.IsMap()) {
        for (auto it = n.begin(); it != n.end(); ++it) {
            auto p = join_path(path, it->first.Scalar());
            for (auto& addr : r.strings(it->second, p)) add(it->second, p, it->first.Scalar(), addr);
        }
        return;
    }
    if (!n.IsSequence()) {
        r.error(n, path, "expected a list of \"name:address\" or a map of name: address");
        return;
    }
    for (size_t i = 0; i < n.size(); ++i) {
        auto p = fmt::format("{}[{}]", path, i);
        auto text = r.scalar(n[i], p);
        if (!text) continue;
        auto sep = text->find_first_of(":=");
        if (sep == std::string::npos) {
            r.error(n[i], p, fmt::format("\"{}\" is not \"name:address\"", *text));
            continue;
        }
        auto addr = text->substr(sep + 1);
        if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
        add(n[i], p, text->substr(0, sep), addr);
    }
}

void parse_mode(Reader& r, const yaml::Node& n, const std::string& path, Service& s) {
    auto m = r.scalar(n, path);
    if (!m) return;
    if (*m == "none") s.mode = NetworkMode::None;
    else if (*m == "host") s.mode = NetworkMode::Host;
    else if (m->starts_with("service:")) s.mode = NetworkMode::Service, s.mode_service = m->substr(8);
    else if (m->starts_with("container:"))
        r.error(n, path, fmt::format("network_mode \"{}\" joins a container's namespace, and topo has no containers; to "
                                     "share a service's sandbox, write network_mode: service:<name>", *m));
    else if (*m == "bridge" || *m == "default")
        r.error(n, path, fmt::format("network_mode \"{}\" is Docker's default bridge (docker0), outside the project, "
                                     "which topo has no counterpart of: leave network_mode out (the service joins the "
                                     "project's default network), or attach it to an existing bridge with an external "
                                     "network (networks: {{b: {{external: true, name: docker0}}}})",
                                     *m));
    else r.error(n, path, fmt::format("network_mode \"{}\" is not supported; use none, host or service:<name>, or leave it out and use networks", *m));
}

}  // namespace

void parse_service(Reader& r, const std::string& name, const yaml::Node& n, Service& s) {
    auto path = "services." + name;
    s.name = name;
    s.hostname = name;
    s.mark = r.mark(n);
    if (!r.is_map(n, path)) return;
    r.no_duplicate_keys(n, path);
    // Built once: copying the ~100 names for every service cost ~3 ms at 1000.
    static const std::vector<std::string> known = [] {
        auto all = network_keys();
        all.insert(all.end(), runtime_keys().begin(), runtime_keys().end());
        return all;
    }();
    for (auto it = n.begin(); it != n.end(); ++it) {
        auto key = it->first.Scalar();
        if (key.starts_with("x-") || std::find(known.begin(), known.end(), key) != known.end()) continue;
        auto hint = suggestion(key, known);
        r.error(it->first, join_path(path, key), fmt::format("unknown key \"{}\"{}", key, hint.empty() ? "" : "; " + hint));
    }
    if (auto m = n["network_mode"]) parse_mode(r, m, path + ".network_mode", s);
    if (auto nw = n["networks"]) parse_networks(r, nw, path + ".networks", s);
    if (auto p = n["ports"]) parse_ports(r, p, path + ".ports", s.ports);
    if (auto d = n["dns"]) {
        for (auto& a : r.strings(d, path + ".dns")) {
            if (auto ip = IpAddr::parse(a)) s.dns.push_back(*ip);
            else r.error(d, path + ".dns", fmt::format("\"{}\" is not an IP address", a));
        }
    }
    if (auto d = n["dns_search"]) s.dns_search = r.strings(d, path + ".dns_search");
    if (auto d = n["dns_opt"]) s.dns_opt = r.strings(d, path + ".dns_opt");
    if (auto e = n["extra_hosts"]) parse_extra_hosts(r, e, path + ".extra_hosts", s);
    if (auto h = n["hostname"]) {
        if (auto v = r.scalar(h, path + ".hostname")) {
            if (valid_hostname(*v)) s.hostname = *v;
            else r.error(h, path + ".hostname", fmt::format("\"{}\" is not a valid host name", *v));
        }
    }
    if (auto h = n["host"]) s.host = r.scalar(h, path + ".host").value_or("");
    if (auto l = n["links"]) parse_links(r, l, path + ".links", s);
    if (auto l = n["external_links"])
        r.error(l, path + ".external_links",
                "external_links name containers outside the project, and topo has none to link to: give the name an "
                "address with extra_hosts: [\"NAME:ADDRESS\"], or put that service in this manifest and use links");
    if (auto x = n["expose"]) parse_expose(r, x, path + ".expose");
    if (auto m = n["mac_address"]) s.mac_address = parse_mac(r, m, path + ".mac_address");
    parse_replicas(r, n, path, s);
    if (s.mode != NetworkMode::Sandbox && n["networks"])
        r.error(n["networks"], path + ".networks", "a service with network_mode cannot also have networks; remove one of them");
    // Docker discards a host-mode service's ports with a warning (the
    // service is on the host's own addresses); it refuses a shared sandbox's.
    if (s.mode == NetworkMode::Host && n["ports"])
        r.warn(n["ports"], path + ".ports",
               "ports are discarded with network_mode: host: the service is on the host's own network, as with Docker");
    if (s.mode == NetworkMode::Service && n["ports"])
        r.error(n["ports"], path + ".ports", "ports are not allowed with network_mode: service");
}

}  // namespace topo::manifest
