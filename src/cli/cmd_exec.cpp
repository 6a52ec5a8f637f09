// topo exec: run a command inside a sandbox, as `ip netns exec` does.
//
// The process joins the sandbox's network namespace, takes a private mount
// namespace (marked slave so nothing it mounts leaks back), mounts a sysfs that
// shows the sandbox's interfaces, bind-mounts every file of
// /etc/netns/<ns>/ over its namesake in /etc (hosts, resolv.conf), and then
// replaces itself with the command, so the exit code passes straight through.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/commands_impl.hpp"
#include "model/naming.hpp"

namespace topo::cli {

namespace {

std::string sys_error(const std::string& what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

void enter_sandbox(const std::string& ns) {
    auto path = "/run/netns/" + ns;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw UserError(sys_error(fmt::format("sandbox {} ({})", ns, path)));
    if (::setns(fd, CLONE_NEWNET) != 0) throw UserError(sys_error("setns " + ns));
    ::close(fd);
    if (::unshare(CLONE_NEWNS) != 0) throw UserError(sys_error("unshare mount namespace"));
    if (::mount("", "/", "none", MS_SLAVE | MS_REC, nullptr) != 0)
        throw UserError(sys_error("make / a slave mount"));
    // A sysfs of the new network namespace, so /sys/class/net shows the sandbox's links.
    ::umount2("/sys", MNT_DETACH);
    ::mount(ns.c_str(), "/sys", "sysfs", 0, nullptr);
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator("/etc/netns/" + ns, ec)) {
        auto target = "/etc/" + e.path().filename().string();
        if (!std::filesystem::exists(target)) continue;
        if (::mount(e.path().c_str(), target.c_str(), "none", MS_BIND, nullptr) != 0)
            throw UserError(sys_error(fmt::format("bind {} on {}", e.path().string(), target)));
    }
}

}  // namespace

int cmd_exec(const Options& o) {
    auto s = Session::open(o, false);
    if (o.command.empty()) throw UserError("no command given: topo exec -f FILE SERVICE -- CMD...");
    if (s.project) {
        auto it = s.project->services.find(o.service);
        if (it == s.project->services.end())
            throw UserError(fmt::format("no service {} in the manifest", o.service));
        if (it->second.mode == NetworkMode::Host)
            throw UserError(fmt::format("service {} has network_mode: host and no sandbox", o.service));
    }
    std::string service = o.service;
    if (s.project) {
        auto& svc = s.project->services.at(o.service);
        if (svc.mode == NetworkMode::Service) service = svc.mode_service;  // shares that sandbox
    }
    enter_sandbox(naming::netns(s.project_name, service));
    std::vector<char*> argv;
    for (auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::umask(caller_umask);
    ::execvp(argv[0], argv.data());
    throw UserError(sys_error("exec " + o.command[0]));
}

}  // namespace topo::cli
