// topo_gen_manifests SEED COUNT DIR: writes COUNT transition cases for the
// real-kernel test (tests/integration/test_transitions.sh): DIR/<seed>.a.yaml,
// DIR/<seed>.b.yaml and DIR/<seed>.edits, for seeds SEED … SEED+COUNT-1,
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
        std::ofstream(fmt::format("{}/{}.a.yaml", dir, seed + i)) << topo::gen::to_yaml(a);
        std::ofstream(fmt::format("{}/{}.b.yaml", dir, seed + i)) << topo::gen::to_yaml(b);
        std::ofstream(fmt::format("{}/{}.edits", dir, seed + i)) << fmt::format("{}\n", fmt::join(edits, "; "));
    }
    return 0;
}
