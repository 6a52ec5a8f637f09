// A Compose project of several files (manifest/assemble.hpp): merge rules,
// include and extends, read from real files in a directory of the test's.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "manifest/cache.hpp"
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

// ---- A watch's reads of a changed manifest (manifest/cache.hpp) ----

namespace {

// What a read gave, to compare a piecewise read with a whole one.
std::string summary(const Project& p) {
    std::string out = p.name + " " + p.source_file + "\n";
    for (auto& [name, h] : p.hosts) out += fmt::format("host {} {}\n", name, h.address.str());
    // Marks too: what a later error (IPAM's, the host's) points at.
    auto at = [](const SourceMark& m) { return fmt::format("@{}:{}:{}", m.file, m.line, m.column); };
    for (auto& [name, n] : p.networks)
        out += fmt::format("network {} {} {} {} {}\n", name, n.implicit, at(n.mark), at(n.link_at.mark),
                           n.ipv4 ? at(n.ipv4->mark) : "-");
    for (auto& [name, s] : p.services) {
        out += fmt::format("service {} on {} ports {} replicas {} {}\n", name, s.host, s.ports.size(), s.replicas.value_or(0),
                           at(s.mark));
        for (auto& e : s.endpoints)
            out += fmt::format("  {} {} {} {} {} {}\n", e.network, e.interface_name, e.ipv4_address ? e.ipv4_address->str() : "-",
                               e.mac_address ? e.mac_address->str() : "-", fmt::join(e.aliases, ","), at(e.mark));
        for (auto& port : s.ports) out += fmt::format("  port {}\n", at(port.mark));
    }
    return out;
}

const char* fleet = R"(name: fleet
networks:
  mesh:
    driver: overlay
    ipam: {config: [{subnet: 10.128.0.0/16}]}
hosts:
  node1: {address: 10.200.0.1}
  node2: {address: 10.200.0.2}
services:
  a: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.2}}}
  b:
    host: node1
    networks:
      mesh: {ipv4_address: 10.128.1.3, aliases: [bee]}
  # c runs on the other host
  c: {host: node2, networks: {mesh: {ipv4_address: 10.128.2.2}}}
  d: {host: node2, networks: {mesh: {ipv4_address: 10.128.2.3}}}
)";

// What a read of `f` gives: the project, or the errors.
std::string outcome(const std::string& f, LoadCache* cache) {
    try {
        return summary(load({f}, given(), cache));
    } catch (const ManifestError& e) {
        std::string out;
        for (auto& err : e.errors()) out += err.str() + "\n";
        return out;
    }
}

