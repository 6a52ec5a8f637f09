// Overlay networks on each host: the bridge, its VXLAN port, and the static
// entries for the sandboxes of the other hosts, over the fake kernel.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernel/fake.hpp"
#include "model/naming.hpp"
#include "reconcile/diff.hpp"
#include "reconcile/execute.hpp"
#include "reconcile/reconcile.hpp"
#include "test_helpers.hpp"

using namespace topo;
using namespace topo::test;

namespace {

// Three hosts; a and b on node1 and node2, c on node3, all on the overlay
// `mesh`; d on node3 on a bridge network of its own.
Project mesh() {
    Project p;
    p.name = "m";
    p.networks["mesh"] = bridge_net("mesh", "10.9.0.0/24");
    p.networks["mesh"].driver = Driver::Overlay;
    p.networks["mesh"].vxlan_id = 4242;
    p.networks["local"] = bridge_net("local", "10.8.0.0/24");
    for (auto [name, addr] : {std::pair{"node1", "192.0.2.10"}, {"node2", "192.0.2.11"}, {"node3", "192.0.2.12"}})
        p.hosts[name] = Host{name, ip(addr)};
    auto place = [&](const char* name, const char* host, const char* network) {
        auto s = svc(name, {ep(network)});
        s.host = host;
        p.services[name] = s;
    };
    place("a", "node1", "mesh");
    place("b", "node2", "mesh");
    place("c", "node3", "mesh");
    place("d", "node3", "local");
    return p;
}

Computed plan_on(FakeKernel& k, const Project& p, const std::string& host, Addressing prev = {}) {
    PlanInput in;
    in.project = &p;
    in.project_name = p.name;
    in.host = host;
    in.previous = std::move(prev);
    return compute(k, in);
}

Addressing apply_on(FakeKernel& k, const Project& p, const std::string& host, Addressing prev = {}) {
    auto c = plan_on(k, p, host, std::move(prev));
    REQUIRE(c.errors.empty());
    REQUIRE(execute(k, c.plan.changes).ok());
    return c.addressing;
}

template <class T>
std::vector<T> all_of(const HostState& s) {
    std::vector<T> out;
    for (auto& [_, o] : s.objects)
        if (auto* x = std::get_if<T>(&o)) out.push_back(*x);
    return out;
}

}  // namespace

