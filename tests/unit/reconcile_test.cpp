// diff, plan and execute over the in-memory FakeKernel.
#include <doctest/doctest.h>

#include <algorithm>

#include <fmt/format.h>

#include "kernel/fake.hpp"
#include "model/naming.hpp"
#include "reconcile/diff.hpp"
#include "reconcile/execute.hpp"
#include "reconcile/plan.hpp"
#include "reconcile/ipam.hpp"
#include "reconcile/reconcile.hpp"
#include "test_helpers.hpp"

using namespace topo;
using namespace topo::test;

namespace {

Computed plan_for(FakeKernel& k, const Project* p, Addressing prev = {}) {
    PlanInput in;
    in.project = p;
    in.project_name = p ? p->name : "shop";
    in.previous = std::move(prev);
    return compute(k, in);
}

// Apply and return the addressing, as `topo apply` does.
Addressing apply(FakeKernel& k, const Project& p, Addressing prev = {}) {
    auto c = plan_for(k, &p, prev);
    REQUIRE(c.errors.empty());
    auto r = execute(k, c.plan.changes);
    REQUIRE(r.ok());
    REQUIRE(verify(k, c.desired).empty());
    return c.addressing;
}

size_t index_of(const std::vector<Change>& cs, Kind k, const std::string& id) {
    for (size_t i = 0; i < cs.size(); ++i)
        if (cs[i].kind() == k && cs[i].id() == id) return i;
    FAIL("no change for ", to_string(k), " ", id);
    return 0;
}

}  // namespace

TEST_CASE("plan: a bridge is created before its ports, addresses after links, routes last") {
    FakeKernel k;
    Project p = shop();
    auto c = plan_for(k, &p);
    REQUIRE(c.errors.empty());
    auto& cs = c.plan.changes;
    auto br = naming::bridge("shop", "frontend");
    auto veth = naming::veth("shop", "web", "frontend");
    CHECK(index_of(cs, Kind::Netns, "shop-web") < index_of(cs, Kind::Bridge, br));
    CHECK(index_of(cs, Kind::Bridge, br) < index_of(cs, Kind::Veth, veth));
    CHECK(index_of(cs, Kind::Veth, veth) < index_of(cs, Kind::Address, "shop-web:eth0 10.0.42.130/24"));
    CHECK(index_of(cs, Kind::Address, "shop-web:eth0 10.0.42.130/24") <
          index_of(cs, Kind::Route, "shop-web:default"));
    // Only web's frontend endpoint gives a default route: backend is internal.
    CHECK(std::count_if(cs.begin(), cs.end(), [](auto& ch) { return ch.kind() == Kind::Route; }) == 1);
}

TEST_CASE("reconcile: apply, read back, the next plan is empty") {
    FakeKernel k;
    Project p = shop();
    auto a = apply(k, p);
    auto again = plan_for(k, &p, a);
    CHECK(again.plan.empty());
}

TEST_CASE("reconcile: adding a service creates only that service's objects") {
    FakeKernel k;
    Project p = shop();
    auto a = apply(k, p);
    p.services["cache"] = svc("cache", {ep("backend")});
    auto c = plan_for(k, &p, a);
    REQUIRE(!c.plan.empty());
    for (auto& ch : c.plan.changes) {
        bool cache_s = ch.id().find("cache") != std::string::npos ||
                       ch.id() == naming::veth("shop", "cache", "backend");
        if (cache_s) {
            CHECK(ch.action == Action::Create);
            continue;
        }
        // Everything else: backend's shared hosts file (db links to it, so db's
        // own is untouched) and the file of web, which is on two networks.
        CHECK(ch.action == Action::Update);
        bool neighbour_hosts = ch.id() == "/etc/netns/.topo-shop/backend" || ch.id() == "/etc/netns/shop-web/hosts";
        CHECK(neighbour_hosts);
    }
}

