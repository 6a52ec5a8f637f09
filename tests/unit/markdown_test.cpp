// The Markdown plan of a review comment (cli/output.hpp): a summary first,
// grouped by network and service, long groups folded, never past its limit.
#include <doctest/doctest.h>

#include "cli/output.hpp"
#include "manifest_helpers.hpp"

using namespace topo;

namespace {

Plan plan_from_nothing(const Project& p) {
    auto c = test::plan_on_empty_host(p);
    REQUIRE(c.errors.empty());
    return c.plan;
}

}  // namespace

TEST_CASE("markdown plan: summary first, networks before services, long groups folded, the limit kept") {
    std::string text = "name: shop\nnetworks:\n  front: {ipam: {config: [{subnet: 10.30.0.0/24}]}}\n"
                       "  back: {ipam: {config: [{subnet: 10.31.0.0/24}]}}\nservices:\n"
                       "  web: {networks: [front, back]}\n";
    for (int i = 0; i < 30; ++i) text += "  s" + std::to_string(i) + ": {networks: [back]}\n";
    auto p = test::parse_manifest(text);
    auto plan = plan_from_nothing(p);
    auto md = cli::plan_markdown(plan, &p);
    auto summary = md.find("**Plan: "), table = md.find("| network front |"), first_group = md.find("#### network front");
    CHECK(summary != std::string::npos);
    CHECK(summary < table);
    CHECK(table < first_group);
    CHECK(first_group < md.find("#### service web"));
    // 36 groups (2 networks, 31 services, the firewall, the host, the shared files): the
    // table is folded; no group here has more than 12 changes.
    CHECK(md.find("<details><summary>36 groups</summary>") != std::string::npos);
    CHECK(md.find("left out") == std::string::npos);

    auto small = cli::plan_markdown(plan, &p, 3000);
    CHECK(small.size() <= 3000);
    CHECK(small.find("more groups (") != std::string::npos);
    CHECK(small.find("left out to keep this under 3000 characters") != std::string::npos);
    // Without the project, a bridge's address is still the network's when the plan creates the bridge.
    CHECK(cli::plan_markdown(plan).find("| network back |") != std::string::npos);
}