TEST_CASE("overlay: each host builds its part, with entries for the other hosts' sandboxes only") {
    Project p = mesh();
    FakeKernel node1;
    auto a = apply_on(node1, p, "node1");
    auto vx = naming::vxlan("m", "mesh");
    auto br = naming::bridge("m", "mesh");
    auto* v = node1.state.find_as<Link>(Kind::Vxlan, vx);
    REQUIRE(v);
    REQUIRE(v->vxlan);
    CHECK(v->vxlan->vni == 4242);
    CHECK(v->vxlan->dstport == 4789);
    CHECK(v->vxlan->local == ip("192.0.2.10"));
    CHECK_FALSE(v->vxlan->learning);
    CHECK(v->vxlan->proxy);
    CHECK(v->master == br);
    CHECK_FALSE(v->ipv6);  // nothing of its own into the tunnel
    CHECK(v->mtu == 1450u);
    CHECK(node1.state.find_as<Link>(Kind::Bridge, br)->mtu == 1450u);
    CHECK(node1.state.find_as<Link>(Kind::Veth, naming::veth("m", "a", "mesh"))->mtu == 1450u);
    // The gateway on this host's bridge too.
    CHECK(node1.state.find({Kind::Address, br + " 10.9.0.1/24"}));
    // b (node2) and c (node3): where their MACs are, and their addresses' neighbour entries.
    auto mac_b = *a.endpoint("b", "mesh")->mac, mac_c = *a.endpoint("c", "mesh")->mac;
    CHECK(mac_b == Mac::from_ipv4(*a.endpoint("b", "mesh")->v4));
    auto fdb = all_of<Fdb>(node1.state);
    CHECK(fdb.size() == 6);
    // The bridge's own entries: b and c are behind the VXLAN port.
    CHECK(node1.state.find_as<Fdb>(Kind::Fdb, vx + " " + mac_b.str() + " bridge"));
    CHECK(node1.state.find_as<Fdb>(Kind::Fdb, vx + " " + mac_c.str() + " bridge"));
    CHECK(v->port_learning == false);
    CHECK(node1.state.find_as<Fdb>(Kind::Fdb, vx + " " + mac_b.str() + " 192.0.2.11"));
    CHECK(node1.state.find_as<Fdb>(Kind::Fdb, vx + " " + mac_c.str() + " 192.0.2.12"));
    CHECK(node1.state.find_as<Fdb>(Kind::Fdb, vx + " 00:00:00:00:00:00 192.0.2.11"));
    CHECK(node1.state.find_as<Fdb>(Kind::Fdb, vx + " 00:00:00:00:00:00 192.0.2.12"));
    auto* nb = node1.state.find_as<Neigh>(Kind::Neigh, vx + " " + a.endpoint("b", "mesh")->v4->str());
    REQUIRE(nb);
    CHECK(nb->mac == mac_b);
    CHECK(all_of<Neigh>(node1.state).size() == 2);
    // Nothing of the other hosts' own: no sandbox, no bridge network of node3's.
    CHECK_FALSE(node1.state.find({Kind::Netns, "m-b"}));
    CHECK_FALSE(node1.state.find({Kind::Bridge, naming::bridge("m", "local")}));
    CHECK(plan_on(node1, p, "node1", a).plan.empty());

    // Every host computes the same addresses from the manifest alone.
    FakeKernel node3;
    auto a3 = apply_on(node3, p, "node3");
    for (auto* s : {"a", "b", "c"}) CHECK(a3.endpoint(s, "mesh")->v4 == a.endpoint(s, "mesh")->v4);
    CHECK(node3.state.find({Kind::Bridge, naming::bridge("m", "local")}));
    CHECK(node3.state.find({Kind::Fdb, vx + " " + mac_b.str() + " 192.0.2.11"}));
    CHECK_FALSE(node3.state.find({Kind::Fdb, vx + " " + mac_c.str() + " 192.0.2.12"}));
}

TEST_CASE("overlay: a host whose sandboxes are not on it has none of it; a moved service moves its entries") {
    Project p = mesh();
    p.services["c"].host = "node1";  // node3 keeps only d
    FakeKernel node3;
    auto a3 = apply_on(node3, p, "node3");
    CHECK_FALSE(node3.state.find({Kind::Vxlan, naming::vxlan("m", "mesh")}));
    CHECK_FALSE(node3.state.find({Kind::Bridge, naming::bridge("m", "mesh")}));

    Project q = mesh();
    FakeKernel node1;
    auto a1 = apply_on(node1, q, "node1");
    auto vx = naming::vxlan("m", "mesh");
    auto mac_b = a1.endpoint("b", "mesh")->mac->str();
    // b moves from node2 to node1: its sandbox is built here, its entries go.
    q.services["b"].host = "node1";
    auto c = plan_on(node1, q, "node1", a1);
    REQUIRE(c.errors.empty());
    std::vector<std::string> deleted;
    for (auto& ch : c.plan.changes)
        if (ch.action == Action::Delete) deleted.push_back(to_string(ch.kind()) + std::string(" ") + ch.id());
    std::sort(deleted.begin(), deleted.end());
    CAPTURE(fmt::format("{}", fmt::join(deleted, "; ")));
    CHECK(deleted == std::vector<std::string>{"fdb " + vx + " 00:00:00:00:00:00 192.0.2.11",
                                              "fdb " + vx + " " + mac_b + " 192.0.2.11",
                                              "fdb " + vx + " " + mac_b + " bridge",
                                              "neigh " + vx + " " + a1.endpoint("b", "mesh")->v4->str()});
    REQUIRE(execute(node1, c.plan.changes).ok());
    CHECK(node1.state.find({Kind::Netns, "m-b"}));
    CHECK(plan_on(node1, q, "node1", c.addressing).plan.empty());
}

