// judge (model/observation.hpp): what a read returns of what was observed,
// by the scope's rules and the ownership rules of model/ownership.hpp. The
// same function for the real host and the fake one.
#include "model/observation.hpp"

#include <fmt/format.h>

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "model/naming.hpp"
#include "model/ownership.hpp"

namespace topo {

namespace {

bool is_link_local(const IpAddr& a) { return a.is_v6() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80; }

// The link-local address the kernel gives a link of this MAC (EUI-64, the
// default addrgenmode): the kernel's own, never topo's. Other fe80::
// addresses in topo's sandbox are its link_local_ips.
IpAddr kernel_link_local(const Mac& m) {
    IpAddr a;
    a.family = 6;
    a.bytes = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, uint8_t(m.bytes[0] ^ 0x02), m.bytes[1], m.bytes[2], 0xff, 0xfe, m.bytes[3], m.bytes[4], m.bytes[5]};
    return a;
}

// The name of the directory directly under the root that holds `path`, or "".
std::string dir_of(const std::string& path) {
    const std::string root = netns_files_root;
    if (!path.starts_with(root)) return {};
    auto slash = path.find('/', root.size());
    if (slash == std::string::npos || path.find('/', slash + 1) != std::string::npos) return {};
    return path.substr(root.size(), slash - root.size());
}

struct Judge {
    const ReadScope& scope;
    HostState out;
    std::map<std::string, Link> host_veths;  // the project's, by name: their other ends are folded in
    std::unordered_set<std::string> ours;    // host links that are the project's

    void host(Observation& seen) {
        std::unordered_set<std::string> named(scope.foreign_links.begin(), scope.foreign_links.end());
        // Asked for by name: those links, and the bridges they are ports of.
        std::optional<std::unordered_set<std::string>> only;
        if (scope.only_host_links) {
            only.emplace(scope.only_host_links->begin(), scope.only_host_links->end());
            for (auto& l : seen.host_links)
                if (scope.only_host_links->count(l.name) && !l.master.empty()) only->insert(l.master);
        }
        for (auto& l : seen.host_links) {
            if (only && !only->count(l.name)) continue;
            auto owner = ownership::host_link(l.owner, l.name, l.mac, scope.project, named.count(l.name) > 0);
            if (!owner) continue;
            l.owner = std::move(*owner);  // "": read, never changed
            if (l.owner.empty()) {
                out.add(std::move(l));
                continue;
            }
            ours.insert(l.name);
            if (l.kind == LinkKind::Veth) {
                auto name = l.name;
                host_veths.emplace(std::move(name), std::move(l));
            } else {
                out.add(std::move(l));
            }
        }
        for (auto& a : seen.host_addresses)
            if (ours.count(a.link) && !is_link_local(a.prefix.addr)) out.add(std::move(a));
        // Entries are topo's when the device they are on is; of a device whose
        // entries were asked for one by one, only those asked for.
        auto asked = [&](const std::string& dev) -> const ReadScope::Entries* {
            auto it = scope.only_entries.find(dev);
            return it == scope.only_entries.end() ? nullptr : &it->second;
        };
        for (auto& f : seen.fdb)
            if (auto* q = asked(f.dev); ours.count(f.dev) && (!q || q->forwarding.count(f.mac))) out.add(std::move(f));
        for (auto& n : seen.neighbours)
            if (auto* q = asked(n.dev); ours.count(n.dev) && (!q || q->neighbours.count(n.ip))) out.add(std::move(n));
        for (auto& r : seen.host_routes)
            if (ours.count(r.dev)) out.add(std::move(r));
    }

    void sandbox(Observation::Sandbox& sb, const std::unordered_set<std::string>& wanted) {
        if (scope.only_sandboxes && !scope.only_sandboxes->count(sb.name)) return;
        // A create killed before the mount: an empty file, collected like a namespace.
        if (sb.residue) return out.add(Netns{sb.name, naming::project_marker(scope.project) + "residue"});
        if (!sb.lo_marker) return;
        auto owner = ownership::sandbox(*sb.lo_marker, scope.project, wanted.count(sb.name) > 0);
        if (!owner) return;
        if (owner->empty()) return out.add(Netns{sb.name, ""});  // read, never changed
        const auto& marker = *owner;
        out.add(Netns{sb.name, marker});
        std::set<IpAddr> kernels;
        for (auto& l : sb.links)
            if (l.mac) kernels.insert(kernel_link_local(*l.mac));
        for (auto& l : sb.links) {
            if (l.kind == LinkKind::Veth) {
                // Both ends of topo's endpoints carry the same marker, which no
                // other pair has: a veth a user put between two sandboxes names
                // a link of the other sandbox by an index this fold ignores.
                auto it = l.peer ? host_veths.find(l.peer->name) : host_veths.end();
                if (it == host_veths.end() || it->second.owner != l.owner) continue;
                it->second.peer = Veth{.ns = sb.name, .name = l.name, .mac = l.mac, .owner = l.owner, .up = l.up};
            } else if (l.kind == LinkKind::Macvlan) {
                if (l.owner.empty()) l.owner = marker;  // inside topo's sandbox: topo's
                out.add(std::move(l));
            }
        }
        for (auto& a : sb.addresses)
            if (a.link != "lo" && !(a.prefix.len == 64 && kernels.count(a.prefix.addr))) out.add(std::move(a));
        for (auto& r : sb.routes) out.add(std::move(r));
    }

