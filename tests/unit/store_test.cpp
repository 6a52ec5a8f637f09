#include "state/store.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/file.hpp"
#include "state/serialize.hpp"
#include "test_helpers.hpp"

using namespace topo;
namespace fs = std::filesystem;

namespace {
struct TempDir {
    fs::path path = fs::temp_directory_path() / ("topo-store-test-" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() { fs::remove_all(path); }
};
}  // namespace

TEST_CASE("StateDir: allocations survive a save and load") {
    TempDir t;
    StateDir s(t.path.string());
    ProjectRecord r;
    r.project = "shop";
    r.manifests = {"/srv/net.yaml"};
    r.addressing.networks["front"].subnet4 = test::pfx("10.0.42.0/24");
    r.addressing.endpoints[{"web", "front"}].v4 = test::ip("10.0.42.2");
    r.addressing.ephemeral_ports["web/tcp/80/"] = 49153;
    s.save(r);
    auto back = s.load("shop");
    REQUIRE(back);
    CHECK(back->addressing.endpoint("web", "front")->v4->str() == "10.0.42.2");
    CHECK(back->addressing.ephemeral_ports.at("web/tcp/80/") == 49153);
    CHECK(s.projects() == std::vector<std::string>{"shop"});
    // Atomic writes leave no temporary files behind.
    for (auto& e : fs::directory_iterator(t.path)) CHECK(e.path().filename().string().find(".topo-tmp") == std::string::npos);
}

TEST_CASE("record_from_text: what save wrote is read back whole by another reader; unknown keys are skipped") {
    TempDir t;
    ProjectRecord r;
    r.project = "shop";
    r.host = "node1";
    r.manifests = {"/srv/net.yaml", "/srv/override.yaml"};
    auto& n = r.addressing.networks["front"];
    n.subnet4 = test::pfx("10.0.42.0/24"), n.gateway4 = test::ip("10.0.42.1");
    n.subnet6 = test::pfx("fd00:42::/64"), n.gateway6 = test::ip("fd00:42::1");
    r.addressing.networks["back"].subnet4 = test::pfx("10.0.43.0/24");
    auto& web = r.addressing.endpoints[{"web", "front"}];
    web.v4 = test::ip("10.0.42.2"), web.v6 = test::ip("fd00:42::2"), web.mac = Mac::from_ipv4(*web.v4), web.ifname = "eth0";
    r.addressing.endpoints[{"db", "back"}].ifname = "eth1";
    r.addressing.endpoints[{"(host)", "front"}].v4 = test::ip("10.0.42.250");
    r.addressing.ephemeral_ports["web/tcp/80/"] = 49153;
    StateDir(t.path.string()).save(r);
    auto back = StateDir(t.path.string()).load("shop");  // not the writer's remembered copy
    REQUIRE(back);
    CHECK(*back == r);

    auto text = R"({"format_version": 2, "project": "p", "later": {"a": [1, {"b": "c"}]},
                    "addressing": {"networks": {"n": {"subnet4": "10.1.0.0/16", "new": "x"}},
                                   "endpoints": [{"service": "s", "network": "n", "v4": "10.1.0.2", "new": [1]}]}})";
    auto q = record_from_text(text);
    CHECK(q.addressing.networks.at("n").subnet4->str() == "10.1.0.0/16");
    CHECK(q.addressing.endpoint("s", "n")->v4->str() == "10.1.0.2");
    CHECK_THROWS_WITH(record_from_text(R"({"project": "p", "addressing": {"endpoints": [{"service": "s", "network": "n", "v4": "10.1.0.999"}]}})"),
                      "bad v4 value \"10.1.0.999\"");
    CHECK_THROWS_WITH(record_from_text(R"({"project": "p"})"), "no addressing");
    CHECK_THROWS_WITH(record_from_text(R"({"project": 7, "addressing": {}})"), "no project");
}

