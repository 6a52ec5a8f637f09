// Man pages and shell completion, made from the CLI11 app itself
// (cmd_man.cpp): the help text the binary prints is their one source.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace topo::cli {

// `topo __man DIR` (hidden; the build runs it): topo.1, and topo-COMMAND.1
// for each command `topo --help` lists, written into DIR.
int cmd_man(const CLI::App& app, const std::string& dir);
// `topo completion bash|zsh`: a script that completes the commands, their
// options and the options' values, and the services of the manifest named
// on the command line being completed.
int cmd_completion(const CLI::App& app, const std::string& shell);

}  // namespace topo::cli
