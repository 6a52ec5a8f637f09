// JSON forms of the model, with nlohmann-json: kernel objects and changes (for
// `plan -o json` and saved plans) and addressing (for the state file).
// from_json is the exact inverse of to_json, so a saved plan is carried out
// exactly as it was shown.
#pragma once

#include <nlohmann/json.hpp>

#include "model/addressing.hpp"
#include "model/change.hpp"
#include "model/objects.hpp"
#include "model/read_scope.hpp"

namespace topo {

nlohmann::json object_to_json(const Object& o);
Object object_from_json(const nlohmann::json& j);  // throws std::runtime_error

nlohmann::json change_to_json(const Change& c);
Change change_from_json(const nlohmann::json& j);

nlohmann::json state_to_json(const HostState& s);
HostState state_from_json(const nlohmann::json& j);

nlohmann::json addressing_to_json(const Addressing& a);
Addressing addressing_from_json(const nlohmann::json& j);

// A stable digest of a live state (ifindexes left out): what a saved plan was computed from.
std::string fingerprint(const HostState& s);

// A plan saved by `topo plan --out`, to be carried out exactly by `topo apply
// PLAN`, and only on a host whose state still has `fingerprint`.
struct SavedPlan {
    std::string project, host;
    std::vector<std::string> manifests;
    ReadScope scope;           // what to read to compare the fingerprint
    std::string fingerprint;   // of the live state the plan was computed from
    std::vector<Change> changes;
    HostState desired;
    Addressing addressing;
};
nlohmann::json saved_plan_to_json(const SavedPlan& p);
SavedPlan saved_plan_from_json(const nlohmann::json& j);  // throws std::runtime_error

}  // namespace topo
