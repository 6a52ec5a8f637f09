// What every command that touches a project needs: the manifest (if given),
// the project's name, the state directory and the kernel.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cli/options.hpp"
#include "kernel/kernel.hpp"
#include "manifest/manifest.hpp"
#include "model/project.hpp"
#include "reconcile/reconcile.hpp"
#include "state/store.hpp"

namespace topo::cli {

// An error already explained to the user: print it and exit 1.
class UserError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The manifest files a command reads: -f's, or (without -f) those `docker
// compose` would find; none is an error.
std::vector<std::string> manifest_files(const Options& o);
// How the options say a manifest is read (--project, --env-file, --profile,
// the services named).
manifest::LoadOptions load_options(const Options& o);

// The machine this process works on (the real one): the CLI reaches the kernel
// layer only through it and the interfaces it hands out.
Machine& machine();

struct Session {
    Options opts;
    StateDir state;
    std::unique_ptr<Kernel> kernel;
    std::optional<Project> project;  // set when -f was given
    std::string project_name;
    std::string host;
    // Held by a run that allocates from the host's pools, from before it
    // reads the other projects' records until its own is saved.
    std::optional<StateDir::Lock> host_lock = std::nullopt;

    // Loads the manifest (-f) or takes --project; throws ManifestError / UserError.
    // With `read_host_early` the host namespace's dumps begin first, on a thread
    // of their own (Kernel::prepare_read): only for a command that reads the
    // whole host without taking the project's lock (`plan`), since the lock's
    // name comes from the manifest and a read must not begin before the lock.
    static Session open(const Options& opts, bool need_manifest, bool read_host_early = false);
    std::optional<ProjectRecord> record() const { return state.load(project_name); }
    // What IPAM must leave to the host's other projects: their subnets and
    // ephemeral host ports, from their state records.
    struct Others {
        std::vector<Prefix> subnets;
        std::vector<uint16_t> ports;
    };
    Others others() const;
    // IPAM → desired → live → diff → plan, with the state file's allocations;
    // from a converged state, only what differs from it or drifted is read
    // (reconcile.hpp, compute_since), and with `since` it may be taken.
    Computed compute(HostState* converged = nullptr, const Focus& drifted = {}, const Since& since = {});
    // The project's objects on the host (by marker), and those the manifest references.
    HostState read_live();
    // The record to save after a successful apply.
    ProjectRecord next_record(const Computed& c) const;
};

}  // namespace topo::cli
