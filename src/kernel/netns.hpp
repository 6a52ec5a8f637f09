// Named network namespaces, made and removed exactly as `ip netns add/del`
// does, so `ip netns exec <name>` works on topo's sandboxes and namespaces
// made by either tool live side by side:
//   - /run/netns is a shared mount point (bind-mounted onto itself if needed),
//     so a namespace mounted there is seen by every mount namespace;
//   - a namespace is a bind mount of /proc/thread-self/ns/net onto
//     /run/netns/<name>.
// topo's twist: `setup` runs inside the new namespace *before* it gets its
// name, so a namespace under /run/netns never exists without topo's marker.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernel/kernel.hpp"

namespace topo::netns {

inline constexpr const char* run_dir = "/run/netns";

void ensure_run_dir();
void create(const std::string& name, const std::function<void()>& setup_inside);
void remove(const std::string& name);  // absent is success
std::vector<std::string> list();       // names under /run/netns
// True for a file under /run/netns that is not a mounted namespace: the
// residue of a create that was killed between creating the file and mounting.
bool is_residue(const std::string& name);
int open_fd(const std::string& name);  // -1 if absent
// The namespace's identity (the nsfs inode under /run/netns/<name>); 0 if absent.
ino_t inode(const std::string& name);
// Every process and the inode of its network namespace: one walk over /proc
// (threads share their leader's namespace unless they setns, which topo's
// own threads undo before they end). Commands are read only for namespaces
// `named` is true for (none when it is unset): 2 files a process.
std::multimap<ino_t, Process> processes_by_netns(const std::function<bool(ino_t)>& named = {});

// Enter a namespace for the lifetime of this object (this thread only).
class Enter {
public:
    explicit Enter(int target_fd);
    ~Enter();
    Enter(const Enter&) = delete;

private:
    int self_;
};

}  // namespace topo::netns
