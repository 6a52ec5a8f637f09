#pragma once

#include <sys/types.h>

namespace topo::cli {
// The umask topo was started with (main sets 022 for itself); `topo exec`
// restores it for the user's command.
inline mode_t caller_umask = 022;
// Parses arguments, runs one command, prints errors in one place; returns the exit code.
int run(int argc, char** argv);
}  // namespace topo::cli
