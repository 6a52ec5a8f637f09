// libFuzzer target: the nftables transaction builder (kernel/nft_batch.cpp)
// must never write past its buffer, crash or leak, whatever table it is
// given: any sets (up to 70,000 elements generated, or elements of any text),
// rules of any field values, any live table to turn into it. A table it
// cannot build may only end in a KernelError. What it builds is walked
// message by message: every one whole and inside the transaction, as many
// as it says, and nothing past the 64 MiB limit.
// Build: cmake -DTOPO_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ (see tests/fuzz/run.sh).
#include <fuzzer/FuzzedDataProvider.h>
#include <libmnl/libmnl.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "kernel/kernel.hpp"
#include "kernel/nft_batch.hpp"

using namespace topo;

namespace {

std::string element(NftLayout layout, uint32_t i) {
    static const char* protos[] = {"tcp", "udp", "sctp"};
    auto proto = protos[i % 3];
    unsigned port = 1 + i % 65535;
    bool v6 = layout == NftLayout::ProtoPortToAddr6 || layout == NftLayout::AddrProtoPortToAddr6;
    auto addr = v6 ? fmt::format("fd00::{:x}", i & 0xffff) : fmt::format("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
    switch (layout) {
        case NftLayout::Ifnames: return fmt::format("tb{:013x}", i);
        case NftLayout::ProtoPortToAddr:
        case NftLayout::ProtoPortToAddr6: return fmt::format("{} {} {} {}", proto, port, addr, port);
        case NftLayout::AddrProtoPortToAddr:
        case NftLayout::AddrProtoPortToAddr6:
            return fmt::format("{} {} {} {} {}", v6 ? "2001:db8::1" : "192.0.2.1", proto, port, addr, port);
    }
    return {};
}

NftTable table(FuzzedDataProvider& in) {
    NftTable t;
    t.name = "topo-" + in.ConsumeRandomLengthString(40);
    if (in.ConsumeBool()) t.owner = in.ConsumeRandomLengthString(300);  // past the userdata's room too
    for (int c = in.ConsumeIntegralInRange(0, 5); c > 0; --c)
        t.chains.push_back({in.ConsumeRandomLengthString(40), in.PickValueInArray({"filter", "nat", "route"}),
                            in.PickValueInArray({"prerouting", "output", "postrouting", "forward", "input"}),
                            in.ConsumeIntegral<int>()});
    for (int s = in.ConsumeIntegralInRange(0, 4); s > 0; --s) {
        NftSet set;
        set.name = in.ConsumeBool() ? fmt::format("s{}", s) : in.ConsumeRandomLengthString(40);
        set.layout = NftLayout(in.ConsumeIntegralInRange(0, 4));
        // A few elements, or many (now and then as many as the largest port
        // ranges make: a run of those is slow).
        uint32_t count = !in.ConsumeBool()                      ? in.ConsumeIntegralInRange<uint32_t>(0, 16)
                         : in.ConsumeIntegralInRange(0, 7) == 0 ? in.ConsumeIntegralInRange<uint32_t>(0, 70000)
                                                                : in.ConsumeIntegralInRange<uint32_t>(0, 3000);
        uint32_t start = in.ConsumeIntegral<uint32_t>();
        for (uint32_t i = 0; i < count; ++i) set.elements.insert(element(set.layout, start + i));
        // Now and then one element of any text at all (which ends the build
        // with a KernelError: more often, and the rules would seldom be reached).
        if (in.ConsumeIntegralInRange(0, 15) == 0) set.elements.insert(in.ConsumeRandomLengthString(64));
        t.sets[set.name] = std::move(set);
    }
    for (int r = in.ConsumeIntegralInRange(0, 12); r > 0; --r) {
        NftRule rule;
        rule.chain = t.chains.empty() ? "forward" : t.chains[in.ConsumeIntegralInRange<size_t>(0, t.chains.size() - 1)].name;
        rule.text = in.ConsumeRandomLengthString(400);
        rule.op = NftOp(in.ConsumeIntegralInRange(0, int(NftOp::DropWithin)));
        rule.family = in.ConsumeBool() ? 4 : 6;
        rule.ifname = in.ConsumeRandomLengthString(40);
        if (in.ConsumeBool()) rule.ifname += '*';  // a prefix match ("tv3f09*"), of any length
        if (in.ConsumeBool()) rule.subnet = Prefix::parse(in.ConsumeRandomLengthString(48));
        rule.set = in.ConsumeRandomLengthString(40);
        t.rules.push_back(std::move(rule));
    }
    return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    auto desired = table(in);
    // What is in the kernel: nothing, the same table with other elements
    // (only elements change), or a table of its own.
    NftTable live = desired;
    int kind = in.ConsumeIntegralInRange(0, 3);
    if (kind == 2)
        for (auto& [name, set] : live.sets) {
            for (int k = in.ConsumeIntegralInRange(0, 8); k > 0 && !set.elements.empty(); --k) set.elements.erase(set.elements.begin());
            for (int k = in.ConsumeIntegralInRange(0, 8); k > 0; --k) set.elements.insert(in.ConsumeRandomLengthString(64));
        }
    if (kind == 3) live = table(in);
    const NftTable* want = kind == 1 && in.ConsumeBool() ? nullptr : &desired;
    const NftTable* have = kind == 0 ? nullptr : &live;
    if (!want && !have) return 0;
    try {
        auto t = nft::transaction(want, have, in.ConsumeIntegral<uint32_t>());
        // Walk it: every message whole and inside, as many as it says.
        int left = int(t->size()), count = 0;
        if (t->size() > nft::Transaction::limit) std::abort();
        for (auto* h = static_cast<const nlmsghdr*>(t->data()); left > 0; h = mnl_nlmsg_next(h, &left)) {
            if (!mnl_nlmsg_ok(h, left)) std::abort();
            ++count;
        }
        if (left != 0 || count != t->messages() + 2) std::abort();  // + batch begin and end
    } catch (const KernelError&) {
    }
    return 0;
}
