#include "model/naming.hpp"

#include <fmt/format.h>

namespace topo::naming {

uint64_t hash(std::string_view s) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

static std::string link_name(char kind, std::string_view project, std::string_view object) {
    // 2 + 4 + 6 = 12 characters: well under IFNAMSIZ-1 (15).
    return fmt::format("t{}{:04x}{:06x}", kind, hash(project) & 0xffff,
                       hash(fmt::format("{}/{}", project, object)) & 0xffffff);
}

std::string netns(std::string_view project, std::string_view service) {
    return fmt::format("{}-{}", project, service);
}
std::string bridge(std::string_view project, std::string_view network) {
    return link_name('b', project, network);
}
Mac bridge_mac(std::string_view bridge_name) {
    uint64_t h = hash(bridge_name);
    Mac m;
    m.bytes[0] = 0x06;  // locally administered, unicast
    for (int i = 1; i < 6; ++i) m.bytes[i] = uint8_t(h >> (8 * (i - 1)));
    return m;
}
std::string vxlan(std::string_view project, std::string_view network) {
    return link_name('x', project, network);
}
std::string veth(std::string_view project, std::string_view service, std::string_view network) {
    return link_name('v', project, fmt::format("{}/{}", service, network));
}
std::string nft_table(std::string_view project) { return fmt::format("topo-{}", project); }

uint32_t default_vni(std::string_view project, std::string_view network) {
    uint32_t v = uint32_t(hash(fmt::format("{}/{}", project, network)) % 16777215u);
    return v + 1;
}

std::string project_marker(std::string_view project) { return fmt::format("topo/{}/", project); }
std::string network_marker(std::string_view project, std::string_view network) {
    return fmt::format("topo/{}/net/{}", project, network);
}
std::string sandbox_marker(std::string_view project, std::string_view service) {
    return fmt::format("topo/{}/svc/{}", project, service);
}
std::string endpoint_marker(std::string_view project, std::string_view service,
                            std::string_view network) {
    return fmt::format("topo/{}/svc/{}/{}", project, service, network);
}
bool owned_by(std::string_view marker, std::string_view project) {
    return marker.starts_with(project_marker(project));
}

std::string file_marker(std::string_view project) {
    return fmt::format("# topo: managed file of project {}; `topo apply` rewrites it, edits are lost", project);
}
bool has_file_marker(std::string_view content, std::string_view project) {
    return content.starts_with(file_marker(project) + "\n");
}

std::string shared_files_dir(std::string_view project) { return fmt::format(".topo-{}", project); }
bool links_to_shared_files(std::string_view target, std::string_view project) {
    return target.starts_with(fmt::format("../{}/", shared_files_dir(project)));
}

}  // namespace topo::naming