// Reads `text` as the file `f` with the cache, and checks it gives what a
// read without one does.
Project reread_as(const Dir& d, const std::string& f, LoadCache& cache, const std::string& text) {
    d.put(f.substr(d.root.string().size() + 1), text);
    CHECK(outcome(f, &cache) == outcome(f, nullptr));
    return load({f}, given());
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("cache: a changed service is read again, and only it") {
    Dir d;
    auto f = d.put("fleet.yaml", fleet);
    auto cache = load_cache();
    auto p = load({f}, given(), cache.get());
    REQUIRE(cache->ready());
    CHECK(cache->service_lines == std::vector<size_t>{9, 10, 15, 16});
    auto node = [&](const char* s) { return cache->parsed.at(s).first; };
    auto a = node("a"), b = node("b"), c = node("c"), d_ = node("d");

    // c moves to node1: c alone is read again, the others are the nodes they were.
    auto moved = reread_as(d, f, *cache, replaced(fleet, "c: {host: node2", "c: {host: node1"));
    CHECK(moved.services.at("c").host == "node1");
    CHECK(node("a").is(a));
    CHECK(node("b").is(b));
    CHECK(!node("c").is(c));
    CHECK(node("d").is(d_));

    // b grows by two lines: the entries after it move down, and are kept.
    auto grown = replaced(replaced(fleet, "c: {host: node2", "c: {host: node1"), "aliases: [bee]}",
                          "aliases: [bee]}\n    mac_address: 02:42:0a:80:01:99\n    # a comment");
    reread_as(d, f, *cache, grown);
    CHECK(cache->service_lines == std::vector<size_t>{9, 10, 17, 18});
    CHECK(node("a").is(a));
    CHECK(!node("b").is(b));

    // A service added at the end, one taken out, one renamed.
    auto more = grown + "  e: {host: node2, networks: {mesh: {ipv4_address: 10.128.2.4}}}\n";
    CHECK(reread_as(d, f, *cache, more).services.count("e"));
    auto fewer = replaced(more, "  a: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.2}}}\n", "");
    CHECK(!reread_as(d, f, *cache, fewer).services.count("a"));
    auto renamed = replaced(fewer, "  d: {", "  dee: {");
    auto r = reread_as(d, f, *cache, renamed);
    CHECK(!r.services.count("d"));
    CHECK(r.services.count("dee"));
    CHECK(cache->ready());
    CHECK(cache->parsed.size() == 4);  // b, c, dee, e: none left of the services gone
}

TEST_CASE("cache: what is not within services' entries, or reaches across them, is read whole") {
    Dir d;
    auto f = d.put("fleet.yaml", fleet);
    auto cache = load_cache();
    load({f}, given(), cache.get());
    auto a = cache->parsed.at("a").first;
    // A host's address changed: read whole (every node new), and cached again.
    reread_as(d, f, *cache, replaced(fleet, "10.200.0.2", "10.200.0.9"));
    REQUIRE(cache->ready());
    CHECK(!cache->parsed.at("a").first.is(a));
    // An anchor: never cached.
    auto anchored = replaced(fleet, "  a: {host: node1,", "  a: &a {host: node1,");
    reread_as(d, f, *cache, anchored);
    CHECK(!cache->ready());
    // A flow-style services map: read whole every time.
    auto flow = std::string(fleet).substr(0, std::string(fleet).find("services:")) +
                "services: {a: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.2}}}}\n";
    reread_as(d, f, *cache, flow);
    CHECK(!cache->ready());
}

TEST_CASE("cache: with networks after the services, a move is read in pieces and a longer service whole") {
    Dir d;
    std::string compose = R"(services:
  web:
    host: node1
    ports: ["8080:80"]
    networks: [front]
  db: {host: node1, networks: [front]}
networks:
  front: {driver: overlay, ipam: {config: [{subnet: 10.0.9.0/24}]}}
hosts:
  node1: {address: 10.200.0.1}
  node2: {address: 10.200.0.2}
)";
    auto f = d.put("compose.yaml", compose);
    auto cache = load_cache();
    load({f}, given(), cache.get());
    REQUIRE(cache->ready());
    auto web = cache->parsed.at("web").first;
    reread_as(d, f, *cache, replaced(compose, "db: {host: node1", "db: {host: node2"));
    CHECK(cache->parsed.at("web").first.is(web));
    // db takes two lines now: the network's marks below it move, so it is read whole.
    reread_as(d, f, *cache, replaced(compose, "  db: {host: node1, networks: [front]}", "  db:\n    host: node2\n    networks: [front]"));
    CHECK(!cache->parsed.at("web").first.is(web));
    CHECK(cache->ready());
}

TEST_CASE("cache: an error in a changed service is said as a whole read says it, and the next read recovers") {
    Dir d;
    auto f = d.put("fleet.yaml", fleet);
    auto cache = load_cache();
    load({f}, given(), cache.get());
    // b grows a line, then d (after it) names a host that is not there: the
    // error's line is the file's, not the piece's.
    auto bad = replaced(replaced(fleet, "aliases: [bee]}", "aliases: [bee]}\n    mac_address: 02:42:0a:80:01:99"),
                        "d: {host: node2", "d: {host: node7");
    d.put("fleet.yaml", bad);
    std::vector<Error> errors;
    try {
        load({f}, given(), cache.get());
    } catch (const ManifestError& e) {
        errors = e.errors();
    }
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].str() == f + ":18:13: services.d.host: no host named \"node7\" under hosts:");
    CHECK(!cache->ready());
    auto fixed = replaced(bad, "node7", "node2");
    reread_as(d, f, *cache, fixed);
    CHECK(cache->ready());
    // Two services written on one line by an edit: not entries of the map any
    // more as they were; the whole read says what is wrong.
    for (auto& edit : {replaced(fixed, "10.128.2.2}}}\n  d:", "10.128.2.2}}}  d:"),
                       // or a key of the top level put among them
                       replaced(fixed, "  # c runs", "volumes: {}\n  # c runs")}) {
        load({f}, given(), cache.get());  // (the last good text, cached)
        d.put("fleet.yaml", edit);
        auto whole = outcome(f, nullptr);
        CHECK(whole.find("(yaml)") != std::string::npos);
        CHECK(outcome(f, cache.get()) == whole);
        d.put("fleet.yaml", fixed);
    }
    // A top-level key that takes the entries after it as its own: c and d
    // are no services any more, as a whole read has it.
    load({f}, given(), cache.get());
    auto taken = reread_as(d, f, *cache, replaced(fixed, "  # c runs", "volumes:\n  # c runs"));
    CHECK(!taken.services.count("c"));
}

