// Plain files, below both the kernel layer and the state directory: whole
// reads, and atomic writes (a reader sees the old file or the new one,
// never a mix). What topo writes under /etc/netns goes through
// kernel/files.hpp instead, which never follows a symbolic link.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace topo::io {

class FileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The whole file; nullopt when it cannot be opened (absent, most often).
std::optional<std::string> read_file(const std::string& path);
// The rest of what `fd` holds, read to its end; `fd` is closed.
std::string read_fd(int fd);

// The temporary file write_file_atomic (and kernel/files.cpp) use for `path`:
// a run killed while writing leaves this one name, which the next write
// replaces.
std::string temp_path_for(const std::string& path);

// Synced: on disk before the call returns (the state record). Replaceable: a
// file topo derives and rewrites whenever it differs, where an fsync per file
// would cost a disk flush each.
enum class Durability { Synced, Replaceable };

// Write `content` to `path` atomically (temporary file, rename; synced: fsync
// of the file and of its directory). Throws FileError naming the file.
void write_file_atomic(const std::string& path, const std::string& content,
                       Durability durability = Durability::Synced);

}  // namespace topo::io