TEST_CASE("plan: deletions come first, in reverse order, and what goes with a deleted namespace is implied") {
    FakeKernel k;
    Project p = shop();
    auto a = apply(k, p);
    p.services.erase("db");
    auto c = plan_for(k, &p, a);
    auto& cs = c.plan.changes;
    // db's two files and backend's shared file (db was the only sandbox linking
    // to it), its sandbox address, its veth, its namespace; then web's hosts file loses db.
    REQUIRE(cs.size() == 7);
    CHECK(cs[0].kind() == Kind::File);
    CHECK(cs[1].kind() == Kind::File);
    CHECK(cs[2].kind() == Kind::File);
    CHECK(cs[3].kind() == Kind::Address);
    CHECK(cs[3].implied);
    CHECK(cs[4].kind() == Kind::Veth);
    CHECK(cs[4].implied);  // its sandbox end's namespace goes: the kernel removes both ends
    CHECK(cs[5].kind() == Kind::Netns);
    CHECK(cs[6].action == Action::Update);
    CHECK(cs[6].id() == "/etc/netns/shop-web/hosts");
    auto logged = k.log.size();
    auto r = execute(k, cs);
    CHECK(r.ok());
    CHECK(verify(k, c.desired).empty());
    // The kernel is told what goes with the namespace, before it goes: the
    // real one waits for the veth's host end without looking inside.
    REQUIRE(k.told.size() == 2);
    CHECK(k.told[0].id() == cs[3].id());
    CHECK(k.told[1].id() == cs[4].id());
    REQUIRE(k.log.size() == logged + 5);  // three files, the namespace, web's hosts file
    CHECK(k.log[logged + 3].kind() == Kind::Netns);
}

TEST_CASE("diff: only fields the manifest sets are compared") {
    Link want;
    want.kind = LinkKind::Bridge;
    want.name = "tb1";
    want.owner = "topo/x/net/n";
    Link live = want;
    live.mtu = 1500;  // the kernel's default
    live.mac = Mac::parse("aa:bb:cc:dd:ee:ff");
    bool replace = false;
    CHECK(compare(want, live, replace).empty());
    want.mtu = 1400;
    auto fields = compare(want, live, replace);
    REQUIRE(fields.size() == 1);
    CHECK(fields[0] == "mtu 1500 → 1400");
    CHECK_FALSE(replace);
}

TEST_CASE("diff: a sandbox end that is down is set up in place; an address whose subnet route is gone is made again") {
    Link want;
    want.kind = LinkKind::Veth;
    want.name = "tv1";
    want.peer.emplace();
    want.peer->ns = "shop-web";
    want.peer->name = "eth0";
    Link live = want;
    live.peer->up = false;
    bool replace = false;
    auto fields = compare(want, live, replace);
    REQUIRE(fields.size() == 1);
    CHECK(fields[0] == "peer state down → up");
    CHECK_FALSE(replace);
    Address a{"shop-web", "eth0", pfx("10.0.0.2/24")};
    Address gone = a;
    gone.subnet_route = false;
    fields = compare(a, gone, replace);
    REQUIRE(fields.size() == 1);
    CHECK(fields[0] == "subnet route gone → made again");
    CHECK(replace);
}

TEST_CASE("diff: a changed veth peer is a replace, and its addresses are created again") {
    FakeKernel k;
    Project p = shop();
    auto a = apply(k, p);
    p.services["db"].endpoints[0].interface_name = "net0";
    auto c = plan_for(k, &p, a);
    auto replaces = std::count_if(c.plan.changes.begin(), c.plan.changes.end(),
                                  [](auto& ch) { return ch.action == Action::Replace; });
    CHECK(replaces == 1);
    REQUIRE(execute(k, c.plan.changes).ok());
    CHECK(verify(k, c.desired).empty());
}

TEST_CASE("desired: two networks or endpoints whose kernel names collide are refused, naming both") {
    Project p;
    p.name = "p";
    p.networks["net1797889"] = bridge_net("net1797889", "10.1.0.0/24");
    p.networks["net2918306"] = bridge_net("net2918306", "10.2.0.0/24");
    p.services["a"] = svc("a", {ep("net1797889")});
    FakeKernel k;
    auto c = plan_for(k, &p);
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0] == fmt::format("networks.net1797889 and networks.net2918306 get the same kernel name {} "
                                     "(a hash collision of their names); rename one of them in the manifest",
                                     naming::bridge("p", "net1797889")));
    Project q;
    q.name = "p";
    q.networks["net"] = bridge_net("net", "10.3.0.0/24");
    q.services["s939708"] = svc("s939708", {ep("net")});
    q.services["s2624480"] = svc("s2624480", {ep("net")});
    auto d = plan_for(k, &q);
    REQUIRE(d.errors.size() == 1);
    CHECK(d.errors[0].starts_with("services.s2624480.networks.net and services.s939708.networks.net get the same kernel name"));
}

TEST_CASE("transitions: a subnet change converges in one apply, changing the sandboxes in place") {
    FakeKernel k;
    Project p = shop();
    auto a = apply(k, p);
    Project b = shop();
    b.networks["backend"].ipv4->subnet = pfx("10.0.53.0/24");
    auto c = plan_for(k, &b, a);
    REQUIRE(c.errors.empty());
    for (auto& ch : c.plan.changes) {
        CAPTURE(ch.id());
        CHECK_FALSE(ch.kind() == Kind::Netns);  // no sandbox is re-created
        if (ch.kind() == Kind::Veth) CHECK(ch.action == Action::Update);  // the peer's MAC, in place
    }
    auto r = execute(k, c.plan.changes);
    REQUIRE(r.ok());
    CHECK(verify(k, c.desired).empty());
    CHECK(plan_for(k, &b, c.addressing).plan.empty());
    auto back = plan_for(k, &p, c.addressing);
    REQUIRE(execute(k, back.plan.changes).ok());
    CHECK(plan_for(k, &p, back.addressing).plan.empty());
}

