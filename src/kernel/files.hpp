// Files topo manages (a sandbox's hosts and resolv.conf under /etc/netns/<ns>/).
//
// Written atomically (write to a temporary file, rename; no fsync: they are
// derived, and a file lost to a power cut is written again by the next apply)
// and only when the content differs. A file is topo's when its first
// line is the marker written by reconcile/names, a symbolic link when it
// points into the project's shared files (model/naming.hpp); the directory is
// created with the first file and removed with the last.
#pragma once

#include <optional>
#include <string>

#include "model/text.hpp"

namespace topo::files {

std::optional<std::string> read(const std::string& path);  // nullopt: absent
// What is at a path topo manages: a file's content, or where a symbolic link
// points (not followed); nullopt when there is nothing.
struct Entry {
    std::string content;
    std::string link;  // set: a symbolic link
};
std::optional<Entry> read_entry(const std::string& path);
void write_atomic(const std::string& path, const Text& content);  // throws KernelError
// A symbolic link at `path` to `target`, put in place by rename as a file is.
void link_atomic(const std::string& path, const std::string& target);  // throws KernelError
void remove(const std::string& path);  // also removes the directory when it becomes empty

}  // namespace topo::files
