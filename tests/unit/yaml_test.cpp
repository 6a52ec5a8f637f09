// The YAML tree topo reads manifests into (manifest/yaml.hpp).
#include "manifest/yaml.hpp"

#include <doctest/doctest.h>

#include <string>

using topo::yaml::Error;
using topo::yaml::Node;
using topo::yaml::parse;

namespace {

// The message and 1-based "line:column" of the error parsing `text` gives.
std::string error_of(const std::string& text, topo::yaml::Limits limits = {}) {
    try {
        parse(text, 0, limits);
    } catch (const Error& e) {
        if (e.mark.line < 0) return e.what();
        return std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("yaml: maps, sequences and scalars, with positions") {
    auto n = parse("a: 1\nb: [x, 'y']\nc:\n  d: text\n");
    REQUIRE(n.IsMap());
    CHECK(n.size() == 3);
    CHECK(n["a"].Scalar() == "1");
    CHECK(n["b"].IsSequence());
    CHECK(n["b"][1].Scalar() == "y");
    CHECK_FALSE(n["b"][2]);        // past the end: undefined
    CHECK(n["c"]["d"].Scalar() == "text");
    CHECK(n["c"].mark().line == 3);  // 0-based: the map starts at "d" on line 4
    CHECK(n["c"].mark().column == 2);
    CHECK_FALSE(n["missing"]);
    CHECK_FALSE(n["a"]["x"]);      // a scalar has no keys
    CHECK(n.begin()->first.Scalar() == "a");  // document order
}

TEST_CASE("yaml: null is plain and untagged ~, null or nothing; quoted it is text") {
    auto n = parse("a:\nb: ~\nc: null\nd: 'null'\ne: \"\"\nf: !!null x\ng: NULL\n");
    CHECK(n["a"].IsNull());
    CHECK(n["b"].IsNull());
    CHECK(n["c"].IsNull());
    CHECK(n["d"].IsScalar());
    CHECK(n["d"].Scalar() == "null");
    CHECK(n["e"].IsScalar());
    CHECK(n["f"].IsNull());
    CHECK(n["g"].IsNull());
    CHECK(parse("").IsNull());
    CHECK(parse("# only a comment\n").IsNull());
}

TEST_CASE("yaml: duplicate keys are kept, the first one answers") {
    auto n = parse("{a: 1, a: 2}");
    CHECK(n.size() == 2);
    CHECK(n["a"].Scalar() == "1");
}

TEST_CASE("yaml: an alias is its anchor's node") {
    auto n = parse("x: &base {p: 1}\ny: *base\n");
    CHECK(n["y"].is(n["x"]));
    CHECK_FALSE(n["x"].is(n["x"]["p"]));
    CHECK(error_of("y: *nothing\n") == "1:4: the alias *nothing names no anchor defined before it");
}

TEST_CASE("yaml: << merges maps, and the map's own keys win") {
    auto n = parse(R"(base: &base {a: 1, b: 2}
more: &more {b: 3, c: 4}
one: {<<: *base, a: 10}
two:
  <<: [*base, *more]
  d: 5
quoted: {"<<": *base}
)");
    auto one = n["one"];
    CHECK(one.size() == 2);
    CHECK(one["a"].Scalar() == "10");
    CHECK(one["b"].Scalar() == "2");
    auto two = n["two"];
    CHECK(two["b"].Scalar() == "2");  // the first map merged wins
    CHECK(two["c"].Scalar() == "4");
    CHECK(two["d"].Scalar() == "5");
    CHECK(two.size() == 4);
    CHECK(n["quoted"]["<<"].IsMap());  // a quoted << is an ordinary key
    CHECK(error_of("a: {<<: [1]}") == "1:10: << merges a map, or a list of maps, into this map; this is neither");
}

TEST_CASE("yaml: errors name the place and what libyaml expected") {
    CHECK(error_of("a: [1, 2\nb: 3\n") ==
          "2:2: did not find expected ',' or ']' (while parsing a flow sequence that starts at 1:4)");
    CHECK(error_of("a: 1\n---\nb: 2\n") ==
          "2:1: a manifest is one YAML document; remove this second one (or merge the files with -f)");
    // Bytes that are not UTF-8: at their line and column (libyaml gives a byte offset).
    CHECK(error_of(std::string("a: 1\nbé: \xff\n")) ==
          "2:5: invalid leading UTF-8 octet 0xff; a manifest is UTF-8 text: save it as UTF-8");
}

TEST_CASE("yaml: nesting and expansion are limited while parsing") {
    std::string deep(70, '[');
    // The limits are reported where they are crossed.
    CHECK(error_of(deep) == "1:66: the document is nested more than 64 levels deep (aliases followed); flatten it");
    // Each level doubles the nodes an alias stands for ("billion laughs").
    std::string laughs = "a: &a [x, x]\n";
    for (char c = 'b'; c <= 'z'; ++c)
        laughs += std::string(1, c) + ": &" + c + " [*" + char(c - 1) + ", *" + char(c - 1) + "]\n";
    CHECK(error_of(laughs) == "16:12: the document expands to more than 200000 nodes (YAML aliases?); write the values out or shorten it");
    // An alias deep enough to carry its anchor past the depth limit.
    topo::yaml::Limits small{3, 1000};
    CHECK(error_of("a: &a [[1]]\nb: [*a]\n", small) ==
          "2:5: the document is nested more than 3 levels deep (aliases followed); flatten it");
    CHECK(error_of("a: &a [[1]]\nb: *a\n", small) == "no error");
}

TEST_CASE("yaml: collections made for merging documents take their position") {
    auto base = parse("a: 1\n");
    auto m = Node::map(base, {{base.begin()->first, base["a"]}});
    CHECK(m.IsMap());
    CHECK(m["a"].Scalar() == "1");
    CHECK(m.mark().line == base.mark().line);
    auto s = Node::sequence(base, {base["a"]});
    CHECK(s.size() == 1);
}
