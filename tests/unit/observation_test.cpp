// judge (model/observation.hpp): the rules a read of the host is judged by,
// on observations the fake kernel cannot make (directories, a killed create,
// veths between two sandboxes).
#include <doctest/doctest.h>

#include "model/naming.hpp"
#include "model/observation.hpp"

using namespace topo;

namespace {

const std::string root = netns_files_root;

Link link(LinkKind kind, std::string ns, std::string name, std::string alias) {
    Link l;
    l.kind = kind;
    l.ns = std::move(ns);
    l.name = std::move(name);
    l.owner = std::move(alias);
    return l;
}

ReadScope scope_of(std::string project) {
    ReadScope s;
    s.project = std::move(project);
    return s;
}

}  // namespace

TEST_CASE("judge: a veth end is folded into the host end only when both carry the same marker") {
    auto marker = naming::endpoint_marker("p", "web", "n");
    Observation seen;
    seen.host_links.push_back(link(LinkKind::Veth, "", "tvhost", marker));
    seen.host_links.push_back(link(LinkKind::Veth, "", "tvuser", "somebody"));
    Observation::Sandbox sb{"p-web", false, naming::sandbox_marker("p", "web"), {}, {}, {}};
    auto end = link(LinkKind::Veth, "p-web", "eth0", marker);
    end.peer.emplace().name = "tvhost";
    end.mac = Mac::parse("02:42:0a:00:00:02");
    sb.links.push_back(end);
    // A veth a user put between sandboxes names, by index, a host link of topo's.
    auto stray = link(LinkKind::Veth, "p-web", "eth9", "");
    stray.peer.emplace().name = "tvhost";
    sb.links.push_back(stray);
    sb.addresses.push_back(Address{"p-web", "lo", Prefix::parse("127.0.0.1/8").value()});
    sb.addresses.push_back(Address{"p-web", "eth0", Prefix::parse("10.0.0.2/24").value()});
    sb.addresses.push_back(Address{"p-web", "eth0", Prefix::parse("fe80::42:aff:fe00:2/64").value()});  // the kernel's (EUI-64)
    sb.addresses.push_back(Address{"p-web", "eth0", Prefix::parse("fe80::10/64").value()});  // a link_local_ips one
    seen.sandboxes.push_back(sb);
    auto live = judge(seen, scope_of("p"));
    auto* v = live.find_as<Link>(Kind::Veth, "tvhost");
    REQUIRE(v);
    REQUIRE(v->peer);
    CHECK(v->peer->ns == "p-web");
    CHECK(v->peer->name == "eth0");
    CHECK_FALSE(live.find_as<Link>(Kind::Veth, "tvuser"));
    // Addresses of the sandbox: neither lo's nor the kernel's link-local one.
    size_t addrs = 0;
    for (auto& [key, o] : live.objects) addrs += key.kind == Kind::Address;
    CHECK(addrs == 2);
    CHECK(live.find(ObjectKey{Kind::Address, id_of(Address{"p-web", "eth0", Prefix::parse("fe80::10/64").value()})}));
}

TEST_CASE("judge: a sandbox's scope, a killed create, and a namespace that only has the project's name") {
    Observation seen;
    seen.sandboxes.push_back({"p-a", false, naming::sandbox_marker("p", "a"), {}, {}, {}});
    seen.sandboxes.push_back({"p-b", true, std::nullopt, {}, {}, {}});
    seen.sandboxes.push_back({"p-c", false, "", {}, {}, {}});
    seen.sandboxes.push_back({"p-d", false, "", {}, {}, {}});
    auto scope = scope_of("p");
    scope.sandboxes = {"p-c"};
    auto live = judge(seen, scope);
    CHECK(live.find_as<Netns>(Kind::Netns, "p-a")->owner == naming::sandbox_marker("p", "a"));
    CHECK(live.find_as<Netns>(Kind::Netns, "p-b")->owner == naming::project_marker("p") + "residue");
    REQUIRE(live.find_as<Netns>(Kind::Netns, "p-c"));
    CHECK(live.find_as<Netns>(Kind::Netns, "p-c")->owner.empty());  // wanted, not topo's: a conflict
    CHECK_FALSE(live.find_as<Netns>(Kind::Netns, "p-d"));            // neither: left out
    scope.only_sandboxes = std::set<std::string>{"p-b"};
    auto part = judge(seen, scope);
    CHECK_FALSE(part.find_as<Netns>(Kind::Netns, "p-a"));
    CHECK(part.find_as<Netns>(Kind::Netns, "p-b"));
}

