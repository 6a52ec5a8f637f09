// One parser per part of the manifest; each fills in the model and reports
// problems to the Reader, never stopping at the first.
#pragma once

#include <set>

#include "manifest/reader.hpp"

namespace topo::manifest {

void parse_network(Reader& r, const std::string& name, const yaml::Node& n, Network& net);
// `hosts`: each host's own unicast underlay address, one per host, all of one family.
void parse_hosts(Reader& r, const yaml::Node& n, Project& p);
void parse_service(Reader& r, const std::string& name, const yaml::Node& n, Service& s);
void parse_ports(Reader& r, const yaml::Node& n, const std::string& path, std::vector<Port>& out);
// `expose`: checked, nothing else (a sandbox's ports are open to its networks).
void parse_expose(Reader& r, const yaml::Node& n, const std::string& path);
// Cross-references and uniqueness, once everything is read.
void validate(Reader& r, Project& p, const yaml::Node& root);
// For a project patched in place (manifest.cpp, patched()): whether the
// entries `fresh` (validated on their own, with what they name, in `q`)
// would meet the `others` (all valid together) in what validate() checks
// across services, or one of the others names an entry `touched` (taken
// out or put in). True is not an error: the whole read says whether it is.
bool meets_others(const Project& others, const Project& q, const std::set<std::string>& fresh,
                  const std::set<std::string>& touched);

bool valid_name(const std::string& s);  // service and network names

// Replicas (manifest/replicas.cpp): --scale over the manifest's; the checks
// while a replicated service is still one; then each made its replicas.
void apply_scale(Reader& r, Project& p, const std::map<std::string, int>& scale);
void check_replicas(Reader& r, const Project& p);
void expand_replicas(Project& p);

}  // namespace topo::manifest
