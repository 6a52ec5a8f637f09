// services.<s>.ports: short syntax "[host_ip:][published:]target[/protocol]"
// (IPv6 host addresses in brackets, ranges as "8000-8002"), and the long
// syntax {target, published, host_ip, protocol, mode}, with topo's
// x-topo-take-over (a host port a program listens on is taken over).
#include <fmt/format.h>

#include <charconv>

#include "manifest/parsers.hpp"

namespace topo::manifest {

namespace {

std::optional<PortRange> range(const std::string& s, std::string& why) {
    auto dash = s.find('-');
    auto num = [&](std::string_view t) -> std::optional<uint16_t> {
        long v = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || p != t.data() + t.size() || t.empty()) {
            why = fmt::format("\"{}\" is not a port number", std::string(t));
            return std::nullopt;
        }
        if (v < 1 || v > 65535) {
            why = fmt::format("port {} is out of range (1-65535)", v);
            return std::nullopt;
        }
        return uint16_t(v);
    };
    std::string_view sv(s);
    auto first = num(sv.substr(0, dash));
    if (!first) return std::nullopt;
    if (dash == std::string::npos) return PortRange{*first, *first};
    auto last = num(sv.substr(dash + 1));
    if (!last) return std::nullopt;
    if (*last < *first) {
        why = fmt::format("the range {} runs backwards", s);
        return std::nullopt;
    }
    return PortRange{*first, *last};
}

std::optional<Protocol> protocol(const std::string& s) {
    if (s == "tcp") return Protocol::Tcp;
    if (s == "udp") return Protocol::Udp;
    if (s == "sctp") return Protocol::Sctp;
    return std::nullopt;
}

// Splits "host:published:target" honouring "[v6]" host addresses.
std::optional<std::vector<std::string>> split(const std::string& s, std::string& why) {
    std::vector<std::string> parts;
    std::string rest = s;
    if (!rest.empty() && rest[0] == '[') {
        auto close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            why = "an IPv6 host address must be written [addr]:published:target";
            return std::nullopt;
        }
        parts.push_back(rest.substr(1, close - 1));
        rest = rest.substr(close + 2);
    }
    size_t start = 0;
    for (size_t i = 0; i <= rest.size(); ++i)
        if (i == rest.size() || rest[i] == ':') {
            parts.push_back(rest.substr(start, i - start));
            start = i + 1;
        }
    if (parts.size() > 3) {
        why = "too many ':' parts; write [host_ip:][published:]target[/protocol], with IPv6 host addresses in brackets";
        return std::nullopt;
    }
    return parts;
}

std::optional<Port> short_port(const std::string& text, std::string& why) {
    Port p;
    std::string body = text;
    if (auto slash = body.find('/'); slash != std::string::npos) {
        auto proto = protocol(body.substr(slash + 1));
        if (!proto) {
            why = fmt::format("unknown protocol \"{}\"; use tcp, udp or sctp", body.substr(slash + 1));
            return std::nullopt;
        }
        p.protocol = *proto;
        body = body.substr(0, slash);
    }
    auto parts = split(body, why);
    if (!parts) return std::nullopt;
    auto target = range(parts->back(), why);
    if (!target) return std::nullopt;
    p.target = *target;
    if (parts->size() >= 2 && !(*parts)[parts->size() - 2].empty()) {
        auto pub = range((*parts)[parts->size() - 2], why);
        if (!pub) return std::nullopt;
        p.published = pub;
    }
    if (parts->size() == 3 && !(*parts)[0].empty()) {
        p.host_ip = IpAddr::parse((*parts)[0]);
        if (!p.host_ip) {
            why = fmt::format("\"{}\" is not an IP address", (*parts)[0]);
            return std::nullopt;
        }
    }
    return p;
}

