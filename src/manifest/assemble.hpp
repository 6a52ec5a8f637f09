// One Compose model out of a project's files, as `docker compose config`
// builds it before anything is interpreted: the files merged in order, then
// `include:`, then every service's `extends:`, then profiles. Internal to the
// manifest layer; ARCHITECTURE.md, "Compose files", says which of Compose's
// rules this follows and where topo is stricter.
#pragma once

#include <string>
#include <vector>

#include "manifest/interpolate.hpp"
#include "manifest/reader.hpp"

namespace topo::manifest {

// `over` merged onto `base` by Compose's rules: maps key by key; lists
// appended, an item equal to one already there once (a port, a DNS
// server, an alias); `command`, `entrypoint` and a healthcheck's `test`
// replaced; a service's `networks` as a list on one side and a map on the
// other merged as maps; a null over a map (`front:` with nothing under it)
// keeps the map; any other value replaced. A value tagged `!reset` takes
// its key out; one tagged `!override` replaces instead of merging.
yaml::Node merge(const yaml::Node& base, const yaml::Node& over, const std::string& key = "");

// The merged files' tree with `include`, `extends` and profiles applied;
// undefined with the errors in `r`. `vars` interpolates files read on the
// way (an included project's own env files under them).
yaml::Node assemble(Reader& r, const yaml::Node& merged, const Lookup& vars, const LoadOptions& opts);

}  // namespace topo::manifest