TEST_CASE("StateDir: a damaged state file is a clear error, never a silent renumbering") {
    TempDir t;
    StateDir s(t.path.string());
    std::ofstream(t.path / "shop.json") << "{\"project\": \"shop\", \"addressing\": {\"networks\": {";
    auto path = (t.path / "shop.json").string();
    CHECK_THROWS_WITH_AS(s.load("shop"),
                         doctest::Contains(("state file " + path + " is damaged").c_str()), StateError);
    CHECK_THROWS_WITH_AS(s.load("shop"),
                         doctest::Contains("run `topo recover --project shop` to rebuild it from what the kernel holds"),
                         StateError);
    CHECK_FALSE(s.load("other"));  // absent is not an error
    CHECK(s.set_aside("shop") == path + ".damaged");
    CHECK(fs::exists(path + ".damaged"));
    CHECK_FALSE(s.load("shop"));
}

TEST_CASE("StateDir: remove takes a killed save's temporary file with the record") {
    TempDir t;
    StateDir s(t.path.string());
    s.save({"shop", {}, "", {}});
    std::ofstream(io::temp_path_for(s.record_path("shop"))) << "{";
    s.remove("shop");
    CHECK(fs::is_empty(t.path));
}

TEST_CASE("StateDir: a held lock times out with a message naming the project") {
    TempDir t;
    StateDir s(t.path.string());
    auto held = s.lock("shop", std::chrono::milliseconds(10));
    CHECK_THROWS_WITH_AS(s.lock("shop", std::chrono::milliseconds(50)),
                         doctest::Contains("project shop is locked by another topo run"), StateError);
    CHECK_NOTHROW(s.lock("other", std::chrono::milliseconds(50)));
}

TEST_CASE("StateDir: a record changed by another writer is read again, not remembered") {
    TempDir t;
    StateDir s(t.path.string());
    ProjectRecord r;
    r.project = "shop";
    r.addressing.ephemeral_ports["web/tcp/80/"] = 49153;
    s.save(r);
    REQUIRE(s.load("shop")->addressing.ephemeral_ports.at("web/tcp/80/") == 49153);
    // Another run replaces the file (a rename, as every save does).
    auto path = s.record_path("shop");
    auto text = *io::read_file(path);
    auto changed = text.substr(0, text.find("49153")) + "49154" + text.substr(text.find("49153") + 5);
    io::write_file_atomic(path, changed);
    CHECK(s.load("shop")->addressing.ephemeral_ports.at("web/tcp/80/") == 49154);
    // An edit in place, same length: the modification time says so.
    usleep(20000);
    std::ofstream(path, std::ios::in | std::ios::out) << text;
    CHECK(s.load("shop")->addressing.ephemeral_ports.at("web/tcp/80/") == 49153);
    // Removed: no record, though one was remembered.
    s.remove("shop");
    CHECK_FALSE(s.load("shop"));
    // Saved again after removal: written, though the same text was written before.
    s.save(r);
    CHECK(fs::exists(path));
}

TEST_CASE("saved plan: what is written is read back whole; another kind or version is refused by name") {
    SavedPlan p;
    p.project = "shop";
    p.host = "node1";
    p.manifests = {"/srv/net.yaml"};
    p.scope.project = "shop";
    p.scope.files = {"/etc/netns/shop-web/hosts"};
    p.scope.sandboxes = {"shop-web"};
    p.fingerprint = "abc";
    p.changes.push_back({Action::Create, std::nullopt, Netns{"shop-web", "topo/shop/svc/web"}, {}, {}});
    p.desired.add(Netns{"shop-web", "topo/shop/svc/web"});
    p.addressing.networks["front"].subnet4 = test::pfx("10.0.42.0/24");
    auto back = saved_plan_from_json(nlohmann::json::parse(saved_plan_to_json(p).dump()));
    CHECK(back.project == "shop");
    CHECK(back.host == "node1");
    CHECK(back.manifests == p.manifests);
    CHECK(back.scope.files == p.scope.files);
    CHECK(back.scope.sandboxes == p.scope.sandboxes);
    CHECK(back.fingerprint == "abc");
    REQUIRE(back.changes.size() == 1);
    CHECK(back.changes[0].id() == "shop-web");
    CHECK(back.desired.objects.size() == 1);
    CHECK(back.addressing == p.addressing);
    auto j = saved_plan_to_json(p);
    j["format_version"] = 2;
    CHECK_THROWS_WITH(saved_plan_from_json(j), "format_version 2 is not one this topo reads (1)");
    j["kind"] = "terraform-plan";
    CHECK_THROWS_WITH(saved_plan_from_json(j), "not a topo saved plan");
}