// Reads `base` with a cache, then `next` both ways, and compares.
void same_both_ways(const std::string& base, const std::string& next) {
    Dir d;
    auto f = d.put("fleet.yaml", base);
    auto cache = load_cache();
    outcome(f, cache.get());
    d.put("fleet.yaml", next);
    auto whole = outcome(f, nullptr);
    INFO("next:\n", next, "\nwhole:\n", whole);
    CHECK(outcome(f, cache.get()) == whole);
}

TEST_CASE("cache: what a piece cannot tell alone is read whole (found by review)") {
    std::string one_line = fleet;  // b on one line, as the others
    one_line = replaced(one_line, "  b:\n    host: node1\n    networks:\n      mesh: {ipv4_address: 10.128.1.3, aliases: [bee]}\n",
                        "  b: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.3}}}\n");
    auto c_moved = [](const std::string& t) { return replaced(t, "c: {host: node2", "c: {host: node1"); };
    auto c_renamed = [](const std::string& t) {
        return replaced(t, "  c: {host: node2, networks: {mesh: {ipv4_address: 10.128.2.2}}}",
                        "  cc: {host: node2, networks: {mesh: {ipv4_address: 10.128.2.9}}}");
    };
    SUBCASE("a document's start or end among the entries") {
        for (auto* marker : {"...\n", "---\n"}) {
            same_both_ways(one_line, replaced(one_line, "  d: {", std::string(marker) + "  d: {"));
            same_both_ways(one_line, replaced(c_moved(one_line), "  d: {", std::string(marker) + "  d: {"));
        }
    }
    SUBCASE("line breaks other than a newline") {
        same_both_ways(one_line, replaced(one_line, "  c: {host: node2", "\r  c: {host: node1"));
        for (auto* other : {"\xE2\x80\xA8", "\xC2\x85", "\xE2\x80\xA9"}) {
            auto base = replaced(one_line, "services:\n", "# note" + std::string(other) + "\nservices:\n");
            same_both_ways(base, c_moved(base));
            same_both_ways(base, c_renamed(base));
        }
    }
    SUBCASE("a line put before an entry, which the block scalar before it takes") {
        auto base = replaced(one_line, "  b: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.3}}}\n",
                             "  b:\n    host: node1\n    networks: {mesh: {ipv4_address: 10.128.1.3}}\n    hostname: >-\n      bee\n");
        same_both_ways(base, replaced(base, "  c: {host: node2", "      # two\n  c: {host: node1"));
        same_both_ways(base, replaced(base, "  c: {host: node2", "\n  c: {host: node1"));
    }
    SUBCASE("escapes that make a key or a `$` only once parsed (found by a second review)") {
        auto extended = replaced(one_line, "  c: {host: node2,", "  c: {\"\\x65xtends\": a, host: node2,");
        same_both_ways(extended, replaced(extended, "a: {host: node1", "a: {host: node2"));
        same_both_ways(one_line, replaced(one_line, "  c: {host: node2,", "  c: {\"pro\\x66iles\": [off], host: node2,"));
        same_both_ways(one_line, replaced(one_line, "  c: {host: node2,", "  c: {dns_opt: [\"a\\x24\\x24b\"], host: node2,"));
        same_both_ways(one_line, replaced(one_line, "  c: {host: node2,", "  c: {hostname: \"\\x24{X?boom}\", host: node2,"));
    }
    SUBCASE("keys that do not begin their lines: explicit keys, a flow map of services") {
        auto head = one_line.substr(0, one_line.find("services:"));
        auto explicit_keys = head + "services:\n  ? a\n  : {host: node1, networks: {mesh: {ipv4_address: 10.128.1.2}}}\n"
                                    "  ? b\n  : {host: node1, networks: {mesh: {ipv4_address: 10.128.1.3}}}\n";
        same_both_ways(explicit_keys, replaced(explicit_keys, "  ? b\n  : {host: node1", "    b: {host: node2"));
        auto deeper = head + "services:\n    a: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.2}}}\n"
                             "    b: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.3}}}\n";
        same_both_ways(deeper, replaced(deeper, "    b: {host: node1", "  ? b\n  : {host: node2"));
        auto flow = head + "services: {\n  a: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.2}}},\n"
                           "  b: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.3}}}\n}\n";
        same_both_ways(flow, replaced(flow, "  a: {host: node1", "  a:\n    host: node2\n    x: {host: node1"));
        same_both_ways(flow, replaced(flow, "  a: {host: node1", "  a: {host: node2"));
    }
    SUBCASE("entries with no value, and none left") {
        auto nulls = replaced(one_line, "  d: {", "  e:\n  # x\n\n  d: {");
        same_both_ways(nulls, c_moved(nulls));
        same_both_ways(one_line, nulls);
        same_both_ways(one_line, one_line + "  e:\n  # x\n");
        auto none = one_line.substr(0, one_line.find("  a: {"));
        same_both_ways(one_line, none);
        same_both_ways(one_line, none + "  # nothing\n");
    }
}

