// Other programs topo runs: git, for `plan --base git:…` and the revision
// `topo watch` records of a manifest in a checkout. (Never ip or nft: the
// kernel is reached through libnl and libnftnl.)
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace topo::cli {

// Runs `argv` (found on PATH) and returns its exit status, with its standard
// output in `out` and the first line of its standard error in `err`. Throws
// UserError when it cannot be started.
int run_program(const std::vector<std::string>& argv, std::string& out, std::string& err);

// The commit checked out where `file` is, and whether the file differs from
// it; nullopt outside a checkout (or without git).
struct GitFacts {
    std::string revision;
    bool modified = false;
};
std::optional<GitFacts> git_facts(const std::string& file);

}  // namespace topo::cli
