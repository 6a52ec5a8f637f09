// Files topo manages (a sandbox's hosts and resolv.conf under /etc/netns/<ns>/).
//
// Written atomically (write to a temporary file, fsync, rename, fsync the
// directory) and only when the content differs. A file is topo's when its first
// line is the marker written by reconcile/names; the directory is created with
// the first file and removed with the last.
#pragma once

#include <optional>
#include <string>

#include "model/text.hpp"

namespace topo::files {

std::optional<std::string> read(const std::string& path);  // nullopt: absent
void write_atomic(const std::string& path, const Text& content);  // throws KernelError
void remove(const std::string& path);  // also removes the directory when it becomes empty

}  // namespace topo::files
