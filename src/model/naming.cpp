// The names topo gives kernel objects and the markers it puts on them
// (model/naming.hpp): hashed link names, MACs, markers and their parsing.
#include "model/naming.hpp"

#include <fmt/format.h>

#include <vector>

namespace topo::naming {

namespace {

constexpr uint64_t fnv_offset = 14695981039346656037ull;

// FNV-1a over more text: hashing "a" then "b" is hashing "ab".
uint64_t hash_more(uint64_t h, std::string_view s) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

// Names are made for every endpoint of every plan (3000 at 1000 services):
// hashed in pieces and written out by hand, with no formatting or joining.
void put_hex(std::string& out, uint64_t v, int digits) {
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; --i) out += hex[(v >> (4 * i)) & 0xf];
}

// "t" + kind + 4 hex digits of the project's hash + 9 of "project/object..."'s:
// 15 characters, IFNAMSIZ-1. 36 bits of the object: two of a project's 3000
// veths share a name once in ~15,000 projects of 1000 services (24 bits, as
// before, made that a few percent); desired_state() refuses the rest by name.
std::string link_name(char kind, std::string_view project, std::initializer_list<std::string_view> object) {
    uint64_t of_project = hash_more(fnv_offset, project);
    uint64_t h = hash_more(of_project, "/");
    for (size_t i = 0; i < object.size(); ++i) h = hash_more(i ? hash_more(h, "/") : h, object.begin()[i]);
    std::string out;
    out.reserve(15);
    out += 't';
    out += kind;
    put_hex(out, of_project & 0xffff, 4);
    put_hex(out, h & 0xfffffffffull, 9);
    return out;
}

// Joined by hand: these run several times per sandbox in every plan, and
// fmt::format's parsing and dispatch cost three times the copying.
std::string concat(std::initializer_list<std::string_view> parts) {
    size_t size = 0;
    for (auto p : parts) size += p.size();
    std::string out;
    out.reserve(size);
    for (auto p : parts) out += p;
    return out;
}

}  // namespace

uint64_t hash(std::string_view s) { return hash_more(fnv_offset, s); }

std::string netns(std::string_view project, std::string_view service) {
    return concat({project, "-", service});
}
std::string bridge(std::string_view project, std::string_view network) {
    return link_name('b', project, {network});
}
Mac bridge_mac(std::string_view bridge_name) {
    uint64_t h = hash(bridge_name);
    Mac m;
    m.bytes[0] = 0x06;  // locally administered, unicast
    for (int i = 1; i < 6; ++i) m.bytes[i] = uint8_t(h >> (8 * (i - 1)));
    return m;
}
std::string vxlan(std::string_view project, std::string_view network) {
    return link_name('x', project, {network});
}
std::string host_shim(std::string_view project, std::string_view network) {
    return link_name('m', project, {network});
}
std::string veth(std::string_view project, std::string_view service, std::string_view network) {
    return link_name('v', project, {service, network});
}
std::string nft_table(std::string_view project) { return concat({"topo-", project}); }

uint32_t default_vni(std::string_view project, std::string_view network) {
    uint32_t v = uint32_t(hash(fmt::format("{}/{}", project, network)) % 16777215u);
    return v + 1;
}

std::string project_marker(std::string_view project) { return concat({"topo/", project, "/"}); }
std::string network_marker(std::string_view project, std::string_view network) {
    return concat({"topo/", project, "/net/", network});
}
std::string sandbox_marker(std::string_view project, std::string_view service) {
    return concat({"topo/", project, "/svc/", service});
}
std::string endpoint_marker(std::string_view project, std::string_view service,
                            std::string_view network) {
    return concat({"topo/", project, "/svc/", service, "/", network});
}
bool owned_by(std::string_view marker, std::string_view project) {
    return marker.starts_with(project_marker(project));
}

std::optional<Marker> Marker::parse(std::string_view text) {
    if (!text.starts_with(marker_prefix)) return std::nullopt;
    std::vector<std::string_view> parts;
    for (auto rest = text.substr(marker_prefix.size());;) {
        auto slash = rest.find('/');
        parts.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) break;
        rest = rest.substr(slash + 1);
    }
    auto bad = [](std::string_view part) { return part.empty(); };
    Marker m;
    m.project = std::string(parts[0]);
    if (m.project.empty()) return std::nullopt;
    if (parts.size() == 2 && parts[1].empty()) return m;  // "topo/shop/"
    if (parts.size() == 3 && parts[1] == "net" && !bad(parts[2])) {
        m.kind = Kind::Network;
        m.network = std::string(parts[2]);
        return m;
    }
    if ((parts.size() == 3 || parts.size() == 4) && parts[1] == "svc" && !bad(parts[2])) {
        m.kind = parts.size() == 3 ? Kind::Sandbox : Kind::Endpoint;
        m.service = std::string(parts[2]);
        if (parts.size() == 4) {
            if (bad(parts[3])) return std::nullopt;
            m.network = std::string(parts[3]);
        }
        return m;
    }
    return std::nullopt;
}

std::string Marker::str() const {
    switch (kind) {
        case Kind::Project: return project_marker(project);
        case Kind::Network: return network_marker(project, network);
        case Kind::Sandbox: return sandbox_marker(project, service);
        case Kind::Endpoint: return endpoint_marker(project, service, network);
    }
    return {};
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
