// One nf_tables transaction, assembled in memory: every message that makes
// the kernel's table `live` into `desired`, between a batch begin and end,
// as the kernel takes it in one send. Kept apart from the socket (nft.cpp)
// so that what is built can be checked, and fuzzed, without a kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "model/nft.hpp"

struct mnl_nlmsg_batch;
struct nlmsghdr;

namespace topo::nft {

class Transaction {
public:
    // Room for every port of both protocols, twice, in element messages.
    static constexpr size_t limit = size_t(64) << 20;

    Transaction(uint32_t seq, std::string what);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    // A message's header, at the end of what is built so far; next() takes
    // it in once its payload is written, and throws (KernelError) when it
    // would cross the limit.
    nlmsghdr* header(uint16_t type, uint16_t flags);
    void next();
    void end();  // the batch end; after it, the transaction is ready

    const void* data() const;
    size_t size() const;
    int messages() const { return count_; }  // each asks for an ack (not counting begin and end)
    const std::string& what() const { return what_; }

private:
    std::unique_ptr<char[]> buf_;
    mnl_nlmsg_batch* b_;
    uint32_t seq_;
    int count_ = 0;
    std::string what_;
};

// The transaction that makes `live` into `desired`: either may be null (a
// new table, a table to delete). Only elements differ: just those are
// added and removed; otherwise the table is deleted and built again within
// the transaction. Throws KernelError for an element it cannot encode or a
// transaction over the limit, having written nothing past its buffer.
std::unique_ptr<Transaction> transaction(const NftTable* desired, const NftTable* live, uint32_t seq);

}  // namespace topo::nft
