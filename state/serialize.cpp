// JSON forms of the model (state/serialize.hpp), each from_json the exact
// inverse of its to_json.
#include "state/serialize.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "model/naming.hpp"

namespace topo {

using nlohmann::json;

namespace {

template <class T>
void put(json& j, const char* k, const std::optional<T>& v) {
    if (v) j[k] = v->str();
}
void put(json& j, const char* k, const std::string& v) {
    if (!v.empty()) j[k] = v;
}
std::string get_str(const json& j, const char* k) { return j.contains(k) ? j.at(k).get<std::string>() : ""; }

template <class T>
std::optional<T> get_parsed(const json& j, const char* k) {
    if (!j.contains(k)) return std::nullopt;
    auto v = T::parse(j.at(k).get<std::string>());
    if (!v) throw std::runtime_error(fmt::format("bad {} value {}", k, j.at(k).dump()));
    return v;
}

template <class T>
T need(const json& j, const char* k) {
    auto p = get_parsed<T>(j, k);
    if (!p) throw std::runtime_error(fmt::format("missing {}", k));
    return *p;
}
Prefix need_prefix(const json& j, const char* k) { return need<Prefix>(j, k); }

const char* link_kind_name(LinkKind k) {
    switch (k) {
        case LinkKind::Bridge: return "bridge";
        case LinkKind::Veth: return "veth";
        case LinkKind::Macvlan: return "macvlan";
        case LinkKind::Vxlan: return "vxlan";
    }
    return "?";
}

struct ToJson {
    json operator()(const Netns& n) const { return {{"kind", "netns"}, {"name", n.name}, {"owner", n.owner}}; }
    json operator()(const Link& l) const {
        json j{{"kind", link_kind_name(l.kind)}, {"name", l.name}, {"up", l.up}};
        put(j, "ns", l.ns);
        put(j, "owner", l.owner);
        if (l.mtu) j["mtu"] = *l.mtu;
        put(j, "mac", l.mac);
        put(j, "master", l.master);
        if (l.isolated) j["isolated"] = *l.isolated;
        if (l.port_learning) j["port_learning"] = *l.port_learning;
        if (auto& p = l.peer) {  // flat keys, as records have always had them
            put(j, "peer_ns", p->ns);
            put(j, "peer_name", p->name);
            put(j, "peer_mac", p->mac);
            put(j, "peer_owner", p->owner);
            if (!p->ipv6) j["peer_ipv6"] = false;
        }
        if (!l.ipv6) j["ipv6"] = false;
        if (l.macvlan) j["macvlan"] = {{"parent", l.macvlan->parent}, {"mode", l.macvlan->mode}};
        if (auto& v = l.vxlan) {
            json x{{"vni", v->vni}, {"dstport", v->dstport}, {"learning", v->learning}, {"proxy", v->proxy}};
            put(x, "local", v->local);
            put(x, "underlay", v->underlay);
            j["vxlan"] = x;
        }
        return j;
    }
    json operator()(const Address& a) const {
        json j{{"kind", "address"}, {"link", a.link}, {"prefix", a.prefix.str()}};
        put(j, "ns", a.ns);
        return j;
    }
    json operator()(const Route& r) const {
        json j{{"kind", "route"}, {"dst", r.dst.str()}};
        put(j, "ns", r.ns);
        put(j, "gateway", r.gateway);
        put(j, "dev", r.dev);
        return j;
    }
    json operator()(const Fdb& f) const {
        json j{{"kind", "fdb"}, {"dev", f.dev}, {"mac", f.mac.str()}};
        put(j, "dst", f.dst);
        return j;
    }
    json operator()(const Neigh& n) const {
        return {{"kind", "neigh"}, {"dev", n.dev}, {"ip", n.ip.str()}, {"mac", n.mac.str()}};
    }
    json operator()(const Sysctl& s) const {
        json j{{"kind", "sysctl"}, {"key", s.key}, {"value", s.value}};
        put(j, "ns", s.ns);
        return j;
    }
    json operator()(const File& f) const {
        json j{{"kind", "file"}, {"path", f.path}, {"content", f.content.str()}};
        put(j, "link", f.link);
        put(j, "owner", f.owner);
        return j;
    }
    json operator()(const NftTable& t) const {
        json chains = json::array(), rules = json::array(), sets = json::object();
        for (auto& c : t.chains) chains.push_back({{"name", c.name}, {"type", c.type}, {"hook", c.hook}, {"priority", c.priority}});
        for (auto& r : t.rules) {
            json j{{"chain", r.chain}, {"text", r.text}, {"op", to_string(r.op)}, {"family", r.family}};
            put(j, "ifname", r.ifname);
            put(j, "subnet", r.subnet);
            put(j, "set", r.set);
            rules.push_back(j);
        }
        for (auto& [n, s] : t.sets) sets[n] = {{"layout", to_string(s.layout)}, {"elements", s.elements}};
        json j{{"kind", "nft-table"}, {"name", t.name}, {"family", t.family}, {"chains", chains}, {"rules", rules}, {"sets", sets}};
        put(j, "owner", t.owner);
        return j;
    }
};

Link link_from_json(const json& j, LinkKind kind) {
    Link l;
    l.kind = kind;
    l.name = j.at("name").get<std::string>();
    l.ns = get_str(j, "ns");
    l.owner = get_str(j, "owner");
    if (j.contains("mtu")) l.mtu = j.at("mtu").get<uint32_t>();
    l.mac = get_parsed<Mac>(j, "mac");
    l.master = get_str(j, "master");
    if (j.contains("isolated")) l.isolated = j.at("isolated").get<bool>();
    if (j.contains("port_learning")) l.port_learning = j.at("port_learning").get<bool>();
    l.up = j.value("up", true);
    if (j.contains("peer_name"))
        l.peer = Veth{get_str(j, "peer_ns"), get_str(j, "peer_name"), get_parsed<Mac>(j, "peer_mac"),
                      get_str(j, "peer_owner"), j.value("peer_ipv6", true)};
    l.ipv6 = j.value("ipv6", true);
    if (j.contains("macvlan")) l.macvlan = Macvlan{get_str(j.at("macvlan"), "parent"), get_str(j.at("macvlan"), "mode")};
    if (j.contains("vxlan")) {
        auto& x = j.at("vxlan");
        l.vxlan = Vxlan{x.at("vni").get<uint32_t>(), x.at("dstport").get<uint16_t>(), get_parsed<IpAddr>(x, "local"),
                        get_str(x, "underlay"), x.value("learning", false), x.value("proxy", true)};
    }
    return l;
}

template <class E>
E enum_from(const std::string& s, E last) {
    for (int i = 0; i <= int(last); ++i)
        if (s == to_string(E(i))) return E(i);
    throw std::runtime_error(fmt::format("unknown value \"{}\"", s));
}

NftTable nft_from_json(const json& j) {
    NftTable t;
    t.name = j.at("name").get<std::string>();
    t.family = j.value("family", "inet");
    t.owner = get_str(j, "owner");
    for (auto& c : j.at("chains")) t.chains.push_back({c.at("name"), c.at("type"), c.at("hook"), c.at("priority")});
    for (auto& r : j.at("rules"))
        t.rules.push_back({r.at("chain"), r.at("text"), enum_from(r.at("op").get<std::string>(), NftOp::DropWithin),
                           r.value("family", 4), get_str(r, "ifname"), get_parsed<Prefix>(r, "subnet"), get_str(r, "set")});
    for (auto& [n, s] : j.at("sets").items())
        t.sets[n] = {n, enum_from(s.at("layout").get<std::string>(), NftLayout::AddrProtoPortToAddr6),
                     s.at("elements").get<std::set<std::string>>()};
    return t;
}

}  // namespace

json object_to_json(const Object& o) { return std::visit(ToJson{}, o); }

Object object_from_json(const json& j) {
    auto kind = j.at("kind").get<std::string>();
    if (kind == "netns") return Netns{j.at("name").get<std::string>(), get_str(j, "owner")};
    if (kind == "bridge") return link_from_json(j, LinkKind::Bridge);
    if (kind == "veth") return link_from_json(j, LinkKind::Veth);
    if (kind == "macvlan") return link_from_json(j, LinkKind::Macvlan);
    if (kind == "vxlan") return link_from_json(j, LinkKind::Vxlan);
    if (kind == "address") return Address{get_str(j, "ns"), j.at("link").get<std::string>(), need_prefix(j, "prefix")};
    if (kind == "route")
        return Route{get_str(j, "ns"), need_prefix(j, "dst"), get_parsed<IpAddr>(j, "gateway"), get_str(j, "dev")};
    if (kind == "fdb") return Fdb{j.at("dev").get<std::string>(), need<Mac>(j, "mac"), get_parsed<IpAddr>(j, "dst")};
    if (kind == "neigh") return Neigh{j.at("dev").get<std::string>(), need<IpAddr>(j, "ip"), need<Mac>(j, "mac")};
    if (kind == "sysctl") return Sysctl{get_str(j, "ns"), j.at("key").get<std::string>(), j.at("value").get<std::string>()};
    if (kind == "file") {
        File f{j.at("path").get<std::string>(), j.at("content").get<std::string>(), get_str(j, "link")};
        f.owner = get_str(j, "owner");
        return f;
    }
    if (kind == "nft-table") return nft_from_json(j);
    throw std::runtime_error(fmt::format("unknown object kind \"{}\"", kind));
}

json change_to_json(const Change& c) {
    json j{{"action", to_string(c.action)}, {"kind", to_string(c.kind())}, {"id", c.id()}};
    j["before"] = c.before ? object_to_json(*c.before) : json(nullptr);
    j["after"] = c.after ? object_to_json(*c.after) : json(nullptr);
    if (!c.fields.empty()) j["fields"] = c.fields;
    if (!c.reason.empty()) j["reason"] = c.reason;
    if (c.implied) j["implied"] = true;
    if (!c.implied_by.empty()) j["implied_by"] = c.implied_by;
    return j;
}

Change change_from_json(const json& j) {
    Change c;
    auto a = j.at("action").get<std::string>();
    if (a == "create") c.action = Action::Create;
    else if (a == "update") c.action = Action::Update;
    else if (a == "delete") c.action = Action::Delete;
    else if (a == "replace") c.action = Action::Replace;
    else throw std::runtime_error(fmt::format("unknown action \"{}\"", a));
    if (!j.at("before").is_null()) c.before = object_from_json(j.at("before"));
    if (!j.at("after").is_null()) c.after = object_from_json(j.at("after"));
    if (!c.before && !c.after) throw std::runtime_error("a change without an object");
    c.fields = j.value("fields", std::vector<std::string>{});
    c.reason = j.value("reason", "");
    c.implied = j.value("implied", false);
    c.implied_by = j.value("implied_by", "");
    return c;
}

json state_to_json(const HostState& s) {
    json arr = json::array();
    for (auto& [_, o] : s.objects) arr.push_back(object_to_json(o));
    return arr;
}

HostState state_from_json(const json& j) {
    HostState s;
    for (auto& o : j) s.add(object_from_json(o));
    return s;
}

json addressing_to_json(const Addressing& a) {
    json nets = json::object();
    for (auto& [name, n] : a.networks) {
        json j = json::object();
        put(j, "subnet4", n.subnet4);
        put(j, "subnet6", n.subnet6);
        put(j, "gateway4", n.gateway4);
        put(j, "gateway6", n.gateway6);
        nets[name] = j;
    }
    json eps = json::array();
    for (auto& [k, e] : a.endpoints) {
        json j{{"service", k.first}, {"network", k.second}};
        put(j, "v4", e.v4);
        put(j, "v6", e.v6);
        put(j, "mac", e.mac);
        put(j, "ifname", e.ifname);
        eps.push_back(j);
    }
    return {{"networks", nets}, {"endpoints", eps}, {"ephemeral_ports", a.ephemeral_ports}};
}

Addressing addressing_from_json(const json& j) {
    Addressing a;
    for (auto& [name, n] : j.at("networks").items()) {
        auto& na = a.networks[name];
        na.subnet4 = get_parsed<Prefix>(n, "subnet4");
        na.subnet6 = get_parsed<Prefix>(n, "subnet6");
        na.gateway4 = get_parsed<IpAddr>(n, "gateway4");
        na.gateway6 = get_parsed<IpAddr>(n, "gateway6");
    }
    for (auto& e : j.at("endpoints")) {
        auto& ea = a.endpoints[{e.at("service").get<std::string>(), e.at("network").get<std::string>()}];
        ea.v4 = get_parsed<IpAddr>(e, "v4");
        ea.v6 = get_parsed<IpAddr>(e, "v6");
        ea.mac = get_parsed<Mac>(e, "mac");
        ea.ifname = get_str(e, "ifname");
    }
    a.ephemeral_ports = j.value("ephemeral_ports", std::map<std::string, uint16_t>{});
    return a;
}

std::string fingerprint(const HostState& s) {
    return fmt::format("{:016x}", naming::hash(state_to_json(s).dump()));
}

nlohmann::json saved_plan_to_json(const SavedPlan& p) {
    json changes = json::array();
    for (auto& ch : p.changes) changes.push_back(change_to_json(ch));
    return {{"format_version", 1},
            {"kind", "topo-saved-plan"},
            {"project", p.project},
            {"host", p.host},
            {"manifests", p.manifests},
            {"scope", {{"project", p.scope.project},
                       {"foreign_links", p.scope.foreign_links},
                       {"files", p.scope.files},
                       {"sysctls", p.scope.sysctls},
                       {"sandboxes", p.scope.sandboxes}}},
            {"fingerprint", p.fingerprint},
            {"changes", changes},
            {"desired", state_to_json(p.desired)},
            {"addressing", addressing_to_json(p.addressing)}};
}

SavedPlan saved_plan_from_json(const json& j) {
    if (j.value("kind", "") != "topo-saved-plan") throw std::runtime_error("not a topo saved plan");
    if (j.value("format_version", 0) != 1)
        throw std::runtime_error(fmt::format("format_version {} is not one this topo reads (1)", j.value("format_version", 0)));
    SavedPlan p;
    p.project = j.at("project").get<std::string>();
    p.host = j.value("host", "");
    p.manifests = j.value("manifests", std::vector<std::string>{});
    auto& sc = j.at("scope");
    p.scope.project = sc.at("project").get<std::string>();
    p.scope.foreign_links = sc.at("foreign_links").get<std::vector<std::string>>();
    p.scope.files = sc.at("files").get<std::vector<std::string>>();
    p.scope.sysctls = sc.at("sysctls").get<std::vector<std::string>>();
    p.scope.sandboxes = sc.value("sandboxes", std::vector<std::string>{});
    p.fingerprint = j.at("fingerprint").get<std::string>();
    for (auto& ch : j.at("changes")) p.changes.push_back(change_from_json(ch));
    p.desired = state_from_json(j.at("desired"));
    p.addressing = addressing_from_json(j.at("addressing"));
    return p;
}

}  // namespace topo
