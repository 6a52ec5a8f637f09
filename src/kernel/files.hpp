// Files topo manages (a sandbox's hosts and resolv.conf under /etc/netns/<ns>/).
//
// Written atomically (write to a temporary file, rename; no fsync: they are
// derived, and a file lost to a power cut is written again by the next apply)
// and only when the content differs. A file is topo's when its first
// line is the marker written by reconcile/names, a symbolic link when it
// points into the project's shared files (model/naming.hpp). The directory is
// created with the first file, marked as topo's by an extended attribute
// (dir_marker, holding the project's marker: a file in it would be bound over
// /etc by `ip netns exec`), and removed with the last file.
#pragma once

#include <optional>
#include <string>

#include "model/text.hpp"

namespace topo::files {

// What is at a path topo manages: a file's content, or where a symbolic link
// points (not followed); nullopt when there is nothing.
struct Entry {
    std::string content;
    std::string link;  // set: a symbolic link
};
std::optional<Entry> read_entry(const std::string& path);
// `owner` (the project's marker) goes into the directory's marker when the
// directory has none yet.
void write_atomic(const std::string& path, const Text& content, const std::string& owner);  // throws KernelError
// A symbolic link at `path` to `target`, put in place by rename as a file is.
void link_atomic(const std::string& path, const std::string& target, const std::string& owner);  // throws KernelError
void remove(const std::string& path);  // also removes the directory when it becomes empty

// The extended attribute that marks a directory under /etc/netns as topo's
// (trusted.*: only root sets or reads one).
inline constexpr const char* dir_marker = "trusted.topo.owner";

// What a directory under a root holds, as far as ownership goes. Looked at
// only where a file topo wants is missing (read.cpp): a directory whose
// files are topo's is topo's.
struct DirInfo {
    bool exists = false;
    bool symlink = false;   // a symbolic link or not a directory: never looked into
    std::string marker;     // the marker's value; empty when there is none
    bool others = false;    // it holds something besides topo's temporary files
};
DirInfo inspect_dir(const std::string& dir);

}  // namespace topo::files
