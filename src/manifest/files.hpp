// A manifest's files as the reader gets them: the text (within limits, never
// blocking on a FIFO), its YAML tree, the variables of the project, and the
// tree interpolated with them. Internal to the manifest layer.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/interpolate.hpp"
#include "manifest/reader.hpp"

namespace topo::manifest {

// The text's tree, or undefined with the problem recorded. Its nodes carry
// the file's index in r.files, which names the file of an error.
yaml::Node load_text(Reader& r, std::string_view text, const std::string& file);

// The tree with its values interpolated; each value that cannot be is an
// error at its place, each variable used unset a warning.
yaml::Node interpolated(Reader& r, const yaml::Node& root, const Lookup& vars);

// A file read, parsed and interpolated: undefined with the problem recorded
// at `at` (the include or extends that names it) when it cannot be read.
yaml::Node load_file(Reader& r, const std::string& file, const Lookup& vars, const yaml::Node& at,
                     const std::string& path);

// The values of env files (later files win over earlier ones), `${}` in them
// taken from `refs`. A missing file is skipped unless `required`; one that
// cannot be read or parsed is an error (at `at` when given).
std::map<std::string, std::string> env_values(Reader& r, const std::vector<std::string>& files, bool required,
                                              const Lookup& refs, const yaml::Node& at = {},
                                              const std::string& path = "env_file");

// `first`'s variables, then `then`'s where `first` has none.
Lookup layered(Lookup first, std::map<std::string, std::string> then);

// The process's environment.
Lookup process_environment();

// The variables a project's values are interpolated with (LoadOptions):
// given ones alone, or the environment over `.env` in the first file's
// directory (or over --env-file's files).
Lookup variables(Reader& r, const LoadOptions& opts, const std::string& first_file);

// The directory relative paths in a node's file are taken from: its file's
// (the working directory for standard input or text without a file).
std::string directory_of(const Reader& r, const yaml::Node& n);

}  // namespace topo::manifest
