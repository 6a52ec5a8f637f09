// The transition property over the fake kernel, for thousands of random pairs
// (tests/gen/manifest_gen.hpp): apply A, apply B, the next plan is empty;
// back to A, the next plan is empty. Each apply must converge in one run and
// never be refused by the (strict) fake kernel. A failure prints the seed
// (TOPO_GEN_SEED=<seed> TOPO_GEN_PAIRS=1 reruns exactly that pair), the
// edits, both manifests and what went wrong.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <cstdlib>
#include <random>

#include "gen/manifest_gen.hpp"
#include "kernel/fake.hpp"
#include "manifest/manifest.hpp"
#include "reconcile/execute.hpp"
#include "reconcile/reconcile.hpp"

using namespace topo;

namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

Computed compute_for(FakeKernel& k, const Project& p, const Addressing& prev) {
    PlanInput in;
    in.project = &p;
    in.project_name = p.name;
    in.previous = prev;
    return compute(k, in);
}

std::string plan_lines(const Plan& p) {
    std::string out;
    for (auto& c : p.changes) out += fmt::format("\n    {} {} {}", to_string(c.action), to_string(c.kind()), c.id());
    return out;
}

// Apply `p` and check convergence; "" when all is well, else what went wrong.
std::string step(FakeKernel& k, const Project& p, Addressing& addressing) {
    auto c = compute_for(k, p, addressing);
    if (!c.errors.empty()) return "plan refused: " + fmt::format("{}", fmt::join(c.errors, "; "));
    auto r = execute(k, c.plan.changes);
    if (!r.ok()) return fmt::format("apply failed: {}{}", *r.failure, plan_lines(c.plan));
    if (auto left = verify(k, c.desired); !left.empty())
        return fmt::format("not converged: {}", fmt::join(left, "; "));
    addressing = c.addressing;
    auto again = compute_for(k, p, addressing);
    if (!again.plan.empty()) return "the next plan is not empty:" + plan_lines(again.plan);
    return {};
}

}  // namespace

TEST_CASE("transitions: random manifests A → B → A each converge in one apply (fake kernel)") {
    const uint64_t seed = env_or("TOPO_GEN_SEED", 20261201), pairs = env_or("TOPO_GEN_PAIRS", 2000);
    int failures = 0;
    for (uint64_t i = 0; i < pairs && failures < 3; ++i) {
        std::mt19937_64 rng(seed + i);
        std::vector<std::string> edits;
        auto a = gen::random_spec(rng);
        auto b = gen::edit(a, rng, edits);
        auto ya = gen::to_yaml(a), yb = gen::to_yaml(b);
        auto report = [&](const std::string& at, const std::string& what) {
            ++failures;
            FAIL_CHECK(fmt::format("TOPO_GEN_SEED={} TOPO_GEN_PAIRS=1: {}: {}\nedits: {}\n--- A\n{}--- B\n{}", seed + i,
                                   at, what, fmt::join(edits, "; "), ya, yb));
        };
        Project pa, pb;
        try {
            pa = manifest::parse(ya, "a.yaml");
            pb = manifest::parse(yb, "b.yaml");
        } catch (const std::exception& e) {
            report("the generator wrote a manifest the reader refuses", e.what());
            continue;
        }
        FakeKernel k;
        Addressing addressing;
        for (auto [name, p] : {std::pair{"apply A", &pa}, {"apply B", &pb}, {"back to A", &pa}}) {
            if (auto err = step(k, *p, addressing); !err.empty()) {
                report(name, err);
                break;
            }
        }
    }
    CHECK(failures == 0);
}