TEST_CASE("overlay: a deleted entry is drift, planned back; a VXLAN attribute changed is a replacement") {
    Project p = mesh();
    FakeKernel node1;
    auto a = apply_on(node1, p, "node1");
    auto vx = naming::vxlan("m", "mesh");
    auto key = ObjectKey{Kind::Fdb, vx + " 00:00:00:00:00:00 192.0.2.12"};
    node1.state.objects.erase(key);
    auto c = plan_on(node1, p, "node1", a);
    REQUIRE(c.plan.changes.size() == 1);
    CHECK(c.plan.changes[0].action == Action::Create);
    CHECK(c.plan.changes[0].id() == key.id);
    REQUIRE(execute(node1, c.plan.changes).ok());

    p.networks["mesh"].vxlan_id = 4243;
    auto changed = plan_on(node1, p, "node1", a);
    auto it = std::find_if(changed.plan.changes.begin(), changed.plan.changes.end(),
                           [&](const Change& ch) { return ch.kind() == Kind::Vxlan && ch.action == Action::Replace; });
    REQUIRE(it != changed.plan.changes.end());
    CHECK(it->fields == std::vector<std::string>{"vni 4242 → 4243"});
    // The entries on the device go with it, and come back on the new one.
    REQUIRE(execute(node1, changed.plan.changes).ok());
    CHECK(all_of<Fdb>(node1.state).size() == 6);
    CHECK(plan_on(node1, p, "node1", changed.addressing).plan.empty());
}

TEST_CASE("overlay: encryption asked for is refused with what the kernel lacks, never built without it") {
    Project p = mesh();
    p.networks["mesh"].encrypted = SourceMark{"m.yaml", 7, 35};
    FakeKernel node1;
    auto c = plan_on(node1, p, "node1");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0] == "m.yaml:7:35: networks.mesh.driver_opts.encrypted: this host cannot encrypt the overlay: "
                         "the kernel has no ESP transform for xfrm (CONFIG_INET_ESP); topo never builds an "
                         "unencrypted overlay where encryption was asked for: run on a kernel with it, or drop "
                         "`encrypted`");
    node1.no_encryption.clear();  // a kernel with ESP: still refused, it is not built yet
    auto with_esp = plan_on(node1, p, "node1");
    REQUIRE(with_esp.errors.size() == 1);
    CHECK(with_esp.errors[0].find("encrypted overlays are not built by this version of topo") != std::string::npos);
    // A host without a sandbox on it builds none of it, so has nothing to refuse.
    FakeKernel elsewhere;
    p.services["a"].host = "node2";
    CHECK(plan_on(elsewhere, p, "node1").errors.empty());
}

TEST_CASE("macvlan host_access: the host's own link, its address from the pool, a route per sandbox, recovered") {
    Project p;
    p.name = "o";
    Network lan = bridge_net("lan", "192.0.2.0/24");
    lan.driver = Driver::Macvlan;
    lan.parent = "eth9";
    lan.host_access = true;
    p.networks["lan"] = lan;
    p.services["nas"] = svc("nas", {ep("lan")});
    FakeKernel k;
    Link parent;
    parent.name = "eth9";
    k.state.add(parent);
    auto a = apply_on(k, p, "");
    auto shim = naming::host_shim("o", "lan");
    auto* l = k.state.find_as<Link>(Kind::Macvlan, shim);
    REQUIRE(l);
    CHECK(l->ns.empty());
    REQUIRE(l->macvlan);
    CHECK(l->macvlan->parent == "eth9");
    CHECK(l->macvlan->mode == "bridge");
    auto host = a.endpoint(host_access_key, "lan")->v4;
    auto nas = a.endpoint("nas", "lan")->v4;
    REQUIRE(host);
    CHECK(*host == nas->plus(1));  // after the sandboxes'
    CHECK(k.state.find({Kind::Address, shim + " " + host->str() + "/32"}));
    CHECK(k.state.find({Kind::Route, nas->str() + "/32"}));
    CHECK(plan_on(k, p, "", a).plan.empty());
    // A lost record: the host's address comes back from its link, and nothing moves.
    auto c = plan_on(k, p, "");
    CHECK(c.addressing.endpoint(host_access_key, "lan")->v4 == host);
    CHECK(c.plan.empty());
}

