// Projects from manifest text, and what a first apply of them would plan on
// an empty fake host: for the unit tests of what comes after the reader.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "kernel/fake.hpp"
#include "manifest/manifest.hpp"
#include "reconcile/reconcile.hpp"

namespace topo::test {

// The text parsed as m.yaml, with no variables from the environment.
inline Project parse_manifest(std::string_view text) {
    manifest::LoadOptions o;
    o.variables = std::map<std::string, std::string>{};
    return manifest::parse(text, "m.yaml", o);
}

// compute() on an empty host: the addressing, desired state and plan of a first apply.
inline Computed plan_on_empty_host(const Project& p) {
    FakeKernel k;
    PlanInput in;
    in.project = &p;
    in.project_name = p.name;
    return compute(k, in);
}

}  // namespace topo::test
