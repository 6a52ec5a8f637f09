// JSON forms of the model, with nlohmann-json: kernel objects and changes (for
// `plan -o json` and saved plans) and addressing (for the state file).
// from_json is the exact inverse of to_json, so a saved plan is carried out
// exactly as it was shown.
#pragma once

#include <nlohmann/json.hpp>

#include "model/addressing.hpp"
#include "model/change.hpp"
#include "model/objects.hpp"

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

}  // namespace topo