// fleet with the services first, as Compose files mostly have them.
std::string services_first() {
    std::string text = fleet;
    auto at = text.find("services:\n");
    return text.substr(at) + text.substr(0, at);
}

// A watch's reads: each read's project held until the next read, then
// given back, as `topo watch` does (the next read patches it).
struct Watcher {
    std::shared_ptr<LoadCache> cache = load_cache();
    std::optional<Project> held;
    uint64_t id = 0;
    size_t patched = 0;  // reads that patched the project given back
    // The project, or the errors, as outcome() says them; `whole`, when
    // given, must be the very project (every field).
    std::string read(const std::string& f, const std::optional<Project>& whole = std::nullopt) {
        try {
            auto p = load({f}, given(), cache.get());
            patched += cache->patched;
            if (whole) CHECK(p == *whole);
            auto last = std::exchange(held, p);
            auto last_id = std::exchange(id, load_id(*cache));
            if (last) give_back(*cache, std::move(*last), last_id);
            keep_copy(*cache, *held, id);
            return summary(p);
        } catch (const ManifestError& e) {
            std::string out;
            for (auto& err : e.errors()) out += err.str() + "\n";
            return out;
        }
    }
};

std::optional<Project> whole_read(const std::string& f) {
    try {
        return load({f}, given());
    } catch (const ManifestError&) {
        return std::nullopt;
    }
}

TEST_CASE("cache: a watch's project is patched where its entries changed, and is what a whole read makes") {
    Dir d;
    auto f = d.put("fleet.yaml", fleet);
    Watcher watch;
    std::vector<bool> patched;
    auto step = [&](const std::string& text) {
        d.put("fleet.yaml", text);
        auto whole = whole_read(f);
        REQUIRE(whole);
        watch.read(f, whole);
        patched.push_back(watch.cache->patched);
    };
    std::string text = fleet;
    step(text);  // whole
    step(text = replaced(text, "c: {host: node2", "c: {host: node1"));  // patched: the copy of the whole read's project
    step(text = replaced(text, "d: {host: node2", "d: {host: node1"));  // patched: the project given back
    step(text = replaced(text, "c: {host: node1", "c: {host: node2"));
    // b grows by two lines: c and d after it move down.
    step(text = replaced(text, "aliases: [bee]}", "aliases: [bee]}\n    mac_address: 02:42:0a:80:01:99\n    # a comment"));
    step(text += "  e: {host: node2, networks: {mesh: {ipv4_address: 10.128.2.4}}}\n");
    step(text = replaced(text, "  a: {host: node1, networks: {mesh: {ipv4_address: 10.128.1.2}}}\n", ""));
    step(text = replaced(text, "  d: {", "  dee: {"));
    step(text = replaced(text, "  e: {host: node2", "  e: {links: [dee], host: node2"));
    CHECK(patched == std::vector<bool>{false, true, true, true, true, true, true, true, true});
    CHECK(watch.held->services.at("e").links.size() == 1);

    SUBCASE("an edit that meets another entry is read from the parsed entries, and the next one patched again") {
        auto fleet_of = [&](const std::string& t) {
            step(t);
            return patched.back();
        };
        // e takes c's address: the whole read's error, said as it says it.
        auto clash = replaced(text, "10.128.2.4}", "10.128.2.2}");
        d.put("fleet.yaml", clash);
        auto said = watch.read(f);
        CHECK(said.find("10.128.2.2 is already the address of service c") != std::string::npos);
        CHECK(!fleet_of(text));  // after an error: whole
        CHECK(fleet_of(text = replaced(text, "c: {host: node2", "c: {host: node1")));  // the copy of it
        CHECK(fleet_of(text = replaced(text, "c: {host: node1", "c: {host: node2")));
        // dee, which e links to, taken out: e is an error.
        d.put("fleet.yaml", replaced(text, "  dee: {host: node1, networks: {mesh: {ipv4_address: 10.128.2.3}}}\n", ""));
        CHECK(watch.read(f).find("no service named \"dee\" to link to") != std::string::npos);
    }
    SUBCASE("replicas are read from the parsed entries") {
        CHECK(!([&] {
            step(text = replaced(text, "  e: {links: [dee], host: node2, networks: {mesh: {ipv4_address: 10.128.2.4}}}",
                                 "  e: {scale: 2, links: [dee], host: node2, networks: [mesh]}"));
            return patched.back();
        }()));
        CHECK(watch.held->services.count("e-2"));
    }
}