TEST_CASE("judge: directories where a file is missing are topo's only by marker or when they hold nothing") {
    auto owner = naming::project_marker("p");
    auto dir = [&](std::string name, std::string marker, bool others, std::vector<std::string> unfinished = {}) {
        return Observation::Dir{root + name, false, false, std::move(marker), others, std::move(unfinished)};
    };
    Observation seen;
    seen.listed = true;
    seen.sandboxes.push_back({"p-a", false, naming::sandbox_marker("p", "a"), {}, {}, {}});
    seen.dirs.push_back(dir("p-a", owner, true, {root + "p-a/hosts"}));  // a write killed
    seen.dirs.push_back(dir("p-b", "", false));                          // made, not marked: taken
    seen.dirs.push_back(dir("p-c", "", true));                           // a user's, with files
    auto link = Observation::Dir{root + "p-d", false, true, "", false, {}};
    seen.dirs.push_back(link);
    auto scope = scope_of("p");
    for (auto* s : {"p-b", "p-c", "p-d"}) scope.files.push_back(root + s + "/hosts");
    auto live = judge(seen, scope);
    REQUIRE(live.find_as<File>(Kind::File, root + "p-a/hosts"));
    CHECK(live.find_as<File>(Kind::File, root + "p-a/hosts")->owner == owner);
    CHECK(live.find_as<File>(Kind::File, root + "p-b/hosts"));
    CHECK_FALSE(live.find_as<File>(Kind::File, root + "p-c/hosts"));
    REQUIRE(live.conflicts.size() == 2);
    CHECK(live.conflicts[0] == "directory /etc/netns/p-c exists and is not topo's (it is not marked as project p's, "
                               "and has files in it); topo never writes into a directory it did not create: move it "
                               "away, or choose another service name");
    CHECK(live.conflicts[1] == "directory /etc/netns/p-d is a symbolic link or not a directory, and is not topo's; "
                               "topo never follows one: remove it, or choose another service name");
    // Not wanted and not a sandbox of the project's: a user's directory is left out, no conflict.
    scope.files.clear();
    CHECK(judge(seen, scope).conflicts.empty());
}

TEST_CASE("judge: a file is the project's by its first line; one it wants that is not is shown with no owner") {
    Observation seen;
    seen.listed = true;
    auto marker = naming::project_marker("p");
    seen.files.push_back(File{root + "p-a/hosts", naming::file_marker("p") + "\n127.0.0.1 localhost\n", "", ""});
    seen.files.push_back(File{root + "p-b/hosts", "127.0.0.1 mine\n", "", ""});
    seen.files.push_back(File{root + "p-c/hosts", "127.0.0.1 mine\n", "", ""});
    seen.files.push_back(File{"/elsewhere/hosts", naming::file_marker("p") + "\n", "", ""});
    auto scope = scope_of("p");
    scope.files = {root + "p-b/hosts"};
    auto live = judge(seen, scope);
    CHECK(live.find_as<File>(Kind::File, root + "p-a/hosts")->owner == marker);
    REQUIRE(live.find_as<File>(Kind::File, root + "p-b/hosts"));
    CHECK(live.find_as<File>(Kind::File, root + "p-b/hosts")->owner.empty());
    CHECK_FALSE(live.find_as<File>(Kind::File, root + "p-c/hosts"));
    CHECK_FALSE(live.find_as<File>(Kind::File, "/elsewhere/hosts"));
}
