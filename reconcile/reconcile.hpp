// The reconciler's steps, each a function over values and the kernel
// interface: compute (IPAM → desired → read live → diff → plan) and verify.
// The CLI strings them together; `topo plan` and `topo apply` share compute().
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernel/kernel.hpp"
#include "model/change.hpp"
#include "model/project.hpp"
#include "reconcile/desired.hpp"
#include "reconcile/ipam.hpp"

namespace topo {

// A part of the host: some sandboxes (everything in them, and the host ends
// of their veths), some host links (with their addresses), some files and
// the project's nftables table or not; sysctls are always part of it.
// A run's changes have one (what they can have affected), and so does the
// drift `topo watch` hears of.
struct Focus {
    std::set<std::string> sandboxes, host_links, files;
    bool nft = false;  // the project's nftables table
    // Entries of a host device that changed, or that drifted, compared one
    // by one (a device in host_links has all of its entries covered; an
    // overlay's VXLAN device has thousands): a VXLAN device's forwarding
    // entries by MAC and neighbour entries by address, as a read asks for
    // them, and routes through the host's macvlan link by key.
    std::set<std::string> entry_devices;
    std::map<std::string, ReadScope::Entries> entry_gets;
    std::set<ObjectKey> entry_routes;

    Focus() = default;
    explicit Focus(const std::vector<Change>& changes);
    void merge(const Focus& other);
    // A host link by name: a veth's host end stands for its sandbox (it is
    // read whole only with it), found in `state`.
    void add_host_link(const HostState& state, const std::string& name);
    // One forwarding entry (by MAC) or neighbour entry (by address) of a device.
    void add_entry(const std::string& dev, const std::optional<Mac>& mac, const std::optional<IpAddr>& ip);
    // Whether that entry is one of this focus's (its device's, or named).
    bool covers_entry(const std::string& dev, const std::optional<Mac>& mac, const std::optional<IpAddr>& ip) const;
    // Whether `o` is read back by a scope limited to this focus.
    // (`key`: o's, when the caller has it: an id is a formatted string.)
    bool covers(const Object& o, const ObjectKey* key = nullptr) const;
    HostState within(const HostState& s) const;
    // `base` narrowed to this focus: these sandboxes, these files, and the host
    // links named, changed (`changes`) or in `desired` that it covers.
    ReadScope scope(const ReadScope& base, const HostState& desired, const std::vector<Change>& changes) const;
};

// What every run needs: the project (or, to destroy, only its name), what
// was allocated before, and what the host's other projects hold.
struct PlanInput {
    const Project* project = nullptr;  // null: destroy (nothing desired)
    std::string project_name;
    std::string host;
    Addressing previous;                // allocations from the state file
    // Not loaded: the state file holds what the watch kept (Since::addressing).
    bool previous_kept = false;
    std::vector<Prefix> other_subnets;  // other topo projects' networks on this host
    std::vector<uint16_t> other_ports;  // host ports other topo projects publish
    std::string host_resolv_conf;       // the host's /etc/resolv.conf
    std::string files_root = "/etc/netns";
    // Remove a bridge even when other projects' sandboxes (or anything else)
    // are still attached to it (`destroy --force`); without it, that is an error.
    bool force = false;
    // Publish a host port even where a program of the host listens on it
    // (`--take-ports`); without it, that is an error.
    bool take_ports = false;
};

struct Computed {
    Addressing addressing;
    DesiredContext context;  // what the desired state was worked out with
    Desired desired;
    HostState live;  // with `converged`: only the part of the host that was read
    Plan plan;
    std::vector<std::string> errors;  // the plan cannot be applied while any is here
    // The state file already says `addressing` (a watch's run that changed
    // no allocation): it need not be written, nor read to be restored.
    bool record_kept = false;
};

// Each is the same three steps: desire (IPAM, then the desired state), read
// the part of the host to compare, and compare (diff, the checks against the
// host's facts, order). They differ in what they read.
//
// The whole host's part: `plan`, `apply`, `destroy`, and the watch's full runs.
Computed compute(Kernel& kernel, const PlanInput& in);
// `topo watch` after a run that converged on `converged`: the host is taken
// to hold it still, except in `drifted` (what its events named since), so
// only what the manifest changed and what drifted is read and compared: a
// change costs the same on a host of 10 sandboxes or 1000.
//
// With `since` (a watch that kept what `converged` was worked out from, and
// knows which services its manifest's change touched), the desired state is
// `converged` changed where those services changed (desired_since): the run
// then costs what the change touches on an overlay of 5,000 sandboxes too.
// `converged` is taken into the result's desired state when it is.
struct Since {
    const Project* project = nullptr;  // what `converged` was worked out from
    // Taken, where IPAM changes only the touched services' (allocate_since).
    Addressing* addressing = nullptr;
    const DesiredContext* context = nullptr;
    // The services (manifest entries) the change touched; nothing: not known.
    std::optional<std::set<std::string>> touched;
};
Computed compute_since(Kernel& kernel, const PlanInput& in, HostState& converged, const Focus& drifted,
                       const Since& since = {});
// A targeted run (`topo apply -f F SERVICE...`, as `docker compose up
// SERVICE`): only these services' sandboxes are read and changed, with the
// project-wide objects they need (networks, the nftables table, the shared
// hosts files). Other sandboxes keep their addresses and their published
// ports, and a network is only created, never changed: a change that would
// touch the other sandboxes is refused. No services: compute().
Computed compute_services(Kernel& kernel, const PlanInput& in, const std::set<std::string>& services);

// Read the host again and list what still differs from `desired` (empty: converged):
// all of it, or with `changes`, the sandboxes and files those changes touched.
std::vector<std::string> verify(Kernel& kernel, const Desired& desired, const std::vector<Change>* changes = nullptr);

// After a rollback of `changes`: read back what they touched and list what
// differs from before the run (each change's `before`, or its absence).
// Empty: the host is, as far as the run reached, exactly as it was.
std::vector<std::string> restored(Kernel& kernel, const Desired& desired, const std::vector<Change>& changes);

}  // namespace topo