TEST_CASE("transitions: renaming a network converges in one apply; a failure rolls back whole") {
    Project p = shop();
    Project b = shop();
    b.networks["back"] = b.networks.at("backend");
    b.networks["back"].name = "back";
    b.networks.erase("backend");
    b.services["web"].endpoints[1].network = "back";
    b.services["db"].endpoints[0].network = "back";
    // Fail each kernel operation in turn, until the run gets through.
    for (size_t fail = 0;; ++fail) {
        CAPTURE(fail);
        FakeKernel k;
        auto a = apply(k, p);
        k.fail_at = k.operations() + fail;
        auto c = plan_for(k, &b, a);
        REQUIRE(c.errors.empty());
        auto r = execute(k, c.plan.changes);
        if (r.ok()) {
            CHECK(verify(k, c.desired).empty());
            CHECK(plan_for(k, &b, c.addressing).plan.empty());
            break;
        }
        CHECK(fmt::format("{}", fmt::join(r.rollback_failures, "; ")) == "");
        CHECK(restored(k, c.desired, c.plan.changes).empty());  // the read-back agrees
        CHECK(plan_for(k, &p, a).plan.empty());  // exactly the host it started from
    }
}

TEST_CASE("rollback: what could not be restored is named by the read-back") {
    FakeKernel k;
    Project p = shop();
    auto a = apply(k, p);
    p.services.erase("db");
    auto c = plan_for(k, &p, a);
    REQUIRE(execute(k, c.plan.changes).ok());
    // Undo the whole run with the first undo (of the last change) refused.
    k.fail_at = k.operations();
    auto failures = rollback(k, c.plan.changes, c.plan.changes.size());
    REQUIRE(failures.size() == 1);
    auto& last = c.plan.changes.back();
    auto left = restored(k, c.desired, c.plan.changes);
    REQUIRE(left.size() == 1);
    CHECK(left[0].starts_with(fmt::format("{} {}", to_string(last.kind()), last.id())));
    // Everything else is back: the removed sandbox, its veth and addresses.
    CHECK(k.state.find(ObjectKey{Kind::Netns, "shop-db"}));
}

TEST_CASE("diff: an object of the desired name that is not topo's is a conflict") {
    FakeKernel k;
    Project p = shop();
    p.networks["frontend"].kernel_name = "br0";
    Link users;
    users.kind = LinkKind::Bridge;
    users.name = "br0";  // no marker: the user's
    k.state.add(users);
    PlanInput in;
    in.project = &p;
    in.project_name = "shop";
    auto c = compute(k, in);
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0] ==
          "bridge br0 exists and is not topo's; topo never changes what it did not create: rename "
          "or remove it, or choose another name in the manifest");
}

TEST_CASE("diff: a table or a file that only has topo's name is a conflict, and destroy leaves it") {
    Project p = shop();
    FakeKernel probe;
    std::string hosts;
    for (auto& ch : plan_for(probe, &p).plan.changes)
        if (ch.kind() == Kind::File && hosts.empty() && ch.id().ends_with("/hosts")) hosts = ch.id();
    REQUIRE(!hosts.empty());
    FakeKernel k;
    NftTable table;
    table.name = "topo-shop";  // no owner: the user's
    k.state.add(table);
    k.state.add(File{hosts, "127.0.0.1 users-own\n"});
    auto c = plan_for(k, &p);
    REQUIRE(c.errors.size() == 2);
    CHECK(c.errors[1] == fmt::format("file {} exists and is not topo's; topo never changes what it did not create: "
                                     "rename or remove it, or choose another name in the manifest", hosts));
    CHECK(c.errors[0] == "nft-table topo-shop exists and is not topo's; topo never changes what it did not create: "
                         "rename or remove it, or choose another name in the manifest");
    auto gone = plan_for(k, nullptr);
    CHECK(gone.errors.empty());
    CHECK(gone.plan.empty());
    // Marked, the table is topo's: rebuilt by apply, deleted by destroy.
    std::get<NftTable>(k.state.objects.at({Kind::NftTable, "topo-shop"})).owner = naming::project_marker("shop");
    k.state.objects.erase({Kind::File, hosts});
    auto a = apply(k, p);
    CHECK(plan_for(k, &p, a).plan.empty());
    for (auto& ch : plan_for(k, nullptr).plan.changes)
        if (ch.kind() == Kind::NftTable) CHECK(ch.action == Action::Delete);
}

