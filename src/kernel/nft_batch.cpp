// One nf_tables transaction assembled in memory (kernel/nft_batch.hpp): the
// table, chains, sets, elements in messages of at most 256, and rules.
#include "kernel/nft_batch.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <map>
#include <vector>

#include "kernel/kernel.hpp"
#include "kernel/nft_build.hpp"

namespace topo::nft {

namespace {

// Most elements one message carries: each stays well inside a netlink
// message (256 of the largest, IPv6 by host address, are ~20 KiB).
constexpr size_t elements_per_message = 256;
// libmnl lets the message that crosses the limit be written whole before it
// says so: the buffer has a message's room beyond the limit.
constexpr size_t margin = size_t(1) << 20;

// `owner`, when set, goes into the table's userdata as its comment (what
// `nft add table ... { comment "..." }` writes): the marker that makes it topo's.
void put_table(Transaction& t, const std::string& name, uint16_t type, const std::string& owner = {}) {
    auto* tb = nftnl_table_alloc();
    nftnl_table_set_str(tb, NFTNL_TABLE_NAME, name.c_str());
    nftnl_table_set_u32(tb, NFTNL_TABLE_FAMILY, family);
    if (!owner.empty()) {
        auto* ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
        nftnl_udata_put_strz(ud, NFTNL_UDATA_TABLE_COMMENT, owner.c_str());
        nftnl_table_set_data(tb, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
        nftnl_udata_buf_free(ud);
    }
    nftnl_table_nlmsg_build_payload(t.header(type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0), tb);
    nftnl_table_free(tb);
    t.next();
}

void put_elements(Transaction& t, const NftTable& table, const NftSet& s, const std::vector<std::string>& els,
                  uint16_t type) {
    for (size_t i = 0; i < els.size(); i += elements_per_message) {
        std::vector<std::string> chunk(els.begin() + long(i),
                                       els.begin() + long(std::min(els.size(), i + elements_per_message)));
        auto* set = build_elements(table.name, s, chunk);  // encodes first: a bad element throws before a write
        nftnl_set_elems_nlmsg_build_payload(t.header(type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0), set);
        nftnl_set_free(set);
        t.next();
    }
}

void build_all(Transaction& t, const NftTable& table) {
    put_table(t, table.name, NFT_MSG_NEWTABLE, table.owner);
    for (auto& c : table.chains) {
        auto* ch = build_chain(table.name, c);
        nftnl_chain_nlmsg_build_payload(t.header(NFT_MSG_NEWCHAIN, NLM_F_CREATE), ch);
        nftnl_chain_free(ch);
        t.next();
    }
    std::map<std::string, uint32_t> ids;
    uint32_t next_id = 1;
    for (auto& [name, s] : table.sets) {
        ids[name] = next_id;
        auto* set = build_set(table.name, s, next_id++);
        nftnl_set_nlmsg_build_payload(t.header(NFT_MSG_NEWSET, NLM_F_CREATE), set);
        nftnl_set_free(set);
        t.next();
        put_elements(t, table, s, {s.elements.begin(), s.elements.end()}, NFT_MSG_NEWSETELEM);
    }
    for (auto& r : table.rules) {
        auto* rule = build_rule(table.name, r, ids);
        nftnl_rule_nlmsg_build_payload(t.header(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND), rule);
        nftnl_rule_free(rule);
        t.next();
    }
}

}  // namespace

// Not zeroed: the 64 MiB are mapped but only the pages written are touched
// (zeroing even 4 MiB cost ~2 ms per apply).
Transaction::Transaction(uint32_t seq, std::string what)
    : buf_(new char[limit + margin]), seq_(seq), what_(std::move(what)) {
    b_ = mnl_nlmsg_batch_start(buf_.get(), limit);
    nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(b_)), seq_++);
    mnl_nlmsg_batch_next(b_);
}

Transaction::~Transaction() { mnl_nlmsg_batch_stop(b_); }

nlmsghdr* Transaction::header(uint16_t type, uint16_t flags) {
    ++count_;
    return nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(b_)), type, family, flags | NLM_F_ACK,
                                 seq_++);
}

void Transaction::next() {
    if (!mnl_nlmsg_batch_next(b_)) throw KernelError(what_ + ": the transaction is larger than 64 MiB");
}

void Transaction::end() {
    nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(b_)), seq_++);
    mnl_nlmsg_batch_next(b_);
}

const void* Transaction::data() const { return mnl_nlmsg_batch_head(b_); }
size_t Transaction::size() const { return mnl_nlmsg_batch_size(b_); }

std::unique_ptr<Transaction> transaction(const NftTable* desired, const NftTable* live, uint32_t seq) {
    const NftTable& any = desired ? *desired : *live;
    auto t = std::make_unique<Transaction>(seq, "nft-table " + any.name);
    if (!desired) {
        put_table(*t, live->name, NFT_MSG_DELTABLE);
    } else if (live && live->skeleton() == desired->skeleton()) {
        for (auto& d : element_diff(*desired, *live)) {
            auto& set = desired->sets.at(d.set);
            if (!d.remove.empty()) put_elements(*t, *desired, set, d.remove, NFT_MSG_DELSETELEM);
            if (!d.add.empty()) put_elements(*t, *desired, set, d.add, NFT_MSG_NEWSETELEM);
        }
    } else {
        // New, or chains/rules drifted: rebuilt within the same transaction.
        if (live) put_table(*t, live->name, NFT_MSG_DELTABLE);
        build_all(*t, *desired);
    }
    t->end();
    return t;
}

}  // namespace topo::nft
