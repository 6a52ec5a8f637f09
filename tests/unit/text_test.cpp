#include "model/text.hpp"

#include <doctest/doctest.h>

#include <memory>

using namespace topo;

namespace {

// "abc" + "defg" cut out of one shared string, + "h" owned.
Text sliced() {
    auto shared = std::make_shared<const std::string>("xxabcdefgyy");
    Text t;
    t.append(shared, 2, 5);
    t.append(shared, 5, 9);
    t.append(std::string("h"));
    return t;
}

}  // namespace

TEST_CASE("Text: slices read as the joined string") {
    auto t = sliced();
    CHECK(t.size() == 8);
    CHECK(t.str() == "abcdefgh");
    CHECK(t.slices().size() == 3);
    CHECK(Text("abc").str() == "abc");
    CHECK(Text().empty());
}

TEST_CASE("Text: equality compares bytes, not how they are sliced") {
    auto t = sliced();
    CHECK(t == std::string("abcdefgh"));
    CHECK(t == Text("abcdefgh"));
    Text other;
    other.append(std::string("abcd"));
    other.append(std::string("efgh"));
    CHECK(t == other);
    CHECK_FALSE(t == std::string("abcdefgX"));  // same size, last byte differs
    CHECK_FALSE(t == std::string("abcdefg"));
    CHECK(t != Text("abcdefgX"));
    CHECK(Text() == std::string());
    CHECK(Text() == Text(""));
}

TEST_CASE("Text: empty slices are dropped") {
    auto shared = std::make_shared<const std::string>("abc");
    Text t;
    t.append(shared, 1, 1);
    t.append(std::string());
    CHECK(t.empty());
    CHECK(t.slices().empty());
}

TEST_CASE("Text: starts_with looks across slices") {
    auto t = sliced();
    CHECK(t.starts_with("abcd"));
    CHECK(t.starts_with("abcdefgh"));
    CHECK(t.starts_with(""));
    CHECK_FALSE(t.starts_with("abd"));
    CHECK_FALSE(t.starts_with("abcdefghi"));
}

TEST_CASE("Text: appending a Text shares its slices") {
    auto t = sliced();
    Text u("<");
    u.append(t);
    u.append(std::string(">"));
    CHECK(u.str() == "<abcdefgh>");
    CHECK(u.size() == 10);
}
