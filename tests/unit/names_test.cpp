#include "reconcile/names.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "model/naming.hpp"
#include "reconcile/ipam.hpp"
#include "test_helpers.hpp"

using namespace topo;
using namespace topo::test;

namespace {

// shop (test_helpers): web on frontend+backend, db on backend. Plus cache on
// backend sharing the alias "store" with db, and api on frontend only.
struct Fixture {
    Project p = shop();
    Addressing a;
    Fixture() {
        p.services["db"].endpoints[0].aliases = {"store"};
        p.services["cache"] = svc("cache", {ep("backend")});
        p.services["cache"].endpoints[0].aliases = {"store"};
        p.services["api"] = svc("api", {ep("frontend")});
        p.services["api"].extra_hosts = {{"legacy.db", ip("10.0.42.6")}};
        p.services["api"].hostname = "api-1";
        a = allocate({&p, {}, {}, {}, {}}).addressing;
    }
};

}  // namespace

TEST_CASE("names: a sandbox sees only the networks it is on") {
    Fixture f;
    auto api = hosts_file(f.p, f.a, f.p.services.at("api"));
    CHECK(api == naming::file_marker("shop") + "\n"
                 "127.0.0.1\tlocalhost\n"
                 "::1\tlocalhost ip6-localhost ip6-loopback\n"
                 "10.0.42.128\tapi-1 api\n"
                 "# network frontend\n"
                 "10.0.42.130\tweb\n"
                 "# extra_hosts\n"
                 "10.0.42.6\tlegacy.db\n");
    CHECK(api.find("\tdb") == std::string::npos);  // db is on backend only: not resolvable from api
    // Read back as `topo show` reads it: the sections' lines, not the head.
    auto entries = parse_hosts(api);
    REQUIRE(entries.size() == 2);
    CHECK((entries[0].section == "frontend" && entries[0].address == "10.0.42.130" && entries[0].names == "web"));
    CHECK((entries[1].section == "extra_hosts" && entries[1].address == "10.0.42.6" && entries[1].names == "legacy.db"));
}

TEST_CASE("names: a peer's line gives each of its names once, name first, then hostname and aliases") {
    Fixture f;
    auto& db = f.p.services.at("db");
    db.hostname = "store";  // also an alias: said once
    db.endpoints[0].aliases = {"store", "db", "primary", "primary"};
    auto web = hosts_file(f.p, f.a, f.p.services.at("web"));
    CHECK(web.find("10.0.43.3\tdb store primary\n") != std::string::npos);
}

TEST_CASE("names: an alias shared by two sandboxes lists both addresses") {
    Fixture f;
    auto web = hosts_file(f.p, f.a, f.p.services.at("web"));
    CHECK(web.find("# network backend\n"
                   "10.0.43.2\tcache store\n"
                   "10.0.43.3\tdb store\n") != std::string::npos);
    CHECK(web.find("# network frontend\n10.0.42.128\tapi api-1\n") != std::string::npos);
}

TEST_CASE("names: rendering is deterministic") {
    Fixture f;
    CHECK(hosts_file(f.p, f.a, f.p.services.at("web")) == hosts_file(f.p, f.a, f.p.services.at("web")));
}

TEST_CASE("names: resolv.conf from dns, dns_search and dns_opt") {
    Fixture f;
    auto& s = f.p.services.at("web");
    s.dns = {ip("10.0.42.5")};
    s.dns_search = {"shop.internal"};
    s.dns_opt = {"ndots:2"};
    CHECK(resolv_conf(f.p, s, "nameserver 192.0.2.53\n") == naming::file_marker("shop") + "\n"
          "nameserver 10.0.42.5\nsearch shop.internal\noptions ndots:2\n");
}

TEST_CASE("names: the host's resolvers are copied, less the loopback ones") {
    Fixture f;
    auto conf = resolv_conf(f.p, f.p.services.at("web"),
                            "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\nsearch example.org\n");
    CHECK(conf == naming::file_marker("shop") + "\nnameserver 192.0.2.53\nsearch example.org\n");
    auto only_stub = resolv_conf(f.p, f.p.services.at("web"), "nameserver 127.0.0.53\n");
    CHECK(only_stub.find("# no nameserver") != std::string::npos);
}

