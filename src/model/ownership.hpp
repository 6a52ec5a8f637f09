// Whose is what a read of the host found: the rules of ownership, as pure
// functions over what was observed (a link's ifalias and MAC, a namespace's
// `lo` marker, a table's comment, a file's first line, a directory's
// marker). The real kernel's reader (kernel/read.cpp) and the fake's
// (kernel/fake.cpp) both decide by these, so the unit tests exercise the
// rules the host is read by.
//
// The one rule behind them all: ownership is the marker, never the name. An
// object that only carries topo's name is somebody else's: read when the
// project wants that name (so the diff refuses it as a conflict) with no
// owner, and never changed.
#pragma once

#include <optional>
#include <string>

#include "model/ip.hpp"

namespace topo::ownership {

// A link of the host namespace, by its ifalias (`alias`), name and MAC:
// nullopt when the read leaves it out; else the owner it is read with
// ("" = not topo's, read because the project names it: an external bridge,
// a macvlan parent, or a name topo wants).
std::optional<std::string> host_link(const std::string& alias, const std::string& name, const std::optional<Mac>& mac,
                                     const std::string& project, bool named);
// Whether a link without a marker is what a run killed between creating and
// marking it left: the project's generated name *and* the MAC topo gives a
// link of that name at creation (naming::link_mac).
bool left_by_a_killed_run(const std::string& alias, const std::string& name, const std::optional<Mac>& mac,
                          const std::string& project);

// A named namespace of the project's prefix, by its `lo`'s marker: nullopt
// when it is left out; "" when it is somebody else's and `wanted` (a name
// the project has or had: a conflict); else its marker.
std::optional<std::string> sandbox(const std::string& lo_marker, const std::string& project, bool wanted);

// The project's nftables table, by its comment: the owner it is read with.
std::string table(const std::string& comment, const std::string& project);

// A file where topo keeps the project's files, by its content or, for a
// symbolic link, where it points: nullopt when left out; "" when it is
// somebody else's and `wanted` (a conflict, never written over); else the
// project's marker.
std::optional<std::string> file(const std::string& content, const std::string& link, const std::string& project,
                                bool wanted);

// A directory under /etc/netns where a file topo wants or wrote is missing,
// by its marker and what it holds: whether it is topo's (marked as the
// project's, or holding nothing of anyone's).
bool directory(const std::string& marker, bool holds_others, const std::string& project);

}  // namespace topo::ownership