    // A directory under the root where a file topo wants, or wrote, is
    // missing. Whose it is: its marker says; one without a marker that holds
    // nothing (a run killed before it marked it) holds nothing of anyone's,
    // and is taken. One that holds somebody else's files is a conflict when
    // topo wants to write into it, and is left alone otherwise.
    bool owned(const Observation::Dir& d, bool wanted) {
        if (d.symlink) {  // never followed (kernel/files.cpp)
            if (wanted)
                out.conflicts.push_back(fmt::format(
                    "directory {} is a symbolic link or not a directory, and is not topo's; topo never follows one: "
                    "remove it, or choose another service name",
                    d.path));
            return false;
        }
        if (!ownership::directory(d.marker, d.others, scope.project)) {
            if (wanted)
                out.conflicts.push_back(fmt::format(
                    "directory {} exists and is not topo's (it is not marked as project {}'s, and has files in it); "
                    "topo never writes into a directory it did not create: move it away, or choose another service "
                    "name",
                    d.path, scope.project));
            return false;
        }
        return true;
    }

    // What a run killed while writing a sandbox's files leaves in a directory
    // of topo's: the directory alone, or a temporary file without the file it
    // was to become. Shown as an empty file of the project's, so that apply
    // writes it and destroy removes it, temporary file and directory included.
    void unfinished(const Observation::Dir& d) {
        auto owner = naming::project_marker(scope.project);
        for (auto& path : d.unfinished) out.add(File{path, "", {}, owner});
        if (!d.others && d.unfinished.empty()) out.add(File{d.path + "/hosts", "", {}, owner});
    }

    // Files: the ones the manifest wants, and any marked as the project's in
    // the project's directories (a removed service's, or all of them on
    // destroy). A file topo did not write is never read as topo's (so never
    // deleted); one it wants to write over is shown as it is, to be
    // replaced, and one that is not topo's is shown with no owner: a
    // conflict, never written over.
    void files(Observation& seen) {
        const std::string root = netns_files_root;
        const auto prefix = root + scope.project + "-";
        const auto shared = naming::shared_files_dir(scope.project);
        std::unordered_set<std::string> wanted(scope.files.begin(), scope.files.end());
        std::unordered_set<std::string> present;
        for (auto& f : seen.files) {
            bool want = wanted.count(f.path) > 0;
            bool looked = !scope.only_sandboxes && seen.listed &&
                          (f.path.starts_with(prefix) || f.path.starts_with(root + shared + "/"));
            if (!want && !looked) continue;
            present.insert(f.path);
            if (auto owner = ownership::file(f.content.str(), f.link, scope.project, want))
                out.add(File{std::move(f.path), std::move(f.content), std::move(f.link), std::move(*owner)});
        }
        if (scope.only_sandboxes || !seen.listed) return;
        // Directories are looked into only where a file is missing: one whose
        // files are topo's is topo's. Those of sandboxes the project has or
        // had, and those of the files it wants.
        std::unordered_set<std::string> known(scope.sandboxes.begin(), scope.sandboxes.end());
        for (auto& [key, o] : out.objects)
            if (key.kind == Kind::Netns && !std::get<Netns>(o).owner.empty()) known.insert(key.id);
        std::unordered_set<std::string> wanted_dirs, look;
        for (auto& path : scope.files) {
            auto name = dir_of(path);
            if (name.empty()) continue;
            if (!present.count(path)) look.insert(name);
            wanted_dirs.insert(std::move(name));
        }
        for (auto& d : seen.dirs) {
            auto name = d.path.substr(root.size());
            if (d.shared) {
                if (name != shared) continue;
                if (look.count(name)) owned(d, wanted_dirs.count(name) > 0);
                unfinished(d);
                continue;
            }
            bool missing = !present.count(d.path + "/hosts") || !present.count(d.path + "/resolv.conf");
            if ((look.count(name) || (known.count(name) && missing)) && owned(d, wanted_dirs.count(name) > 0))
                unfinished(d);
        }
    }
};

}  // namespace

HostState judge(Observation seen, const ReadScope& scope) {
    Judge j{scope, {}, {}, {}};
    j.host(seen);
    std::unordered_set<std::string> wanted(scope.sandboxes.begin(), scope.sandboxes.end());
    for (auto& sb : seen.sandboxes)
        if (sb.name.starts_with(scope.project + "-")) j.sandbox(sb, wanted);
    for (auto& [_, v] : j.host_veths) j.out.add(std::move(v));
    if (scope.nft && seen.table && seen.table->name == naming::nft_table(scope.project)) {
        seen.table->owner = ownership::table(seen.table->owner, scope.project);  // "": read, never changed
        j.out.add(std::move(*seen.table));
    }
    std::unordered_set<std::string> keys(scope.sysctls.begin(), scope.sysctls.end());
    for (auto& s : seen.sysctls)
        if (keys.count(s.key)) j.out.add(std::move(s));
    j.files(seen);
    return std::move(j.out);
}

}  // namespace topo
