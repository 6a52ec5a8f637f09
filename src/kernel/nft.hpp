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
#include <vector>

#include "model/nft.hpp"
#include "model/probe.hpp"

struct mnl_socket;

namespace topo::nft {

// The netfilter sockets the runs of a machine (kernel/machine.hpp) used,
// kept open from their use to the end (nft.cpp says why): one set per
// machine, handed to each RealKernel it makes.
class Sockets {
public:
    Sockets() = default;
    Sockets(const Sockets&) = delete;
    Sockets& operator=(const Sockets&) = delete;
    // Not closed when destroyed: at exit the kernel releases them, and a
    // close here would wait as release_after_exit() avoids.

    void keep(mnl_socket* s) { open_.push_back(s); }
    void committed() { committed_ = true; }
    // Close them: a long-running `topo watch` does so before each run, long
    // after the commit.
    void close();
    // At the end of a process that committed a transaction: the sockets'
    // last release waits for the kernel to free that transaction (an RCU
    // grace period, 10-20 ms on two cores). A child process takes them over
    // and releases them once this process has exited, so the caller's exit
    // does not wait; the child lives those milliseconds and holds nothing
    // else (no output pipes).
    void release_after_exit();

private:
    std::vector<mnl_socket*> open_;
    bool committed_ = false;  // by this process: the kernel has a transaction to free
};

void apply(Sockets& sockets, const NftTable* desired, const NftTable* live);
std::optional<NftTable> read(Sockets& sockets, const std::string& table);
// Every table's base chains, with the number of rules in each.
std::vector<BaseChain> base_chains(Sockets& sockets);

}  // namespace topo::nft