TEST_CASE("overlay: the MTU is the underlay's less the tunnel's 50 bytes, unless the manifest sets one") {
    Project p = mesh();
    FakeKernel node1;
    node1.underlay = 9000;
    apply_on(node1, p, "node1");
    CHECK(node1.state.find_as<Link>(Kind::Vxlan, naming::vxlan("m", "mesh"))->mtu == 8950u);
    CHECK(node1.state.find_as<Link>(Kind::Bridge, naming::bridge("m", "mesh"))->mtu == 8950u);
    CHECK(node1.state.find_as<Link>(Kind::Veth, naming::veth("m", "a", "mesh"))->mtu == 8950u);
    p.networks["mesh"].mtu = 1400;
    FakeKernel other;
    other.underlay = 9000;
    apply_on(other, p, "node1");
    CHECK(other.state.find_as<Link>(Kind::Vxlan, naming::vxlan("m", "mesh"))->mtu == 1400u);

    SUBCASE("with no route to any other host, a device that exists keeps its MTU; a new one gets 1450") {
        p.networks["mesh"].mtu.reset();
        auto a = apply_on(node1, p, "node1");
        node1.underlay.reset();  // the underlay's routes gone
        CHECK(plan_on(node1, p, "node1", a).plan.empty());
        FakeKernel fresh;
        apply_on(fresh, p, "node1");
        CHECK(fresh.state.find_as<Link>(Kind::Vxlan, naming::vxlan("m", "mesh"))->mtu == 1450u);
    }
}

TEST_CASE("overlay: a moved service's entries are read one by one, and drift of one entry is that entry") {
    Project p = mesh();
    p.services["e"] = svc("e", {ep("mesh")});  // so node2 keeps a sandbox on mesh when b leaves it
    p.services["e"].host = "node2";
    FakeKernel node1;
    auto a = apply_on(node1, p, "node1");
    const HostState converged = plan_on(node1, p, "node1", a).desired.state;
    auto vx = naming::vxlan("m", "mesh");
    auto mac_b = *a.endpoint("b", "mesh")->mac, mac_c = *a.endpoint("c", "mesh")->mac;
    auto ip_c = *a.endpoint("c", "mesh")->v4;
    PlanInput in;
    in.project = &p;
    in.project_name = p.name;
    in.host = "node1";
    in.previous = a;

    SUBCASE("b moves between two other hosts: only b's MAC is asked for") {
        p.services["b"].host = "node3";
        auto moved = diff(plan_on(node1, p, "node1", a).desired.state, converged).changes;
        Focus f(moved);
        auto scope = f.scope(ReadScope{}, converged, moved);
        REQUIRE(scope.only_entries.count(vx));
        CHECK(scope.only_entries.at(vx).forwarding == std::set<Mac>{mac_b});
        CHECK(f.covers(Fdb{vx, mac_b, ip("192.0.2.12")}));
        CHECK_FALSE(f.covers(Fdb{vx, mac_c, ip("192.0.2.12")}));
        auto kept = converged;
        auto c = compute_since(node1, in, kept, {});
        CHECK(lines(c.plan) == lines(plan_on(node1, p, "node1", a).plan));
        // What was read of the device: b's entries, none of c's.
        for (auto& [key, o] : c.live.objects) {
            if (auto* e = std::get_if<Fdb>(&o)) CHECK(e->mac == mac_b);
            CHECK_FALSE(std::holds_alternative<Neigh>(o));
        }
    }
    SUBCASE("an all-zero entry changed: the device is read whole (a get answers with one destination)") {
        p.services["c"].host = "node1";  // node3 has no sandbox on mesh any more
        auto moved = diff(plan_on(node1, p, "node1", a).desired.state, converged).changes;
        CHECK_FALSE(Focus(moved).scope(ReadScope{}, converged, moved).only_entries.count(vx));
    }
    SUBCASE("a deleted neighbour entry: the drift names it, and only it is read and planned back") {
        node1.state.objects.erase(ObjectKey{Kind::Neigh, vx + " " + ip_c.str()});
        node1.state.objects.erase(ObjectKey{Kind::Fdb, vx + " " + mac_c.str() + " bridge"});
        Focus drifted;
        drifted.add_entry(vx, std::nullopt, ip_c);
        CHECK(drifted.covers_entry(vx, std::nullopt, ip_c));
        CHECK_FALSE(drifted.covers_entry(vx, mac_c, std::nullopt));
        auto kept = converged;
        auto c = compute_since(node1, in, kept, drifted);
        CHECK(lines(c.plan) == std::vector<std::string>{"create neigh " + vx + " " + ip_c.str()});
        drifted.add_entry(vx, mac_c, std::nullopt);
        kept = converged;
        CHECK(compute_since(node1, in, kept, drifted).plan.changes.size() == 2);
    }
}