TEST_CASE("diff: foreign objects that were only referenced are never deleted") {
    HostState desired, live;
    Link ext;
    ext.kind = LinkKind::Bridge;
    ext.name = "docker0";
    live.add(ext);
    CHECK(diff(desired, live).changes.empty());
}

TEST_CASE("execute: a failure at any step rolls the host back to where it was") {
    Project p = shop();
    FakeKernel probe;
    auto total = plan_for(probe, &p).plan.changes.size();
    for (size_t fail = 0; fail < total; ++fail) {
        CAPTURE(fail);
        FakeKernel k;
        Link users;
        users.kind = LinkKind::Bridge;
        users.name = "br-users";
        k.state.add(users);
        auto before = k.state.objects.size();
        k.fail_at = fail;
        auto c = plan_for(k, &p);
        auto r = execute(k, c.plan.changes);
        REQUIRE_FALSE(r.ok());
        CHECK(r.failure->find("(injected)") != std::string::npos);
        CHECK(r.rollback_failures.empty());
        CHECK(k.state.objects.size() == before);
    }
}

TEST_CASE("execute: a failed destroy puts the deleted sandbox back whole") {
    FakeKernel k;
    Project p = shop();
    apply(k, p);
    auto full = k.state.objects;
    auto c = plan_for(k, nullptr);
    // Fail the last kernel operation: everything before it is undone.
    size_t ops = std::count_if(c.plan.changes.begin(), c.plan.changes.end(), [](auto& ch) { return !ch.implied; });
    k.fail_at = k.operations() + ops - 1;
    auto r = execute(k, c.plan.changes);
    REQUIRE_FALSE(r.ok());
    CHECK(k.state.objects.size() == full.size());
    for (auto& [key, o] : full) CHECK(k.state.find(key) != nullptr);
}

TEST_CASE("reconcile: destroy removes everything of the project and nothing else") {
    FakeKernel k;
    Project p = shop();
    apply(k, p);
    Link users;
    users.kind = LinkKind::Bridge;
    users.name = "br-users";
    k.state.add(users);
    auto c = plan_for(k, nullptr);
    REQUIRE(execute(k, c.plan.changes).ok());
    // Left: the user's bridge, and ip_forward, which topo never turns off
    // (other things on the host may rely on forwarding).
    REQUIRE(k.state.objects.size() == 2);
    CHECK(k.state.find({Kind::Bridge, "br-users"}));
    CHECK(k.state.find({Kind::Sysctl, "net/ipv4/ip_forward"}));
}

TEST_CASE("reconcile: enable_icc false isolates the ports; a port turned back is drift, repaired in place") {
    FakeKernel k;
    Project p = shop();
    p.services["shop2"] = svc("shop2", {ep("frontend")});
    p.networks["frontend"].enable_icc = false;
    auto a = apply(k, p);
    auto web = naming::veth("shop", "web", "frontend"), back = naming::veth("shop", "web", "backend");
    CHECK(k.state.find_as<Link>(Kind::Veth, web)->isolated == true);
    CHECK(k.state.find_as<Link>(Kind::Veth, naming::veth("shop", "shop2", "frontend"))->isolated == true);
    CHECK(k.state.find_as<Link>(Kind::Veth, back)->isolated == false);  // backend has icc
    // Someone turns the flag off: one in-place update, naming the flag.
    Link drifted = *k.state.find_as<Link>(Kind::Veth, web);
    drifted.isolated = false;
    k.state.add(drifted);
    auto c = plan_for(k, &p, a);
    REQUIRE(c.plan.changes.size() == 1);
    CHECK(c.plan.changes[0].action == Action::Update);
    CHECK(c.plan.changes[0].fields == std::vector<std::string>{"isolated off → on"});
    apply(k, p, a);
    CHECK(k.state.find_as<Link>(Kind::Veth, web)->isolated == true);
    // enable_icc back to true: the flag goes off again.
    p.networks["frontend"].enable_icc = true;
    auto back_on = plan_for(k, &p, a);
    CHECK(std::count_if(back_on.plan.changes.begin(), back_on.plan.changes.end(), [](auto& ch) {
              return ch.kind() == Kind::Veth && ch.fields == std::vector<std::string>{"isolated on → off"};
          }) == 2);
    apply(k, p, a);
    CHECK(k.state.find_as<Link>(Kind::Veth, web)->isolated == false);
}

