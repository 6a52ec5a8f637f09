// topo_gen_manifests SEED COUNT DIR: writes COUNT transition cases for the
// real-kernel test (tests/integration/test_transitions.sh): DIR/<seed>.{a,b}.yaml,
// DIR/<seed>.{a,b}.no-icc (the networks with enable_icc false, one a line)
// and DIR/<seed>.edits, for seeds SEED … SEED+COUNT-1,
// the same pairs the unit test makes from those seeds.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include <fmt/format.h>

#include "gen/manifest_gen.hpp"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: topo_gen_manifests SEED COUNT DIR\n");
        return 2;
    }
    uint64_t seed = std::strtoull(argv[1], nullptr, 10), count = std::strtoull(argv[2], nullptr, 10);
    std::string dir = argv[3];
    for (uint64_t i = 0; i < count; ++i) {
        std::mt19937_64 rng(seed + i);
        std::vector<std::string> edits;
        auto a = topo::gen::random_spec(rng);
        auto b = topo::gen::edit(a, rng, edits);
        for (auto [side, spec] : {std::pair{"a", &a}, {"b", &b}}) {
            std::ofstream(fmt::format("{}/{}.{}.yaml", dir, seed + i, side)) << topo::gen::to_yaml(*spec);
            // The networks whose sandboxes must not reach each other (enable_icc: false).
            std::ofstream no_icc(fmt::format("{}/{}.{}.no-icc", dir, seed + i, side));
            for (auto& [name, n] : spec->networks)
                if (!n.icc) no_icc << name << "\n";
        }
        std::ofstream(fmt::format("{}/{}.edits", dir, seed + i)) << fmt::format("{}\n", fmt::join(edits, "; "));
    }
    return 0;
}
