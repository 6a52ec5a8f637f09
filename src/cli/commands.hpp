#pragma once

namespace topo::cli {
// Parses arguments, runs one command, prints errors in one place; returns the exit code.
int run(int argc, char** argv);
}  // namespace topo::cli
