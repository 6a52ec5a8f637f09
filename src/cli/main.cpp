// topo: declarative network reconciler. See cli/commands.hpp for the commands.
#include "cli/commands.hpp"

int main(int argc, char** argv) { return topo::cli::run(argc, argv); }
