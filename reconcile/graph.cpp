// `topo graph` (see graph.hpp): the picture is built once as nodes, edges and
// per-host clusters, then written in either language.
#include "reconcile/graph.hpp"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "model/naming.hpp"

namespace topo {

namespace {

enum class Shape { Network, Sandbox, Host, Member };  // Member: a service without a sandbox of its own

struct Node {
    std::string id;
    std::vector<std::string> lines;  // the first is the name
    Shape shape;
    bool dashed = false;  // an external network, a service without a sandbox
};

struct Edge {
    std::string from, to;
    std::vector<std::string> lines;
    bool arrow = false;   // published ports: from the host to the sandbox
    bool dashed = false;  // network_mode: host / service:x
};

struct Cluster {
    std::string label;
    std::vector<size_t> nodes;
};

struct Picture {
    std::string title;
    std::vector<Node> nodes;
    std::map<std::string, size_t> index;  // id → nodes
    std::vector<size_t> top;              // nodes outside every cluster
    std::vector<Cluster> clusters;
    std::vector<Edge> edges;
};

std::string port_line(const std::string& service, const Port& port, const Addressing& a) {
    auto range = [](PortRange r) { return r.count() == 1 ? fmt::format("{}", r.first) : fmt::format("{}-{}", r.first, r.last); };
    std::string published;
    if (port.published) published = range(*port.published);
    else if (auto it = a.ephemeral_ports.find(ephemeral_port_key(service, port)); it != a.ephemeral_ports.end())
        published = fmt::format("{} (ephemeral)", it->second);
    else published = "ephemeral";
    auto host_ip = port.host_ip ? (port.host_ip->family == 6 ? "[" + port.host_ip->str() + "]:" : port.host_ip->str() + ":") : "";
    return fmt::format("{}{} → {}/{}", host_ip, published, range(port.target), to_string(port.protocol));
}

std::vector<std::string> network_lines(const Project& p, const Network& n, const Addressing& a) {
    std::vector<std::string> lines{n.name};
    switch (n.driver) {
        case Driver::Bridge:
            lines.push_back(fmt::format("{}bridge {}", n.external ? "external " : "", bridge_name(p, n)));
            break;
        case Driver::Macvlan: lines.push_back(fmt::format("macvlan ({}) on {}", n.macvlan_mode, n.parent)); break;
        case Driver::Overlay:
            lines.push_back(fmt::format("overlay: VXLAN {} port {}", n.vxlan_id.value_or(naming::default_vni(p.name, n.name)),
                                        n.dstport));
            break;
    }
    if (auto it = a.networks.find(n.name); it != a.networks.end()) {
        auto& na = it->second;
        for (auto [subnet, gateway] : {std::pair{na.subnet4, na.gateway4}, std::pair{na.subnet6, na.gateway6}})
            if (subnet)
                lines.push_back(gateway ? fmt::format("{} gateway {}", subnet->str(), gateway->str()) : subnet->str());
    }
    std::vector<std::string> flags;
    if (n.internal) flags.push_back("internal");
    if (!n.enable_icc) flags.push_back("no traffic between sandboxes");
    if (!n.internal && !n.enable_masquerade) flags.push_back("no masquerade");
    if (!flags.empty()) lines.push_back(fmt::format("{}", fmt::join(flags, ", ")));
    return lines;
}

struct Builder {
    const Project& p;
    const Addressing& a;
    Picture out;
    std::map<std::string, size_t> cluster_of;  // host name → clusters

    bool multi() const { return p.hosts.size() > 1; }

    size_t add(Node n, const std::string& host) {
        size_t i = out.nodes.size();
        out.index[n.id] = i;
        out.nodes.push_back(std::move(n));
        if (host.empty()) {
            out.top.push_back(i);
        } else {
            auto [it, fresh] = cluster_of.try_emplace(host, out.clusters.size());
            if (fresh) {
                auto& h = p.hosts.at(host);
                out.clusters.push_back({fmt::format("host {} ({})", host, h.address.str()), {}});
            }
            out.clusters[it->second].nodes.push_back(i);
        }
        return i;
    }

    // A network as seen from `host`: an overlay is one node for every host,
    // any other network is local to each host whose sandboxes join it.
    std::string network(const Network& n, const std::string& host) {
        bool local = multi() && n.driver != Driver::Overlay && !host.empty();
        auto id = local ? fmt::format("{}/net/{}", host, n.name) : "net/" + n.name;
        if (!out.index.count(id))
            add({id, network_lines(p, n, a), Shape::Network, n.external}, local ? host : "");
        return id;
    }

