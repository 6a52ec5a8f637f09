// Files topo manages (a sandbox's hosts and resolv.conf under /etc/netns/<ns>/).
//
// Written atomically (write to a temporary file, rename; no fsync: they are
// derived, and a file lost to a power cut is written again by the next apply)
// and only when the content differs. A file is topo's when its first
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
