// topo: declarative network reconciler. See cli/commands.hpp for the commands.
#include "cli/commands.hpp"

#include "model/trace.hpp"

int main(int argc, char** argv) {
    topo::trace::Span t("run (whole)");
    return topo::cli::run(argc, argv);
}