TEST_CASE("execute: the dry-run kernel records every change and changes nothing") {
    FakeKernel real;
    DryRunKernel dry(real);
    Project p = shop();
    PlanInput in;
    in.project = &p;
    in.project_name = "shop";
    auto c = compute(dry, in);  // reads go through to the real kernel
    auto r = execute(dry, c.plan.changes);
    CHECK(r.ok());
    CHECK(real.state.objects.empty());
    size_t sent = std::count_if(c.plan.changes.begin(), c.plan.changes.end(), [](auto& ch) { return !ch.implied; });
    CHECK(dry.recorded.size() == sent);
}

TEST_CASE("execute: a sysctl of a link made in the run is not written back on rollback") {
    FakeKernel k;
    Sysctl none{"", "net/ipv4/conf/tb0/route_localnet", ""}, on{"", "net/ipv4/conf/tb0/route_localnet", "1"};
    Sysctl fwd0{"", "net/ipv4/ip_forward", "0"}, fwd1{"", "net/ipv4/ip_forward", "1"};
    k.state.add(fwd0);
    std::vector<Change> cs{{Action::Update, none, on, {}, {}}, {Action::Update, fwd0, fwd1, {}, {}}};
    k.fail_at = 1;
    auto r = execute(k, cs);
    REQUIRE_FALSE(r.ok());
    CHECK(r.rollback_failures.empty());
    // The first change was made and nothing was written back for it.
    REQUIRE(k.log.size() == 1);
    CHECK(std::get<Sysctl>(*k.log[0].after).value == "1");
}

TEST_CASE("verify: after a small change only the touched sandboxes and files are read back") {
    FakeKernel k;
    Project p = shop();
    apply(k, p);
    p.services["cache"] = svc("cache", {ep("backend")});
    auto c = plan_for(k, &p);
    REQUIRE(c.errors.empty());
    REQUIRE(execute(k, c.plan.changes).ok());
    CHECK(verify(k, c.desired, &c.plan.changes).empty());
    SUBCASE("a difference in a touched sandbox is found") {
        k.state.objects.erase(ObjectKey{Kind::Address, "shop-cache:eth0 10.0.43.4/24"});
        auto left = verify(k, c.desired, &c.plan.changes);
        CHECK(left == std::vector<std::string>{"create address shop-cache:eth0 10.0.43.4/24"});
    }
    SUBCASE("one elsewhere is left to the next plan, which reads everything") {
        k.state.objects.erase(ObjectKey{Kind::Route, "shop-web:default"});
        CHECK(verify(k, c.desired, &c.plan.changes).empty());
        CHECK(verify(k, c.desired).size() == 1);
    }
}

namespace {

Computed plan_from(FakeKernel& k, const Project& p, const Addressing& prev, const HostState& converged,
                   const Focus& drifted = {}) {
    PlanInput in;
    in.project = &p;
    in.project_name = p.name;
    in.previous = prev;
    auto kept = converged;
    return compute_since(k, in, kept, drifted);
}

}  // namespace