    std::string host_node(const std::string& host) {
        auto id = "host/" + host;
        if (!out.index.count(id)) {
            std::vector<std::string> lines{"host"};
            if (!host.empty()) lines = {host, p.hosts.at(host).address.str()};
            add({id, lines, Shape::Host}, multi() ? host : "");
        }
        return id;
    }

    // The host whose node a service's ports start from: the only one of
    // `hosts`, or its `host:`; empty ("host") when the manifest has no `hosts`.
    std::string host_of(const Service& s) const {
        if (p.hosts.size() == 1) return p.hosts.begin()->first;
        return s.host;
    }

    // The cluster a service's nodes go in: its host's, when there are several.
    std::string cluster(const Service& s) const { return multi() ? s.host : ""; }

    // The sandboxes a node stands for: the service's, or all its replicas'
    // (drawn once, as replica 1, with the count).
    std::vector<std::string> drawn_as(const Service& s) const {
        if (!s.replica_of) return {s.name};
        std::vector<std::string> names;
        for (int i = 1; i <= s.replica_of->count; ++i) names.push_back(fmt::format("{}-{}", s.replica_of->service, i));
        return names;
    }

    void sandbox(const Service& s) {
        if (s.replica_of && s.replica_of->index != 1) return;
        auto host = cluster(s);
        auto id = "svc/" + s.name;
        std::vector<std::string> lines{s.name, "netns " + naming::netns(p.name, s.name)};
        if (s.replica_of) {
            auto& r = *s.replica_of;
            lines = {fmt::format("{} × {} replicas", r.service, r.count),
                     r.count > 1 ? fmt::format("netns {}-1 … -{}", naming::netns(p.name, r.service), r.count)
                                 : "netns " + naming::netns(p.name, s.name)};
        }
        if (s.mode == NetworkMode::None) lines.push_back("network_mode: none");
        add({id, lines, Shape::Sandbox}, host);
        for (auto& e : s.endpoints) {
            std::vector<std::string> label{e.interface_name};
            for (auto& name : drawn_as(s))
                if (auto* ea = a.endpoint(name, e.network))
                    for (auto& ip : {ea->v4, ea->v6})
                        if (ip) label.back() += " " + ip->str();
            // (A replica's first two aliases are the service's name and its own container name.)
            auto aliases = s.replica_of ? std::vector<std::string>(e.aliases.begin() + 2, e.aliases.end()) : e.aliases;
            if (!aliases.empty()) label.push_back(fmt::format("aliases: {}", fmt::join(aliases, ", ")));
            out.edges.push_back({id, network(p.networks.at(e.network), host), label});
        }
        if (s.ports.empty()) return;
        std::vector<std::string> ports;
        for (auto& port : s.ports) ports.push_back(port_line(s.name, port, a));
        out.edges.push_back({host_node(host_of(s)), id, ports, true});
    }

    // network_mode host or service:x: no sandbox of its own.
    void member(const Service& s) {
        auto id = "svc/" + s.name;
        add({id, {s.name}, Shape::Member, true}, cluster(s));
        if (s.mode == NetworkMode::Host)
            out.edges.push_back({id, host_node(host_of(s)), {"network_mode: host"}, false, true});
        else
            out.edges.push_back({id, "svc/" + s.mode_service, {"shares the sandbox"}, false, true});
    }

    Picture build() {
        out.title = "project " + p.name;
        for (auto& [_, s] : p.services)
            if (s.has_sandbox()) sandbox(s);
        for (auto& [_, s] : p.services)
            if (!s.has_sandbox()) member(s);
        for (auto& [_, n] : p.networks)  // networks no sandbox joins
            if (!out.index.count("net/" + n.name) && (!multi() || n.driver == Driver::Overlay || !used(n.name)))
                network(n, "");
        return std::move(out);
    }