TEST_CASE("overlay: with IPv6, the VXLAN device keeps it, for its IPv6 neighbour entries") {
    Project p = mesh();
    with_ipv6(p.networks["mesh"], "fd00:9::/64");
    FakeKernel node1;
    auto a = apply_on(node1, p, "node1");
    auto vx = naming::vxlan("m", "mesh");
    CHECK(node1.state.find_as<Link>(Kind::Vxlan, vx)->ipv6);
    auto v6_b = *a.endpoint("b", "mesh")->v6;
    auto* nb = node1.state.find_as<Neigh>(Kind::Neigh, vx + " " + v6_b.str());
    REQUIRE(nb);
    CHECK(nb->mac == *a.endpoint("b", "mesh")->mac);
    CHECK(all_of<Neigh>(node1.state).size() == 4);
}

TEST_CASE("overlay: a focus's part of a state, found by key, is what covers() keeps of it") {
    Project p = mesh();
    for (int i = 0; i < 12; ++i) {
        auto name = fmt::format("r{}", i);
        p.services[name] = svc(name, {ep(i % 3 ? "mesh" : "local")});
        p.services[name].host = i % 2 ? "node2" : "node3";
    }
    with_ipv6(p.networks["mesh"], "fd00:9::/64");
    FakeKernel node1;
    auto a = apply_on(node1, p, "node1");
    const HostState state = plan_on(node1, p, "node1", a).desired.state;
    auto vx = naming::vxlan("m", "mesh");
    std::vector<Mac> macs;
    std::vector<IpAddr> ips;
    for (auto& [key, e] : a.endpoints) {
        if (e.mac) macs.push_back(*e.mac);
        for (auto& ip : {e.v4, e.v6})
            if (ip) ips.push_back(*ip);
    }
    auto plain = [&](const Focus& f) {
        HostState out;
        for (auto& [k, o] : state.objects)
            if (f.covers(o, &k)) out.objects.emplace(k, o);
        return out;
    };
    std::vector<Focus> foci(8);
    foci[1].host_links.insert(vx);
    foci[2].sandboxes.insert(naming::netns("m", "a"));
    foci[3].nft = true;
    foci[3].add_entry(vx, macs[0], std::nullopt);
    foci[4].add_entry(vx, std::nullopt, ips[1]);
    foci[4].add_entry(vx, Mac{}, std::nullopt);  // the all-zero entries, one per host
    foci[5].add_entry("elsewhere", macs[0], std::nullopt);
    for (size_t i = 0; i < macs.size(); i += 2) foci[6].add_entry(vx, macs[i], std::nullopt);
    for (size_t i = 0; i < ips.size(); i += 3) foci[6].add_entry(vx, std::nullopt, ips[i]);
    foci[7].host_links.insert(bridge_name(p, p.networks.at("mesh")));
    foci[7].files.insert(state.objects.rbegin()->first.id);
    for (size_t i = 0; i < foci.size(); ++i) {
        CAPTURE(i);
        auto keys = [](const HostState& s) {
            std::vector<ObjectKey> out;
            for (auto& [k, _] : s.objects) out.push_back(k);
            return out;
        };
        auto want = plain(foci[i]), got = foci[i].within(state);
        CHECK(keys(got) == keys(want));
        CHECK(diff(got, want).changes.empty());
        if (i == 6) CHECK(want.objects.size() > 6);
    }
}

namespace {

// A plan's changes as lines with their fields, in order.
std::vector<std::string> change_lines(const std::vector<Change>& changes) {
    std::vector<std::string> out;
    for (auto& c : changes)
        out.push_back(fmt::format("{} {} {} {}", to_string(c.action), to_string(c.kind()), c.id(), fmt::join(c.fields, ",")));
    return out;
}

std::vector<ObjectKey> keys_of(const HostState& s) {
    std::vector<ObjectKey> out;
    for (auto& [k, _] : s.objects) out.push_back(k);
    return out;
}

}  // namespace