TEST_CASE("compute from a converged state: the same plan as a full read, from what changed or drifted") {
    FakeKernel k;
    Project p = shop();
    auto addressing = apply(k, p);
    const HostState converged = plan_for(k, &p, addressing).desired.state;

    SUBCASE("an added service, a removed one, a changed port") {
        p.services["cache"] = svc("cache", {ep("backend")});
        p.services.erase("db");
        Port port;
        port.published = PortRange{9090, 9090};
        port.target = PortRange{80, 80};
        p.services.at("web").ports.push_back(port);
        auto full = plan_for(k, &p, addressing);
        auto focused = plan_from(k, p, addressing, converged);
        REQUIRE(full.errors.empty());
        CHECK(lines(focused.plan) == lines(full.plan));
        CHECK(!focused.plan.empty());
        // Only the sandboxes the change is about were read.
        for (auto& [key, o] : focused.live.objects) CHECK(namespace_of(o) != "shop-web");
    }
    SUBCASE("the nftables table is read only when a change or drift concerns it") {
        auto table = ObjectKey{Kind::NftTable, naming::nft_table("shop")};
        p.services["cache"] = svc("cache", {ep("backend")});  // publishes nothing
        auto added = plan_from(k, p, addressing, converged);
        CHECK(!added.plan.empty());
        CHECK(!added.live.find(table));
        Port port;
        port.published = PortRange{9090, 9090};
        port.target = PortRange{80, 80};
        p.services.at("web").ports.push_back(port);
        auto published = plan_from(k, p, addressing, converged);
        CHECK(published.live.find(table));
        CHECK(lines(published.plan) == lines(plan_for(k, &p, addressing).plan));
        // Drift in the table, named by an event, is repaired.
        p.services.at("web").ports.pop_back();
        std::get<NftTable>(k.state.objects.at(table)).sets.begin()->second.elements.insert("tcp 1 10.9.9.9 1");
        for (auto& ch : plan_from(k, p, addressing, converged).plan.changes) CHECK(ch.kind() != Kind::NftTable);
        Focus drifted;
        drifted.nft = true;
        CHECK(lines(plan_from(k, p, addressing, converged, drifted).plan) == lines(plan_for(k, &p, addressing).plan));
    }
    SUBCASE("drift is seen where it is named, and only there") {
        k.state.objects.erase(ObjectKey{Kind::Route, "shop-web:default"});
        CHECK(plan_from(k, p, addressing, converged).plan.empty());
        Focus drifted;
        drifted.sandboxes.insert("shop-web");
        CHECK(lines(plan_from(k, p, addressing, converged, drifted).plan) ==
              std::vector<std::string>{"create route shop-web:default"});
    }
    SUBCASE("a veth's host end names its sandbox; a bridge names itself") {
        auto veth = naming::veth("shop", "web", "frontend");
        auto bridge = naming::bridge("shop", "frontend");
        Focus drifted;
        drifted.add_host_link(converged, veth);
        drifted.add_host_link(converged, bridge);
        CHECK(drifted.sandboxes == std::set<std::string>{"shop-web"});
        CHECK(drifted.host_links == std::set<std::string>{bridge});
        // A deleted host end takes its sandbox end with it: both come back.
        k.state.objects.erase(ObjectKey{Kind::Veth, veth});
        auto c = plan_from(k, p, addressing, converged, drifted);
        CHECK(lines(c.plan) == lines(plan_for(k, &p, addressing).plan));
        CHECK(!c.plan.empty());
    }
}

namespace {

Computed plan_only(FakeKernel& k, const Project& p, const Addressing& prev, std::set<std::string> services) {
    PlanInput in;
    in.project = &p;
    in.project_name = p.name;
    in.previous = prev;
    return compute_services(k, in, services);
}

Port published(uint16_t host, uint16_t target) {
    Port port;
    port.published = PortRange{host, host};
    port.target = PortRange{target, target};
    return port;
}

const std::set<std::string>& port_map(const FakeKernel& k) {
    return k.state.find_as<NftTable>(Kind::NftTable, naming::nft_table("shop"))->sets.at("ports").elements;
}

void carry_out(FakeKernel& k, const Computed& c) {
    REQUIRE(c.errors.empty());
    REQUIRE(execute(k, c.plan.changes).ok());
    REQUIRE(verify(k, c.desired, &c.plan.changes).empty());
}

}  // namespace

