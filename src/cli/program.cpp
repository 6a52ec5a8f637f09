// Running a program and reading what it says (cli/program.hpp).
#include "cli/program.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/session.hpp"

extern char** environ;

namespace topo::cli {

int run_program(const std::vector<std::string>& argv, std::string& out, std::string& err) {
    int pout[2], perr[2];
    if (::pipe2(pout, O_CLOEXEC) != 0) throw UserError(fmt::format("pipe: {}", std::strerror(errno)));
    if (::pipe2(perr, O_CLOEXEC) != 0) {
        int e = errno;
        ::close(pout[0]), ::close(pout[1]);
        throw UserError(fmt::format("pipe: {}", std::strerror(e)));
    }
    // The child starts with no signal blocked (the watch blocks SIGTERM, SIGINT
    // and SIGHUP for its signalfd) and default handlers.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none), sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pout[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, perr[1], STDERR_FILENO);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(pout[1]), ::close(perr[1]);
    if (rc != 0) {
        ::close(pout[0]), ::close(perr[0]);
        throw UserError(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
    }
    // Both pipes at once: a program blocked writing one would never close the other.
    std::vector<pollfd> fds{{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}};
    std::string* into[] = {&out, &err};
    char buf[65536];
    for (int open = 2; open > 0;) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            break;  // (the pipes are closed below; the child then ends on a write)
        }
        for (size_t i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !fds[i].revents) continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                into[i]->append(buf, size_t(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            ::close(fds[i].fd), fds[i].fd = -1, --open;
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0) ::close(f.fd);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    err = err.substr(0, err.find('\n'));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

// A `.git` (a directory, or a worktree's file) here or in a parent.
bool in_checkout(std::filesystem::path dir) {
    std::error_code ec;
    for (;; dir = dir.parent_path()) {
        if (std::filesystem::exists(dir / ".git", ec)) return true;
        if (dir == dir.root_path() || dir.empty()) return false;
    }
}

}  // namespace

std::optional<GitFacts> git_facts(const std::string& file) {
    namespace fs = std::filesystem;
    std::error_code ec;
    auto path = fs::absolute(file, ec);
    if (ec) return std::nullopt;
    std::string dir = path.parent_path().string(), out, err;
    // Outside a checkout, no git is run (two processes per run of a watch).
    if (!std::getenv("GIT_DIR") && !in_checkout(path.parent_path())) return std::nullopt;
    try {
        if (run_program({"git", "-C", dir, "rev-parse", "HEAD"}, out, err) != 0) return std::nullopt;
        GitFacts g;
        g.revision = out.substr(0, out.find('\n'));
        std::string status;
        // --no-optional-locks: a status must not take the index lock from under a user's `git pull`.
        run_program({"git", "--no-optional-locks", "-C", dir, "status", "--porcelain", "--", path.string()}, status, err);
        g.modified = !status.empty();
        return g;
    } catch (const std::exception&) {  // no git on the machine
        return std::nullopt;
    }
}

}  // namespace topo::cli
