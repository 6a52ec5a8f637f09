// The manifest reader rejects bad input with exact messages: file:line:col,
// key path, what is wrong and the fix. The cases are the hostile-input
// corpus's (tests/corpus/manifest and tests/corpus/limits: a manifest and
// the exact output of `topo apply` on it); here they run through the parser
// alone, without root. tests/integration/test_corpus.sh runs the whole
// corpus, host-dependent cases included, through the binary.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "manifest/manifest.hpp"

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

}  // namespace

TEST_CASE("manifest: the corpus's invalid manifests are rejected with every error, exactly worded") {
    size_t cases = 0;
    for (auto* kind : {"manifest", "limits"}) {
        for (auto& entry : fs::directory_iterator(fs::path(TOPO_SOURCE_DIR) / "tests/corpus" / kind)) {
            if (entry.path().extension() != ".yaml") continue;
            auto name = entry.path().filename().string();
            CAPTURE(name);
            ++cases;
            auto want = lines_of(slurp(fs::path(entry.path()).replace_extension(".err")));
            REQUIRE(!want.empty());
            // The last line is the CLI's count; the ones before it are the reader's.
            auto summary = want.back();
            want.pop_back();
            CHECK(summary == fmt::format("topo: error: the manifest has {} error(s); nothing was changed", want.size()));
            std::vector<std::string> got;
            try {
                topo::manifest::parse(slurp(entry.path()), name);
            } catch (const topo::manifest::ManifestError& e) {
                for (auto& err : e.errors()) got.push_back(err.str());
            }
            CHECK(got == want);
        }
    }
    CHECK(cases >= 50);
}

TEST_CASE("manifest: a document over 1 MiB is refused before it is parsed, at the first byte past the limit") {
    std::string big = "services:\n";
    for (int i = 0; big.size() <= (1 << 20); ++i) big += "  s" + std::to_string(i) + ": {}\n";
    CHECK_THROWS_WITH_AS(topo::manifest::parse(big, "big.yaml"),
                         "big.yaml:81515:8: (document): the manifest is more than 1048576 bytes (1 MiB), the most "
                         "topo reads; split it (-f takes several files)",
                         topo::manifest::ManifestError);
}
