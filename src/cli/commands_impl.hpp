// One function per command; commands.cpp parses arguments and calls them.
#pragma once

#include "cli/options.hpp"
#include "cli/session.hpp"

namespace topo::cli {

int cmd_validate(const Options& o);
int cmd_plan(const Options& o);
int cmd_apply(const Options& o);
int cmd_apply_saved(const Options& o);
int cmd_destroy(const Options& o);
int cmd_show(const Options& o);
int cmd_ls(const Options& o);
int cmd_recover(const Options& o);
int cmd_exec(const Options& o);  // replaces the process; returns only by throwing

}  // namespace topo::cli