TEST_CASE("overlay: a desired state worked out from the last one, after random edits of services, is the whole one") {
    Project p = mesh();
    with_ipv6(p.networks["mesh"], "fd00:9::/64");
    Network lan = bridge_net("lan", "192.0.2.0/24");
    lan.driver = Driver::Macvlan;
    lan.parent = "eth9";
    lan.host_access = true;
    p.networks["lan"] = lan;
    const std::vector<std::string> hosts{"node1", "node2", "node3"}, networks{"mesh", "local", "lan"};
    std::mt19937 rng(22);
    auto pick = [&](const auto& v) { return v[rng() % v.size()]; };
    auto place = [&](Project& q, const std::string& name) {
        auto s = svc(name, {ep(pick(networks))});
        if (rng() % 3 == 0 && s.endpoints[0].network != "mesh") s.endpoints.push_back(ep("mesh", "eth1"));
        if (rng() % 4 == 0) {
            Port port;
            auto host_port = uint16_t(8000 + rng() % 50);
            port.published = PortRange{host_port, host_port};
            port.target = PortRange{80, 80};
            s.ports.push_back(port);
        }
        s.host = pick(hosts);
        q.services[name] = s;
    };
    for (int i = 0; i < 24; ++i) place(p, fmt::format("s{}", i));
    DesiredContext ctx;
    ctx.host = "node1";
    ctx.host_resolv_conf = "nameserver 192.0.2.53\n";
    auto a = allocate({&p, {}, {}, {}, {}}).addressing;
    auto d = desired_state(p, a, ctx);
    int since_used = 0, refused = 0;
    for (int round = 0; round < 400; ++round) {
        CAPTURE(round);
        Project next = p;
        std::set<std::string> touched;
        bool wide = false;  // an edit outside the services
        for (int edits = 1 + rng() % 3; edits > 0; --edits) {
            std::vector<std::string> names;
            for (auto& [name, _] : next.services) names.push_back(name);
            auto name = pick(names);
            switch (rng() % 11) {
                case 0: case 1: case 2: next.services[name].host = pick(hosts); break;  // moved
                case 3: name = fmt::format("n{}", round); place(next, name); break;    // added
                case 4: if (names.size() > 4) next.services.erase(name); break;        // removed
                case 5:
                    if (!next.services[name].endpoints.empty()) next.services[name].endpoints[0].network = pick(networks);
                    break;
                case 6:
                    if (!next.services[name].endpoints.empty())
                        next.services[name].endpoints[0].aliases = {fmt::format("x{}", round)};
                    break;
                case 7:  // network_mode: none (a sandbox without endpoints), and back
                    if (next.services[name].mode == NetworkMode::None) {
                        place(next, name);
                    } else {
                        next.services[name].mode = NetworkMode::None;
                        next.services[name].endpoints.clear();
                        next.services[name].ports.clear();
                    }
                    break;
                case 8:
                    if (rng() % 4 == 0) next.networks["local"].mtu = 1400 + round, wide = true;
                    else next.services[name].ports.clear();
                    break;
                case 9:
                    if (rng() % 2) next.services[name].extra_hosts = {{"db", ip("192.0.2.99")}};
                    else next.services[name].hostname = fmt::format("h{}", round);
                    break;
                case 10: next.services[name].links = {{pick(names), "peer"}}; break;
            }
            touched.insert(name);
        }
        // A service is on a network once (Compose's networks is a map).
        bool twice = false;
        for (auto& [_, s] : next.services)
            for (size_t i = 0; i < s.endpoints.size(); ++i)
                for (size_t j = 0; j < i; ++j) twice |= s.endpoints[i].network == s.endpoints[j].network;
        if (twice) continue;
        auto ipam = allocate({&next, a, {}, {}, {}});
        if (!ipam.errors.empty()) continue;
        auto next_ctx = ctx;  // the host's resolv.conf edited, now and then
        if (rng() % 20 == 0) next_ctx.host_resolv_conf = fmt::format("nameserver 192.0.2.{}\n", round % 250);
        auto whole = desired_state(next, ipam.addressing, next_ctx);
        HostState kept = d.state;
        // As a watch's run does: IPAM for the touched services alone where it can.
        auto changed = with_replicas(p, next, touched);
        Addressing last = a;
        IpamInput in{&next, {}, {}, {}, {}};
        in.previous.networks = last.networks;
        auto is = allocate_since(in, last, changed, p);
        if (is) CHECK(is->result.addressing == ipam.addressing);
        else readdressed(a, ipam.addressing, changed);
        auto since = desired_since(kept, p, is ? is->before : a, ctx, next, ipam.addressing, next_ctx, changed);
        if (!since) {
            ++refused;
            CHECK(keys_of(kept) == keys_of(d.state));  // untouched
            CHECK(diff(kept, d.state).changes.empty());
        } else {
            ++since_used;
            CHECK_FALSE(wide);
            CHECK(keys_of(since->desired.state) == keys_of(whole.state));
            CHECK(diff(since->desired.state, whole.state).changes.empty());
            CHECK(change_lines(since->moved) == change_lines(diff(whole.state, d.state).changes));
            CHECK(since->desired.scope.files == whole.scope.files);
            CHECK(since->desired.scope.sysctls == whole.scope.sysctls);
            CHECK(since->desired.scope.foreign_links == whole.scope.foreign_links);
            CHECK(since->desired.errors == whole.errors);
        }
        p = std::move(next);
        a = std::move(ipam.addressing);
        d = std::move(whole);
        ctx = next_ctx;
    }
    CHECK(since_used > 300);
    CHECK(refused > 10);  // the wide edits, and networks that came to node1 or left it
}