TEST_CASE("a targeted run (apply -f F SERVICE...): only the named services' sandboxes are read and changed") {
    FakeKernel k;
    Project p = shop();
    p.services["api"] = svc("api", {ep("frontend", "eth0", "10.0.42.140")});
    p.services.at("web").ports.push_back(published(8080, 80));
    p.services.at("api").ports.push_back(published(7070, 70));
    auto addressing = apply(k, p);

    SUBCASE("an added service: its objects and its peers' names; the others' changes wait for a full run") {
        p.services["cache"] = svc("cache", {ep("backend")});
        p.services.at("api").ports.front() = published(7071, 70);
        auto c = plan_only(k, p, addressing, {"cache"});
        auto full = plan_for(k, &p, addressing);
        auto expected = lines(full.plan);
        std::erase(expected, "update nft-table topo-shop");  // api's port: api is not named
        CHECK(lines(c.plan) == expected);
        for (auto& [key, o] : c.live.objects) {
            CHECK(namespace_of(o) != "shop-web");
            CHECK(namespace_of(o) != "shop-api");
        }
        carry_out(k, c);
        CHECK(port_map(k).count("tcp 7070 10.0.42.140 70"));
        CHECK(k.state.find(ObjectKey{Kind::Netns, "shop-cache"}));
    }
    SUBCASE("a changed port of the named service; another's change is left as the kernel has it") {
        p.services.at("web").ports.front() = published(9090, 80);
        p.services.at("api").ports.front() = published(7071, 70);
        auto c = plan_only(k, p, addressing, {"web"});
        CHECK(lines(c.plan) == std::vector<std::string>{"update nft-table topo-shop"});
        carry_out(k, c);
        CHECK(port_map(k) == std::set<std::string>{"tcp 9090 10.0.42.130 80", "tcp 7070 10.0.42.140 70"});
        // The full run then does the rest.
        carry_out(k, plan_for(k, &p, c.addressing));
        CHECK(port_map(k) == std::set<std::string>{"tcp 9090 10.0.42.130 80", "tcp 7071 10.0.42.140 70"});
    }
    SUBCASE("a service gone from the manifest keeps its sandbox and its address until a full run") {
        auto db = *addressing.endpoint("db", "backend");
        p.services.erase("db");
        p.services["cache"] = svc("cache", {ep("backend")});
        auto c = plan_only(k, p, addressing, {"cache"});
        CHECK(c.addressing.endpoint("cache", "backend")->v4 != db.v4);
        CHECK(*c.addressing.endpoint("db", "backend") == db);  // recorded still: its sandbox holds it
        for (auto& ch : c.plan.changes) CHECK(ch.action != Action::Delete);
        carry_out(k, c);
        CHECK(k.state.find(ObjectKey{Kind::Netns, "shop-db"}));
        auto full = plan_for(k, &p, c.addressing);
        CHECK(full.plan.changes[index_of(full.plan.changes, Kind::Netns, "shop-db")].action == Action::Delete);
        CHECK(full.addressing.endpoint("cache", "backend")->v4 == c.addressing.endpoint("cache", "backend")->v4);
        CHECK(!full.addressing.endpoint("db", "backend"));
    }
    SUBCASE("on a host with nothing yet, the table holds only the named service's ports") {
        FakeKernel empty;
        carry_out(empty, plan_only(empty, p, {}, {"web"}));
        CHECK(port_map(empty) == std::set<std::string>{"tcp 8080 10.0.42.130 80"});
        CHECK(empty.state.find(ObjectKey{Kind::Netns, "shop-web"}));
        CHECK(!empty.state.find(ObjectKey{Kind::Netns, "shop-api"}));
    }
    SUBCASE("a changed network is refused, with the fix; so is a service the manifest does not have") {
        p.networks.at("backend").ipv4->subnet = pfx("10.0.44.0/24");
        auto c = plan_only(k, p, addressing, {"db"});
        REQUIRE(c.errors.size() == 1);
        CHECK(c.errors[0] ==
              fmt::format("delete address {} 10.0.43.1/24: a network would change, and with it every sandbox on "
                          "it; run `topo apply -f FILE` without service names to apply the whole manifest",
                          naming::bridge("shop", "backend")));
        auto u = plan_only(k, shop(), addressing, {"nosuch"});
        CHECK(u.errors == std::vector<std::string>{"services.nosuch: no such service in the manifest; name one of "
                                                   "its services, or none to apply all of it"});
    }
}

TEST_CASE("external networks: an address from the bridge's subnet that no neighbour and no probe claims") {
    FakeKernel k;
    Link ext;
    ext.kind = LinkKind::Bridge;
    ext.name = "br-ext";
    k.state.add(ext);
    k.bridges["br-ext"] = BridgeFacts{{pfx("10.99.0.1/24")}, {ip("10.99.0.2")}, {}};
    k.answering["br-ext"] = {ip("10.99.0.3")};
    Project p;
    p.name = "ea";
    p.networks["lan"] = bridge_net("lan");
    p.networks["lan"].external = true;
    p.networks["lan"].kernel_name = "br-ext";
    p.services["web"] = svc("web", {ep("lan")});
    auto c = plan_for(k, &p);
    REQUIRE(c.errors.empty());
    CHECK(c.addressing.endpoint("web", "lan")->v4 == ip("10.99.0.4"));
    CHECK(c.addressing.networks.at("lan").gateway4 == ip("10.99.0.1"));
    REQUIRE(execute(k, c.plan.changes).ok());
    // Its own address, seen by the bridge since and answering, stays its own.
    k.bridges["br-ext"].neighbours.push_back(ip("10.99.0.4"));
    k.answering["br-ext"].insert(ip("10.99.0.4"));
    auto again = plan_for(k, &p, c.addressing);
    CHECK(again.plan.empty());
    CHECK(again.addressing.endpoint("web", "lan")->v4 == ip("10.99.0.4"));
}

