// Compose's variables: interpolation of a manifest's values, and the `.env`
// files they come from, read as `docker compose` reads them.
//
// Interpolation (the Compose specification's grammar): `$VAR`, `${VAR}`,
// `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
// `${VAR:?message}`, `${VAR?message}` (an error), `${VAR:+replacement}`,
// `${VAR+replacement}`, defaults and replacements that interpolate in turn
// (`${A:-${B:-x}}`), and `$$` for a `$`. Every string value of the tree is
// interpolated; keys never are. An unset variable with no default is an
// empty string and a warning naming it.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/yaml.hpp"

namespace topo::manifest {

// A variable's value, or none when it is not set.
using Lookup = std::function<std::optional<std::string>(const std::string&)>;

// A value that cannot be interpolated: a `?` form's message, or text that
// is not the grammar's. `offset` is where in the value it is.
struct InterpolationError : std::runtime_error {
    InterpolationError(const std::string& what, size_t at) : std::runtime_error(what), offset(at) {}
    size_t offset;
};

// One value. The names of unset variables used without a default go to `unset`.
std::string interpolate(std::string_view text, const Lookup& vars, std::set<std::string>& unset);

// What interpolating a whole tree found: an error per value that could not
// be interpolated, with its place, and the unset variables, each with the
// first place it was used.
struct TreeInterpolation {
    yaml::Node root;
    struct Problem {
        yaml::Mark mark;
        unsigned source = 0;
        std::string path;     // "services.web.ports[0]"
        std::string message;
    };
    std::vector<Problem> errors;
    std::vector<Problem> unset;
};
TreeInterpolation interpolate_tree(const yaml::Node& root, const Lookup& vars);

// A `.env` file's text as Compose reads it: `KEY=VALUE` lines, `#`
// comments, an optional `export `, single quotes (literal), double quotes
// (with \n, \t, \\, \" and interpolation), unquoted values (trimmed, a ` #`
// starts a comment, interpolated), and `${VAR}` references to the process's
// variables and to entries above. Throws InterpolationError naming the line.
std::map<std::string, std::string> read_env_file(std::string_view text, const Lookup& environment);

}  // namespace topo::manifest
