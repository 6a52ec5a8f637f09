// A Compose project of several files (manifest/assemble.hpp): merge rules,
// include and extends, read from real files in a directory of the test's.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "manifest/manifest.hpp"

using namespace topo;
using namespace topo::manifest;
namespace fs = std::filesystem;

namespace {

// A directory of files, removed afterwards.
struct Dir {
    fs::path root;
    Dir() {
        char tmpl[] = "/tmp/topo-compose-XXXXXX";
        root = ::mkdtemp(tmpl);
    }
    ~Dir() { fs::remove_all(root); }
    std::string put(const std::string& name, const std::string& text) const {
        auto p = root / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
};

LoadOptions given(std::map<std::string, std::string> vars = {}) {
    LoadOptions o;
    o.variables = std::move(vars);
    return o;
}

std::vector<Error> errors_of(const std::vector<std::string>& files, const LoadOptions& opts = given()) {
    try {
        load(files, opts);
    } catch (const ManifestError& e) {
        return e.errors();
    }
    return {};
}

std::vector<std::string> names(const std::vector<Endpoint>& eps) {
    std::vector<std::string> out;
    for (auto& e : eps) out.push_back(e.network);
    return out;
}

}  // namespace

TEST_CASE("merge: lists appended with an equal item once, networks as list and map, a null keeps the map") {
    Dir d;
    auto base = d.put("compose.yaml", R"(name: shop
networks: {front: {}, back: {}}
services:
  web:
    networks:
      front: {aliases: [www]}
    ports: ["8080:80"]
    dns: [10.0.0.53]
  db:
    networks: [back]
)");
    auto over = d.put("compose.override.yaml", R"(services:
  web:
    networks:
      front:
      back: {}
    ports: ["8080:80", "8443:443"]
    dns: [10.0.0.54]
  db:
    networks:
      front: {aliases: [database]}
)");
    auto p = load({base, over}, given());
    auto& web = p.services.at("web");
    CHECK(names(web.endpoints) == std::vector<std::string>{"back", "front"});
    auto front = std::find_if(web.endpoints.begin(), web.endpoints.end(), [](auto& e) { return e.network == "front"; });
    CHECK(front->aliases == std::vector<std::string>{"www"});  // front: (null) kept base's map
    REQUIRE(web.ports.size() == 2);  // "8080:80" once
    CHECK(web.ports[1].published->first == 8443);
    CHECK(web.dns.size() == 2);
    auto& db = p.services.at("db");  // a list, then a map: both networks
    CHECK(names(db.endpoints) == std::vector<std::string>{"back", "front"});
}

TEST_CASE("merge: !reset takes a key out, !override replaces instead of merging") {
    Dir d;
    auto base = d.put("compose.yaml", R"(name: shop
networks: {front: {}, back: {}}
services:
  web:
    networks:
      front: {aliases: [www]}
    ports: ["8080:80"]
    dns: [10.0.0.53]
)");
    auto over = d.put("compose.override.yaml", R"(services:
  web:
    ports: !reset []
    dns: !reset
    networks: !override
      back: {}
)");
    auto p = load({base, over}, given());
    auto& web = p.services.at("web");
    CHECK(web.ports.empty());
    CHECK(web.dns.empty());
    CHECK(names(web.endpoints) == std::vector<std::string>{"back"});
    auto r = resolve({base, over}, given());
    CHECK(!r["services"]["web"]["ports"]);
    CHECK(!r["services"]["web"]["dns"]);
}

TEST_CASE("include: a project of its own, with its directory and .env; conflicts and cycles are errors") {
    Dir d;
    d.put("db/.env", "DB_SUBNET=10.88.0.0/24\nSHARED=from-db-env\n");
    d.put("db/compose.yaml", R"(networks:
  data:
    ipam: {config: [{subnet: "${DB_SUBNET}"}]}
services:
  db:
    networks: [data]
    hostname: "${SHARED}"
)");
    auto main = d.put("app/compose.yaml", R"(name: shop
include:
  - ../db/compose.yaml
services:
  web:
    networks: [data]
)");
    SUBCASE("its variables: its own .env, under the including project's") {
        auto p = load({main}, given());
        CHECK(p.networks.at("data").ipv4->subnet.str() == "10.88.0.0/24");
        CHECK(p.services.at("db").hostname == "from-db-env");
        CHECK(names(p.services.at("web").endpoints) == std::vector<std::string>{"data"});
        auto q = load({main}, given({{"SHARED", "from-project"}}));
        CHECK(q.services.at("db").hostname == "from-project");
    }
    SUBCASE("path:, project_directory and env_file") {
        d.put("other.env", "DB_SUBNET=10.89.0.0/24\nSHARED=x\n");
        auto f = d.put("app/long.yaml", R"(name: shop
include:
  - path: [../db/compose.yaml]
    env_file: ../other.env
services: {}
)");
        CHECK(load({f}, given()).networks.at("data").ipv4->subnet.str() == "10.89.0.0/24");
    }
    SUBCASE("the same definition on both sides is one; a different one is an error at the including file") {
        auto same = d.put("app/same.yaml", R"(name: shop
include: [../db/compose.yaml]
networks:
  data:
    ipam: {config: [{subnet: "${DB_SUBNET:-10.88.0.0/24}"}]}
services:
  db:
    networks: [data]
    hostname: "${SHARED:-from-db-env}"
)");
        CHECK_NOTHROW(load({same}, given()));
        auto clash = d.put("app/clash.yaml", R"(name: shop
include: [../db/compose.yaml]
services:
  db:
    networks: [default]
)");
        auto e = errors_of({clash});
        REQUIRE(e.size() == 1);
        CHECK(e[0].mark.file == clash);
        CHECK(e[0].mark.line == 4);
        CHECK(e[0].path == "services.db");
        CHECK(e[0].message == "defined here and, differently, in the included " + (d.root / "db/compose.yaml").string() +
                                  " (line 5); Compose does not merge an included project's services: rename one, or "
                                  "define it in one place");
    }
    SUBCASE("a cycle names its files; a missing file is an error at its include") {
        auto a = d.put("loop/a.yaml", "include: [b.yaml]\nservices: {}\n");
        d.put("loop/b.yaml", "include: [a.yaml]\n");
        auto e = errors_of({a});
        REQUIRE(e.size() == 1);
        CHECK(e[0].path == "include[0]");
        CHECK(e[0].message == fmt::format("include cycle: {0}/loop/a.yaml → {0}/loop/b.yaml → {0}/loop/a.yaml; remove "
                                          "one of these includes",
                                          d.root.string()));
        auto gone = d.put("gone.yaml", "include:\n  - nothere.yaml\nservices: {}\n");
        e = errors_of({gone});
        REQUIRE(e.size() == 1);
        CHECK(e[0].mark.line == 2);
        CHECK(e[0].message.starts_with("cannot read " + (d.root / "nothere.yaml").string()));
    }
}

TEST_CASE("extends: from this file or another, in turn; depends_on is not taken over; loops are errors") {
    Dir d;
    d.put("common/base.yaml", R"(services:
  edge:
    networks: {front: {aliases: [edge]}}
    depends_on: [db]
  tls:
    extends: edge
    ports: ["443:443"]
)");
    auto f = d.put("app/compose.yaml", R"(name: shop
networks: {front: {}}
services:
  proxy:
    extends: {file: ../common/base.yaml, service: tls}
    dns: [10.0.0.53]
  proxy2:
    extends: {file: ../common/base.yaml, service: edge}
    networks: {front: {aliases: [edge2]}}
)");
    auto p = load({f}, given());
    auto& proxy = p.services.at("proxy");
    CHECK(proxy.ports.size() == 1);
    CHECK(proxy.dns.size() == 1);
    REQUIRE(proxy.endpoints.size() == 1);
    CHECK(proxy.endpoints[0].aliases == std::vector<std::string>{"edge"});
    auto& proxy2 = p.services.at("proxy2");
    REQUIRE(proxy2.endpoints.size() == 1);
    CHECK(proxy2.endpoints[0].aliases == std::vector<std::string>{"edge", "edge2"});
    CHECK(!p.services.count("edge"));  // (not in db's project: depends_on [db] would be an error)
    auto r = resolve({f}, given());
    CHECK(!r["services"]["proxy"]["depends_on"]);
    CHECK(!r["services"]["proxy"]["extends"]);

    auto loop = d.put("loop.yaml", R"(services:
  a: {extends: b}
  b: {extends: {service: a}}
  c: {extends: nobody}
)");
    auto e = errors_of({loop});
    REQUIRE(e.size() == 2);  // the cycle once
    CHECK(e[0].path == "services.a.extends");
    CHECK(e[0].message == "extends cycle: a → b → a; one of them must not extend the next");
    CHECK(e[1].path == "services.c.extends");
    CHECK(e[1].message == "there is no service \"nobody\" in this project to extend");
}