TEST_CASE("overlay: a VNI or UDP port another VXLAN device holds is refused by the plan, naming it") {
    Project p = mesh();
    auto errors_with = [&](std::vector<VxlanInUse> others) {
        FakeKernel k;
        k.host_vxlans = std::move(others);
        return plan_on(k, p, "node1").errors;
    };
    auto marker = naming::Marker{naming::Marker::Kind::Network, "other", "ovl", ""}.str();
    CHECK(errors_with({{"myvx", "", 4242, 4789}}) ==
          std::vector<std::string>{"network mesh: VNI 4242 on UDP port 4789 is taken on this host by VXLAN device myvx "
                                   "(not topo's); the kernel allows one device per VNI and port: choose another vxlan_id"});
    CHECK(errors_with({{"txother", marker, 4242, 4789}}) ==
          std::vector<std::string>{"network mesh: VNI 4242 on UDP port 4789 is taken on this host by VXLAN device txother "
                                   "(network ovl of project other); the kernel allows one device per VNI and port: "
                                   "choose another vxlan_id"});
    CHECK(errors_with({{"evpn", "", std::nullopt, 4789}}) ==
          std::vector<std::string>{"network mesh: UDP port 4789 is taken on this host by VXLAN device evpn (not topo's), "
                                   "which receives every VNI on it (external); choose another dstport"});
    // Another VNI, another port, or an IPv6 device (its own socket): no
    // clash. Nor is the network's own device, once made.
    CHECK(errors_with({{"myvx", "", 4243, 4789}, {"other", "", 4242, 8472}, {"evpn", "", std::nullopt, 8472},
                       {"myv6", "", 4242, 4789, 6}})
              .empty());
    FakeKernel k;
    auto a = apply_on(k, p, "node1");
    CHECK(plan_on(k, p, "node1", a).errors.empty());
    // A change of VNI replaces the device: its old self is not in the way.
    p.networks["mesh"].vxlan_id = 4243;
    auto c = plan_on(k, p, "node1", a);
    CHECK(c.errors.empty());
    CHECK(!c.plan.empty());
    // Nor is the device of a network renamed with its VNI: it goes in the same run.
    Project renamed = mesh();
    renamed.networks["mesh2"] = renamed.networks.at("mesh");
    renamed.networks["mesh2"].name = "mesh2";
    renamed.networks.erase("mesh");
    for (auto& [_, s] : renamed.services)
        for (auto& e : s.endpoints)
            if (e.network == "mesh") e.network = "mesh2";
    c = plan_on(k, renamed, "node1", a);
    CHECK(c.errors.empty());
    CHECK(k.state.find({Kind::Vxlan, naming::vxlan("m", "mesh")}));
    CHECK(std::any_of(c.plan.changes.begin(), c.plan.changes.end(), [&](const Change& ch) {
        return ch.action == Action::Delete && ch.id() == naming::vxlan("m", "mesh");
    }));
}
