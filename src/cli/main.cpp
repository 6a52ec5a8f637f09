// topo: declarative network reconciler. See cli/commands.hpp for the commands.
#include "cli/commands.hpp"

#include "model/trace.hpp"

int main(int argc, char** argv) {
    int rc = topo::cli::run(argc, argv);
    topo::trace::report("run (whole)", topo::trace::started);
    return rc;
}