TEST_CASE("ports: a host port a program listens on is refused unless take_ports; published ones are not refused again") {
    FakeKernel k;
    k.host_listeners = {{"tcp", ip("0.0.0.0"), 2222}, {"udp", ip("127.0.0.1"), 2222}};
    Project p = shop();
    Port ssh;
    ssh.published = PortRange{2222, 2222};
    ssh.target = PortRange{22, 22};
    p.services["web"].ports.push_back(ssh);
    auto c = plan_for(k, &p);
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].starts_with("host port 2222/tcp is taken: a program on this host listens on 0.0.0.0:2222"));
    // Taken over by the manifest (x-topo-take-over), or by --take-ports: a note in the plan.
    p.services["web"].ports.back().take_over = true;
    auto noted = plan_for(k, &p);
    CHECK(noted.errors.empty());
    REQUIRE(noted.plan.notes.size() == 1);
    CHECK(noted.plan.notes[0] == "host port 2222/tcp: a program on this host listens on 0.0.0.0:2222; the port is "
                                 "taken over (x-topo-take-over): its traffic goes to the sandbox");
    p.services["web"].ports.back().take_over = false;
    PlanInput in;
    in.project = &p;
    in.project_name = p.name;
    in.take_ports = true;
    auto taken = compute(k, in);
    REQUIRE(taken.errors.empty());
    CHECK(taken.plan.notes.size() == 1);
    REQUIRE(execute(k, taken.plan.changes).ok());
    auto again = plan_for(k, &p, taken.addressing);
    CHECK(again.errors.empty());
    CHECK(again.plan.empty());
}

TEST_CASE("ownership: the fake kernel reads by the host's rules (model/ownership.hpp)") {
    FakeKernel k;
    Project p = shop();
    auto a = apply(k, p);
    // A link a killed run left unmarked: the project's generated name and
    // topo's MAC for it. Adopted (destroy removes it); the same name with
    // another MAC is somebody else's, never touched.
    auto leftover = naming::bridge("shop", "gone");
    Link left;
    left.kind = LinkKind::Bridge;
    left.name = leftover;
    left.mac = naming::link_mac(leftover);
    k.state.add(left);
    auto lookalike = naming::bridge("shop", "users");
    Link users = left;
    users.name = lookalike;
    users.mac = Mac{{0x02, 0, 0, 0, 0, 1}};
    k.state.add(users);
    // Another project's bridge, named by this project as external: read, with no owner.
    Link other;
    other.kind = LinkKind::Bridge;
    other.name = "br-other";
    other.owner = naming::network_marker("other", "lan");
    k.state.add(other);
    ReadScope scope = read_scope(p);
    scope.foreign_links.push_back("br-other");
    auto live = k.read(scope);
    REQUIRE(live.find_as<Link>(Kind::Bridge, leftover));
    CHECK(live.find_as<Link>(Kind::Bridge, leftover)->owner == "topo/shop/unmarked");
    CHECK_FALSE(live.find_as<Link>(Kind::Bridge, lookalike));
    REQUIRE(live.find_as<Link>(Kind::Bridge, "br-other"));
    CHECK(live.find_as<Link>(Kind::Bridge, "br-other")->owner.empty());
    // Host links asked for by name: those (and their masters) only.
    scope.only_host_links = std::set<std::string>{naming::veth("shop", "web", "frontend")};
    auto some = k.read(scope);
    CHECK(some.find_as<Link>(Kind::Veth, naming::veth("shop", "web", "frontend")));
    CHECK(some.find_as<Link>(Kind::Bridge, naming::bridge("shop", "frontend")));
    CHECK_FALSE(some.find_as<Link>(Kind::Bridge, naming::bridge("shop", "backend")));
    // destroy: the leftover goes with the project; the lookalike and the other project's bridge stay.
    auto c = plan_for(k, nullptr, a);
    REQUIRE(execute(k, c.plan.changes).ok());
    CHECK_FALSE(k.state.find({Kind::Bridge, leftover}));
    CHECK(k.state.find({Kind::Bridge, lookalike}));
    CHECK(k.state.find({Kind::Bridge, "br-other"}));
}

TEST_CASE("compute from a converged state: a record not loaded is what the watch kept, also after a whole read") {
    // The watch's record is the one it saved (StateDir::remembers), so it is
    // not loaded: its addressing is the kept one, even where the manifest's
    // change was read whole (no `touched`) and IPAM runs over every service.
    FakeKernel k;
    Project was = shop();
    auto kept = allocate({&was, {}, {}, {}, {}}).addressing;
    auto& db = kept.endpoints.at({"db", "backend"});
    db.v4 = ip("10.0.43.9");  // not the lowest free: only the record knows it
    db.mac = Mac::from_ipv4(*db.v4);
    DesiredContext ctx;
    HostState converged = desired_state(was, kept, ctx).state;
    Project p = was;
    p.services["cache"] = svc("cache", {ep("backend")});
    PlanInput in;
    in.project = &p;
    in.project_name = p.name;
    in.previous_kept = true;
    Addressing watched = kept;
    Since since{&was, &watched, &ctx, std::nullopt};
    auto c = compute_since(k, in, converged, {}, since);
    CHECK(c.errors.empty());
    CHECK(c.addressing.endpoint("db", "backend")->v4 == ip("10.0.43.9"));
    CHECK(c.addressing.endpoint("cache", "backend")->v4 == ip("10.0.43.2"));
}