TEST_CASE("names: one hosts and one resolv.conf per sandbox, none for host-mode services") {
    Fixture f;
    Service h;
    h.name = "h";
    h.mode = NetworkMode::Host;
    f.p.services["h"] = h;
    auto files = name_files(f.p, f.a, {"", "", "/etc/netns"});
    CHECK(files.size() == 10);  // api, cache, db, web, and the shared resolv.conf and backend's file
    CHECK(files[0].path == "/etc/netns/shop-api/hosts");
    CHECK(files[1].path == "/etc/netns/shop-api/resolv.conf");
    CHECK(files[8].path == "/etc/netns/.topo-shop/_resolv.conf");
    CHECK(files[9].path == "/etc/netns/.topo-shop/backend");
}

TEST_CASE("names: sandboxes without dns settings link to one resolv.conf; one with them has its own") {
    Fixture f;
    f.p.services.at("api").dns = {ip("192.0.2.53")};
    std::map<std::string, File> by_path;
    for (auto& file : name_files(f.p, f.a, {"", "nameserver 198.51.100.53\n", "/etc/netns"}))
        by_path[file.path] = file;
    for (auto* s : {"db", "cache", "web"})
        CHECK(by_path.at(fmt::format("/etc/netns/shop-{}/resolv.conf", s)).link == "../.topo-shop/_resolv.conf");
    auto shared = by_path.at("/etc/netns/.topo-shop/_resolv.conf").content.str();
    CHECK(shared == naming::file_marker("shop") + "\nnameserver 198.51.100.53\n");
    auto& api = by_path.at("/etc/netns/shop-api/resolv.conf");
    CHECK(api.link.empty());
    CHECK(api.content.str() == naming::file_marker("shop") + "\nnameserver 192.0.2.53\n");
}

TEST_CASE("names: a sandbox on one network links to the network's file; one with more of its own gets its own") {
    Fixture f;
    std::map<std::string, File> by_path;
    for (auto& file : name_files(f.p, f.a, {"", "", "/etc/netns"})) by_path[file.path] = file;
    // db and cache: one network, no extra_hosts, hostname = name.
    CHECK(by_path.at("/etc/netns/shop-db/hosts").link == "../.topo-shop/backend");
    CHECK(by_path.at("/etc/netns/shop-db/hosts").content.empty());
    CHECK(by_path.at("/etc/netns/shop-cache/hosts").link == "../.topo-shop/backend");
    // web is on two networks; api has extra_hosts and a hostname of its own.
    CHECK(by_path.at("/etc/netns/shop-web/hosts").link.empty());
    CHECK(by_path.at("/etc/netns/shop-api/hosts").link.empty());
    CHECK(!by_path.count("/etc/netns/.topo-shop/frontend"));  // nobody links to it
    // The network's file: every member, db and cache themselves included,
    // each by service name, hostname and aliases.
    auto backend = by_path.at("/etc/netns/.topo-shop/backend").content.str();
    CHECK(naming::has_file_marker(backend, "shop"));
    CHECK(backend.find("127.0.0.1\tlocalhost\n") != std::string::npos);
    CHECK(backend.find("# network backend\n"
                       "10.0.43.2\tcache store\n"
                       "10.0.43.3\tdb store\n"
                       "10.0.43.4\tweb\n") != std::string::npos);
}

TEST_CASE("names: a sandbox amid a network's members sees those before and after it, not itself") {
    Fixture f;
    // backend's members in manifest order: cache, db, web.
    auto db = hosts_file(f.p, f.a, f.p.services.at("db"));
    CHECK(db.find("# network backend\n"
                  "10.0.43.2\tcache store\n"
                  "10.0.43.4\tweb\n"
                  "10.0.43.3\tstore\n") != std::string::npos);
    CHECK(db.find("\tdb store") == std::string::npos);
}

TEST_CASE("names: the files of name_files are the ones hosts_file renders") {
    Fixture f;
    for (auto& file : name_files(f.p, f.a, {"", "", "/etc/netns"})) {
        if (!file.path.ends_with("/hosts") || !file.link.empty()) continue;
        auto service = file.path.substr(std::string("/etc/netns/shop-").size());
        service = service.substr(0, service.find('/'));
        CHECK(file.content == hosts_file(f.p, f.a, f.p.services.at(service)));
    }
}
