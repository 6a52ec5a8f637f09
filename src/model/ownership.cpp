// The rules of ownership (model/ownership.hpp), one function per kind of
// object the host is read for.
#include "model/ownership.hpp"

#include "model/naming.hpp"

namespace topo::ownership {

bool left_by_a_killed_run(const std::string& alias, const std::string& name, const std::optional<Mac>& mac,
                          const std::string& project) {
    auto prefix = naming::bridge(project, "").substr(2, 4);
    return alias.empty() && name.size() == 15 && name[0] == 't' && name.substr(2, 4) == prefix &&
           mac == naming::link_mac(name);
}

std::optional<std::string> host_link(const std::string& alias, const std::string& name, const std::optional<Mac>& mac,
                                     const std::string& project, bool named) {
    if (naming::owned_by(alias, project)) return alias;
    if (left_by_a_killed_run(alias, name, mac, project)) return naming::project_marker(project) + "unmarked";
    if (named) return std::string();
    return std::nullopt;
}

std::optional<std::string> sandbox(const std::string& lo_marker, const std::string& project, bool wanted) {
    // topo marks `lo` before the namespace gets its name: one without the
    // mark was never topo's, whatever its name.
    if (naming::owned_by(lo_marker, project)) return lo_marker;
    if (wanted) return std::string();
    return std::nullopt;
}

std::string table(const std::string& comment, const std::string& project) {
    return naming::owned_by(comment, project) ? comment : std::string();
}

std::optional<std::string> file(const std::string& content, const std::string& link, const std::string& project,
                                bool wanted) {
    bool marked = link.empty() ? naming::has_file_marker(content, project) : naming::links_to_shared_files(link, project);
    if (marked) return naming::project_marker(project);
    if (wanted) return std::string();
    return std::nullopt;
}

bool directory(const std::string& marker, bool holds_others, const std::string& project) {
    return marker.empty() ? !holds_others : naming::owned_by(marker, project);
}

}  // namespace topo::ownership
