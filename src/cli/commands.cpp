#include "cli/commands.hpp"

#include <fmt/format.h>

namespace topo::cli {
int run(int, char**) {
    fmt::print("topo {}\n", TOPO_VERSION);
    return 0;
}
}  // namespace topo::cli