    bool used(const std::string& net) const {
        for (auto& [_, s] : p.services)
            for (auto& e : s.endpoints)
                if (e.network == net) return true;
        return false;
    }
};

// Graphviz: a quoted ID or label, with line breaks as \n.
std::string dot_quote(const std::vector<std::string>& lines) {
    std::string out = "\"";
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i) out += "\\n";
        for (char c : lines[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
    }
    return out + "\"";
}

std::string dot_node(const Node& n) {
    const char* shape = n.shape == Shape::Host ? "hexagon" : "box";
    std::string style = n.shape == Shape::Sandbox || n.shape == Shape::Member ? "rounded" : "";
    if (n.dashed) style += style.empty() ? "dashed" : ",dashed";
    if (n.shape == Shape::Network) style += style.empty() ? "filled" : ",filled";
    return fmt::format("{} [label={}, shape={}{}{}]", dot_quote({n.id}), dot_quote(n.lines), shape,
                       style.empty() ? "" : ", style=\"" + style + "\"",
                       n.shape == Shape::Network ? ", fillcolor=\"#e8f0fe\"" : "");
}

std::string dot(const Picture& g) {
    std::string out = fmt::format("// topo graph, {}: render with `dot -Tsvg`\ngraph {} {{\n", g.title, dot_quote({g.title}));
    out += "  graph [rankdir=LR, labelloc=t, fontname=\"sans-serif\", label=" + dot_quote({g.title}) + "];\n";
    out += "  node [fontname=\"sans-serif\", fontsize=10];\n  edge [fontname=\"sans-serif\", fontsize=9];\n";
    for (size_t i : g.top) out += "  " + dot_node(g.nodes[i]) + ";\n";
    for (size_t c = 0; c < g.clusters.size(); ++c) {
        out += fmt::format("  subgraph \"cluster_{}\" {{\n    label={};\n", c, dot_quote({g.clusters[c].label}));
        for (size_t i : g.clusters[c].nodes) out += "    " + dot_node(g.nodes[i]) + ";\n";
        out += "  }\n";
    }
    for (auto& e : g.edges) {
        std::vector<std::string> attrs{"label=" + dot_quote(e.lines)};
        if (e.arrow) attrs.push_back("dir=forward");
        if (e.dashed) attrs.push_back("style=dashed");
        out += fmt::format("  {} -- {} [{}];\n", dot_quote({e.from}), dot_quote({e.to}), fmt::join(attrs, ", "));
    }
    return out + "}\n";
}

// Mermaid: IDs are plain words (n0, n1, ...); labels are quoted, with the
// characters Mermaid would read as markup written as entities.
std::string mermaid_quote(const std::vector<std::string>& lines) {
    std::string out = "\"";
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i) out += "<br/>";
        for (char c : lines[i]) {
            if (c == '"') out += "#quot;";
            else if (c == '<') out += "#lt;";
            else if (c == '>') out += "#gt;";
            else if (c == '#') out += "#35;";
            else out += c;
        }
    }
    return out + "\"";
}

std::string mermaid_node(const Picture& g, size_t i) {
    auto& n = g.nodes[i];
    auto label = mermaid_quote(n.lines);
    switch (n.shape) {
        case Shape::Network: return fmt::format("n{}[{}]", i, label);
        case Shape::Sandbox: return fmt::format("n{}([{}])", i, label);
        case Shape::Host: return fmt::format("n{}{{{{{}}}}}", i, label);
        case Shape::Member: return fmt::format("n{}({})", i, label);
    }
    return "";
}

std::string mermaid(const Picture& g) {
    std::string out = fmt::format("%% topo graph, {}: paste into a ```mermaid block\nflowchart LR\n", g.title);
    for (size_t i : g.top) out += "  " + mermaid_node(g, i) + "\n";
    for (size_t c = 0; c < g.clusters.size(); ++c) {
        out += fmt::format("  subgraph c{}[{}]\n", c, mermaid_quote({g.clusters[c].label}));
        for (size_t i : g.clusters[c].nodes) out += "    " + mermaid_node(g, i) + "\n";
        out += "  end\n";
    }
    for (auto& e : g.edges) {
        const char* link = e.dashed ? "-.-" : e.arrow ? "-->" : "---";
        out += fmt::format("  n{} {}|{}| n{}\n", g.index.at(e.from), link, mermaid_quote(e.lines), g.index.at(e.to));
    }
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (g.nodes[i].dashed) out += fmt::format("  style n{} stroke-dasharray: 5 5\n", i);
    return out;
}

}  // namespace

std::string graph(const Project& p, const Addressing& a, GraphFormat format) {
    auto picture = Builder{p, a, {}, {}}.build();
    return format == GraphFormat::Dot ? dot(picture) : mermaid(picture);
}

}  // namespace topo
