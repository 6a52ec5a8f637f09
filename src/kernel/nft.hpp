// topo's nftables table in the kernel, through libnftnl and libmnl.
//
// apply(): one atomic batch per change. Creating builds the table, chains,
// sets with their elements and rules; when only set elements differ, the
// batch adds and removes just those elements; when chains or rules differ
// (drift: a flushed chain, a foreign rule), the table is deleted and built
// again inside the same batch, so no packet ever sees a half-built table.
// read(): the table back as the same model. Only `inet <name>` is ever read
// or touched; other tables are never listed for changes.
#pragma once

#include <optional>
#include <string>

#include "model/nft.hpp"

namespace topo::nft {

void apply(const NftTable* desired, const NftTable* live);
std::optional<NftTable> read(const std::string& table);
// Close the netfilter sockets kept open since their use (below, in nft.cpp):
// a long-running `topo watch` does so before each run, long after the commit.
void close_kept();
// At the end of a process that committed a transaction: the sockets' last
// release waits for the kernel to free that transaction (an RCU grace period,
// 10-20 ms on two cores). A child process takes them over and releases them
// once this process has exited, so the caller's exit does not wait; the
// child lives those milliseconds and holds nothing else (no output pipes).
void release_after_exit();

}  // namespace topo::nft
