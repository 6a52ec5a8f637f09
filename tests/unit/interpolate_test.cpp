// Compose's interpolation and .env files (manifest/interpolate.hpp), and
// interpolated manifests through the parser.
#include <doctest/doctest.h>

#include "manifest/interpolate.hpp"
#include "manifest/manifest.hpp"

using namespace topo;
using namespace topo::manifest;

namespace {

Lookup from(std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

std::string expand(std::string_view text, std::set<std::string>* unset = nullptr) {
    std::set<std::string> u;
    auto out = interpolate(text, from({{"SET", "v"}, {"EMPTY", ""}, {"PORT", "8080"}}), u);
    if (unset) *unset = u;
    return out;
}

std::string error_of(std::string_view text) {
    try {
        expand(text);
    } catch (const InterpolationError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("interpolate: every form of the Compose specification") {
    CHECK(expand("plain") == "plain");
    CHECK(expand("$SET ${SET} x${SET}y") == "v v xvy");
    CHECK(expand("${PORT}:80") == "8080:80");
    CHECK(expand("$$SET costs $$5") == "$SET costs $5");
    CHECK(expand("${UNSET:-d} ${EMPTY:-d} ${SET:-d}") == "d d v");
    CHECK(expand("${UNSET-d} ${EMPTY-d} ${SET-d}") == "d  v");
    CHECK(expand("${UNSET:+r} ${EMPTY:+r} ${SET:+r}") == "  r");
    CHECK(expand("${UNSET+r} ${EMPTY+r} ${SET+r}") == " r r");
    CHECK(expand("${UNSET:-${ALSO:-${SET}}}") == "v");
    CHECK(expand("${SET:-${UNSET_TOO}}") == "v");
    CHECK(expand("${UNSET:-a:b-c}") == "a:b-c");
    CHECK(expand("${UNSET:-}") == "");
    std::set<std::string> unset;
    CHECK(expand("a${NOPE}b$NOPE2", &unset) == "ab");
    CHECK(unset == std::set<std::string>{"NOPE", "NOPE2"});
    // A default that is not used warns of nothing; one that is, does.
    expand("${SET:-${QUIET}}", &unset);
    CHECK(unset.empty());
    expand("${UNSET:-${LOUD}}", &unset);
    CHECK(unset == std::set<std::string>{"LOUD"});
}

TEST_CASE("interpolate: errors say what is wrong") {
    CHECK(error_of("${UNSET:?give a port}") == "variable UNSET is not set: give a port");
    CHECK(error_of("${EMPTY:?}") == "variable EMPTY is empty: it is required");
    CHECK(error_of("${EMPTY?x}") == "(no error)");
    CHECK(error_of("${UNSET?x}") == "variable UNSET is not set: x");
    CHECK(error_of("cost $5") == "a $ starts $VAR, ${VAR} or ${VAR:-default}; write $$ for a $ of its own");
    CHECK(error_of("${SET") == "this ${ is not closed by a }");
    CHECK(error_of("${}") == "${ is followed by a variable's name (letters, digits and _)");
    CHECK(error_of("${SET:x}") ==
          "${SET...} is not a form Compose knows: use ${SET}, ${SET:-default}, ${SET:?message} or ${SET:+replacement}");
}

TEST_CASE(".env: comments, export, quotes, escapes and references, as Compose reads them") {
    auto env = read_env_file("# a comment\n"
                             "\n"
                             "export A=1\n"
                             "B = two words  # a comment\n"
                             "C='${A} stays'\n"
                             "D=\"line\\nnext ${A}\"\n"
                             "E=\n"
                             "F=${A}${FROM_ENV}\n"
                             "G=${NOT_SET:-dflt}\n",
                             from({{"FROM_ENV", "e"}}));
    CHECK(env["A"] == "1");
    CHECK(env["B"] == "two words");
    CHECK(env["C"] == "${A} stays");
    CHECK(env["D"] == "line\nnext 1");
    CHECK(env["E"] == "");
    CHECK(env["F"] == "1e");
    CHECK(env["G"] == "dflt");
    CHECK_THROWS_WITH_AS(read_env_file("A=1\nnot a line\n", from({})), "line 2: not VARIABLE=value", InterpolationError);
    CHECK_THROWS_WITH_AS(read_env_file("1A=1\n", from({})), "line 1: \"1A\" is not a variable's name",
                         InterpolationError);
    CHECK_THROWS_WITH_AS(read_env_file("A=\"open\n", from({})), "line 1: a \" is not closed", InterpolationError);
}

TEST_CASE("a manifest's values are interpolated, keys are not; errors and unset variables name their place") {
    LoadOptions opts;
    opts.variables = std::map<std::string, std::string>{{"WEB_PORT", "9090"}, {"N", "3"}};
    auto p = parse(R"(name: shop
networks:
  front:
    ipam: {config: [{subnet: "${SUBNET:-10.77.0.0/24}"}]}
services:
  web:
    networks: [front]
    ports: ["${WEB_PORT:-8080}:80", "${OTHER}7000:7000"]
)",
                   "m.yaml", opts);
    CHECK(p.networks.at("front").ipv4->subnet.str() == "10.77.0.0/24");
    auto& ports = p.services.at("web").ports;
    REQUIRE(ports.size() == 2);
    CHECK(ports[0].published->first == 9090);
    CHECK(ports[1].published->first == 7000);
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].path == "services.web.ports[1]");
    CHECK(p.warnings[0].mark.line == 8);
    CHECK(p.warnings[0].message ==
          "variable OTHER is not set, and is an empty string here; set it (in the environment or .env), or give a "
          "default: ${OTHER:-default}");
    try {
        parse("services:\n  web:\n    ports: [\"${PORT:?set PORT to the port web listens on}:80\"]\n", "m.yaml", opts);
        FAIL("no error");
    } catch (const ManifestError& e) {
        REQUIRE(e.errors().size() == 1);
        CHECK(e.errors()[0].mark.line == 3);
        CHECK(e.errors()[0].mark.column == 13);
        CHECK(e.errors()[0].path == "services.web.ports[0]");
        CHECK(std::string(e.errors()[0].message) == "variable PORT is not set: set PORT to the port web listens on");
    }
}

TEST_CASE("profiles: a service of a profile is left out unless the profile is active or it is named") {
    const char* text = R"(name: p
services:
  web: {}
  debug: {profiles: [debug, tools]}
  metrics: {profiles: [ops]}
)";
    LoadOptions opts;
    opts.variables = std::map<std::string, std::string>{};
    auto none = parse(text, "m.yaml", opts);
    CHECK(none.services.count("web"));
    CHECK_FALSE(none.services.count("debug"));
    CHECK_FALSE(none.services.count("metrics"));
    opts.profiles = {"tools"};
    auto tools = parse(text, "m.yaml", opts);
    CHECK(tools.services.count("debug"));
    CHECK_FALSE(tools.services.count("metrics"));
    opts.profiles.clear();
    opts.variables = std::map<std::string, std::string>{{"COMPOSE_PROFILES", "ops,other"}};
    CHECK(parse(text, "m.yaml", opts).services.count("metrics"));
    opts.variables = std::map<std::string, std::string>{};
    opts.named_services = {"debug"};
    auto named = parse(text, "m.yaml", opts);
    CHECK(named.services.count("debug"));
    CHECK_FALSE(named.services.count("metrics"));
}

TEST_CASE("a service only on internal networks that publishes ports: a warning, as Compose accepts it") {
    LoadOptions opts;
    opts.variables = std::map<std::string, std::string>{};
    auto p = parse("networks: {b: {internal: true}}\nservices:\n  a:\n    networks: [b]\n    ports: [\"80:80\"]\n",
                   "m.yaml", opts);
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].path == "services.a.ports");
    CHECK(p.warnings[0].message == "service a is only on internal networks, so its published ports go nowhere and "
                                   "nothing is published; add a network that is not internal to publish them");
}
