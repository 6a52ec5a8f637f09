// topo: declarative network reconciler. See cli/commands.hpp for the commands.
#include "cli/commands.hpp"

#include "model/trace.hpp"

#include <sys/stat.h>

int main(int argc, char** argv) {
    // Everything topo creates has the mode it names (0644 files, 0755
    // directories), whatever the caller's umask: under 077 hosts files were
    // unreadable to a sandbox's non-root programs, under 000 the state
    // directory was world-writable. `topo exec` gives the caller's back.
    topo::cli::caller_umask = ::umask(022);
    int rc = topo::cli::run(argc, argv);
    topo::trace::report("run (whole)", topo::trace::started);
    return rc;
}