TEST_CASE("cache: a watch's random edits of entries, patched, give what a whole read gives") {
    // Entries a person writes, drawn from small pools so that they meet:
    // the same address, MAC or port twice, a bridge network on two hosts,
    // links and network_mode to entries that come and go, replicas, the
    // implicit network, and entries over several lines.
    std::mt19937 rng(7);
    auto pick = [&](size_t n) { return size_t(std::uniform_int_distribution<size_t>(0, n - 1)(rng)); };
    std::vector<std::pair<std::string, std::string>> entries;  // in file order
    auto another = [&] {  // mostly an entry there is
        return entries.empty() || pick(8) == 0 ? fmt::format("s{}", pick(100)) : entries[pick(entries.size())].first;
    };
    auto entry = [&](const std::string& name) {
        // Mostly valid: a bridge network's entries mostly on node1, rare links and shared sandboxes.
        auto kind = pick(7);
        bool bridged = kind == 0 || kind == 1 || kind == 5;
        std::vector<std::string> keys{fmt::format("host: node{}", bridged && pick(30) ? 1 : 1 + pick(2))};
        switch (kind) {
            case 0: break;  // on the implicit network
            case 1: keys.push_back("networks: [lan]"); break;
            case 2: keys.push_back(fmt::format("networks: {{mesh: {{ipv4_address: 10.128.1.{}}}}}", 2 + pick(16))); break;
            case 3: keys.push_back(fmt::format("networks: {{mesh: {{mac_address: '02:00:00:00:00:{:02x}'}}}}", pick(10))); break;
            case 6: keys.push_back(fmt::format("networks: {{mesh: {{link_local_ips: [169.254.0.{}]}}}}", 1 + pick(10))); break;
            case 4: keys.push_back("network_mode: none"); break;
            case 5: keys.push_back("networks: [mesh, lan]"); break;
        }
        if (kind != 4 && pick(4) == 0) keys.push_back(fmt::format("ports: ['{}:80']", 8080 + pick(8)));
        if (pick(10) == 0) keys.push_back(fmt::format("links: [{}]", another()));
        if (pick(16) == 0) keys = {fmt::format("network_mode: 'service:{}'", another()), keys.front()};
        if (kind != 2 && kind != 3 && kind != 6 && pick(10) == 0) keys.push_back(fmt::format("scale: {}", 1 + pick(2)));
        if (pick(3) == 0) {  // over several lines
            std::string out = "  " + name + ":\n";
            for (auto& k : keys) out += "    " + k + "\n";
            return out;
        }
        return fmt::format("  {}: {{{}}}\n", name, fmt::join(keys, ", "));
    };
    const std::string head = R"(name: fleet
networks:
  mesh: {driver: overlay, ipam: {config: [{subnet: 10.128.0.0/16}]}}
  lan: {}
hosts:
  node1: {address: 10.200.0.1}
  node2: {address: 10.200.0.2}
services:
)";
    for (int i = 0; i < 8; ++i) entries.emplace_back(fmt::format("s{}", i), entry(fmt::format("s{}", i)));
    Dir d;
    auto f = d.put("fleet.yaml", head);
    Watcher watch;
    size_t good = 0;
    for (int round = 0; round < 1500; ++round) {
        auto i = pick(entries.size() + 1);
        auto name = fmt::format("s{}", pick(12) ? round + 12 : pick(12));  // now and then one already there
        switch (entries.size() > 14 ? 1 + pick(3) : entries.size() < 4 ? 0 : pick(4)) {
            case 0:  // added (maybe by a name already there: the whole read's error)
                entries.insert(entries.begin() + long(std::min(i, entries.size())), {name, entry(name)});
                break;
            case 1:  // taken out
                if (i < entries.size()) entries.erase(entries.begin() + long(i));
                break;
            default:  // rewritten
                if (i < entries.size()) entries[i].second = entry(entries[i].first);
                break;
        }
        std::string text = head;
        for (auto& [_, e] : entries) text += e;
        d.put("fleet.yaml", text);
        auto whole = whole_read(f);
        INFO("round ", round, "\n", text);
        CHECK(watch.read(f, whole) == outcome(f, nullptr));
        good += bool(whole);
    }
    CHECK(watch.patched > good / 4);
}