std::optional<Port> long_port(Reader& r, const yaml::Node& n, const std::string& path) {
    r.keys(n, path, {"target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"});
    Port p;
    if (!n["target"]) {
        r.error(n, path, "a long-syntax port needs target: (the port inside the sandbox)");
        return std::nullopt;
    }
    auto t = r.integer(n["target"], path + ".target", 1, 65535);
    if (!t) return std::nullopt;
    p.target = {uint16_t(*t), uint16_t(*t)};
    if (auto pub = n["published"]) {
        auto s = r.scalar(pub, path + ".published");
        if (!s) return std::nullopt;
        std::string why;
        p.published = range(*s, why);
        if (!p.published) {
            r.error(pub, path + ".published", why);
            return std::nullopt;
        }
    }
    if (auto h = n["host_ip"]) {
        p.host_ip = r.ip(h, path + ".host_ip");
        if (!p.host_ip) return std::nullopt;
    }
    if (auto pr = n["protocol"]) {
        auto s = r.scalar(pr, path + ".protocol");
        if (!s) return std::nullopt;
        auto proto = protocol(*s);
        if (!proto) {
            r.error(pr, path + ".protocol", fmt::format("unknown protocol \"{}\"; use tcp, udp or sctp", *s));
            return std::nullopt;
        }
        p.protocol = *proto;
    }
    if (auto over = n["x-topo-take-over"]) {
        auto b = r.boolean(over, path + ".x-topo-take-over");
        if (!b) return std::nullopt;
        p.take_over = *b;
    }
    return p;
}

}  // namespace

void parse_ports(Reader& r, const yaml::Node& n, const std::string& path, std::vector<Port>& out) {
    if (n.IsNull()) return;
    if (!n.IsSequence()) {
        r.error(n, path, "expected a list of ports, e.g. [\"8080:80\"]");
        return;
    }
    for (size_t i = 0; i < n.size(); ++i) {
        auto p = fmt::format("{}[{}]", path, i);
        std::optional<Port> port;
        if (n[i].IsMap()) {
            port = long_port(r, n[i], p);
        } else if (auto s = r.scalar(n[i], p)) {
            std::string why;
            port = short_port(*s, why);
            if (!port) r.error(n[i], p, why);
        }
        if (!port) continue;
        port->mark = r.mark(n[i]);
        if (port->published && port->published->count() > 1 && port->target.count() == 1) {
            // Docker binds one free port of the range; topo publishes what the manifest names.
            r.error(n[i], p, fmt::format("a published range {}-{} for the one target port {} (Docker binds a free "
                                         "port of it) is not supported: publish one port, e.g. \"{}:{}\"",
                                         port->published->first, port->published->last, port->target.first,
                                         port->published->first, port->target.first));
            continue;
        }
        if (port->published && port->published->count() != port->target.count()) {
            r.error(n[i], p, fmt::format("published range {}-{} and target range {}-{} differ in length",
                                         port->published->first, port->published->last, port->target.first, port->target.last));
            continue;
        }
        if (!port->published && port->target.count() > 1) {
            // Each target port on an ephemeral host port of its own, as Docker publishes "3000-3001".
            for (uint32_t t = port->target.first; t <= port->target.last; ++t) {
                Port one = *port;
                one.target = {uint16_t(t), uint16_t(t)};
                out.push_back(one);
            }
            continue;
        }
        out.push_back(*port);
    }
}

void parse_expose(Reader& r, const yaml::Node& n, const std::string& path) {
    r.each_scalar(n, path, [&](const yaml::Node& item, const std::string& p, const std::string& text) {
        auto slash = text.find('/');
        std::string why;
        if (slash != std::string::npos && !protocol(text.substr(slash + 1)))
            r.error(item, p, fmt::format("\"{}\" is not a protocol; use tcp, udp or sctp", text.substr(slash + 1)));
        else if (!range(text.substr(0, slash), why))
            r.error(item, p, fmt::format("{}; expose takes a port or a range, as 8080, 8080/udp or 8000-8010", why));
    });
}

}  // namespace topo::manifest