TEST_CASE("cache: random edits read piecewise give what a whole read gives") {
  for (const std::string& base : {std::string(fleet), services_first()}) {
    Dir d;
    auto f = d.put("fleet.yaml", base);
    auto cache = load_cache();
    std::mt19937 rng(2026);
    auto pick = [&](size_t n) { return size_t(std::uniform_int_distribution<size_t>(0, n - 1)(rng)); };
    const std::vector<std::string> bits = {"\n", "  ", "    ", ": ", "{", "}", ", ", "x", "node1", "node2", "# note", "- ",
                                           "host: node2", "10.128.1.9", "  e: {host: node1}\n", "  b:\n", "services:\n", "'",
                                           "\"", "[", "]", "? ", "~", "\t", "      # z\n", "|\n", ">\n", "...\n", "---\n", "\r"};
    std::string text = base;
    size_t piecewise_reads = 0;
    Watcher watch;
    for (int round = 0; round < 400; ++round) {
        // Mostly from the last good text (as commits are), sometimes on top of a bad one.
        std::string next = text;
        // Byte edits that mostly break it, and edits a person makes: a host
        // swapped, a line added or taken out.
        auto line_start = [&] {
            std::vector<size_t> starts{0};
            for (size_t i = 0; i < next.size(); ++i)
                if (next[i] == '\n') starts.push_back(i + 1);
            return starts[pick(starts.size())];
        };
        for (size_t edits = 1 + pick(3); edits > 0; --edits) {
            size_t at = pick(next.size() + 1);
            switch (pick(6)) {
                case 0: next.insert(at, bits[pick(bits.size())]); break;
                case 1: next.erase(at, pick(12)); break;
                case 2: next.replace(at, pick(6), bits[pick(bits.size())]); break;
                case 3:
                    if (auto h = next.find("host: node", at); h != std::string::npos)
                        next[h + 10] = next[h + 10] == '1' ? '2' : '1';
                    break;
                case 4:
                    next.insert(line_start(), fmt::format("  s{}: {{host: node{}, networks: {{mesh: {{ipv4_address: 10.128.3.{}}}}}}}\n",
                                                          round, 1 + pick(2), 2 + round));
                    break;
                default:
                    if (auto from = line_start(); from < next.size()) next.erase(from, next.find('\n', from) - from + 1);
                    break;
            }
        }
        // The cache as a watch has it after reading the last good text.
        d.put("fleet.yaml", text);
        load({f}, given(), cache.get());
        std::map<std::string, yaml::Node> before;
        for (auto& [name, parsed] : cache->parsed) before.emplace(name, parsed.first);
        d.put("fleet.yaml", next);
        auto whole = outcome(f, nullptr);
        auto pieces = outcome(f, cache.get());
        INFO("round ", round, "\n", next);
        CHECK(pieces == whole);
        // A watch, which reads each text once and gives its projects back.
        CHECK(watch.read(f, whole_read(f)) == whole);
        if (cache->ready()) {
            text = next;  // it read: the next edits start from it
            // Read in pieces: a service not touched is the very node it was.
            piecewise_reads += std::any_of(before.begin(), before.end(), [&](auto& b) {
                auto it = cache->parsed.find(b.first);
                return it != cache->parsed.end() && it->second.first.is(b.second);
            });
        }
    }
    CHECK(piecewise_reads > 10);  // (the cache was in use: not only whole reads compared)
  }
}
