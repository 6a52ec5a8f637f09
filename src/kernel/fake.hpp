// FakeKernel: an in-memory host for unit tests. Changes applied to it change
// its state as the kernel would (deleting a namespace removes what was in it;
// deleting a link removes its addresses), creating what exists fails with
// EEXIST, and a failure can be injected at the N-th operation.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernel/kernel.hpp"

namespace topo {

class FakeKernel : public Kernel {
public:
    HostState state;                 // everything on the fake host, any owner
    std::vector<Prefix> routes;      // host routes reported by host_routes()
    std::optional<size_t> fail_at;   // 0-based index of the operation that fails
    std::vector<Change> log;         // operations carried out, in order
    std::vector<Change> told;        // implied deletions it was told of, in order

    // Everything it holds, as the real kernel shows it: a veth's other end
    // inside its sandbox, markers as they are.
    Observation observe(const ReadScope& scope) override;
    size_t whole_observations = 0;  // observe() calls for all of the project's sandboxes
    void apply(const Change& change) override;
    void implied(const Change& change) override { told.push_back(change); }
    std::vector<Prefix> host_routes() override { return routes; }
    std::vector<IpAddr> addresses;  // what local_addresses() reports
    std::vector<IpAddr> local_addresses() override { return addresses; }
    std::optional<uint32_t> underlay;  // what underlay_mtu() reports
    std::optional<uint32_t> underlay_mtu(const std::string&, const std::vector<IpAddr>&) override { return underlay; }
    std::string no_encryption = "the kernel has no ESP transform for xfrm (CONFIG_INET_ESP)";
    std::string cannot_encrypt() override { return no_encryption; }
    std::vector<std::string> projects() override;
    size_t operations() const { return ops_; }  // carried out or failed, since construction
    // Programs "running" in sandboxes; a signal ends one (it removes it).
    std::map<std::string, std::vector<Process>> running;
    std::map<std::string, std::vector<Process>> processes(const std::vector<std::string>& sandboxes) override;
    void signal(const Process& p, int signal) override;
    // Foreign bridges' facts, and addresses that answer a probe on a bridge.
    std::map<std::string, BridgeFacts> bridges;
    std::map<std::string, std::set<IpAddr>> answering;
    std::optional<BridgeFacts> bridge_facts(const std::string& name) override;
    std::vector<Listener> host_listeners;  // what listeners() reports
    std::vector<Listener> listeners() override { return host_listeners; }
    std::vector<VxlanInUse> host_vxlans;  // others' VXLAN devices, besides those it holds
    std::vector<VxlanInUse> vxlans() override;
    // What probe() answers (every attempt reached, unless set) and base_chains() reports.
    std::function<ProbeOutcome(const Probe&)> probe_answer;
    std::vector<ProbeOutcome> probe(const ProbeRun& run) override {
        std::vector<ProbeOutcome> out;
        for (auto& p : run.probes) out.push_back(probe_answer ? probe_answer(p) : ProbeOutcome{true, "connected"});
        return out;
    }
    std::vector<BaseChain> chains;
    std::vector<BaseChain> base_chains() override { return chains; }
    bool address_in_use(const std::string& bridge, const IpAddr& a) override {
        auto it = answering.find(bridge);
        return it != answering.end() && it->second.count(a);
    }

private:
    size_t ops_ = 0;
    void remove(const Object& o);
    std::string refusal(const Object& o) const;  // why the kernel would refuse to create it, or ""
    // A sysctl the fake holds no value for reads as a fresh kernel's: "0", or
    // "" for a device's (conf/<dev>/…) while the device is not there.
    std::string default_sysctl(const std::string& key) const;
};

// DryRunKernel: reads through another kernel and records the changes it is
// asked to make instead of making them.
class DryRunKernel : public Kernel {
public:
    explicit DryRunKernel(Kernel& real) : real_(real) {}
    std::vector<Change> recorded;

    Observation observe(const ReadScope& scope) override { return real_.observe(scope); }
    void apply(const Change& change) override { recorded.push_back(change); }
    std::vector<Prefix> host_routes() override { return real_.host_routes(); }
    std::vector<IpAddr> local_addresses() override { return real_.local_addresses(); }
    std::optional<uint32_t> underlay_mtu(const std::string& device, const std::vector<IpAddr>& peers) override {
        return real_.underlay_mtu(device, peers);
    }
    std::string cannot_encrypt() override { return real_.cannot_encrypt(); }
    std::vector<std::string> projects() override { return real_.projects(); }
    std::map<std::string, std::vector<Process>> processes(const std::vector<std::string>& sandboxes) override {
        return real_.processes(sandboxes);
    }
    void signal(const Process&, int) override {}
    std::optional<BridgeFacts> bridge_facts(const std::string& name) override { return real_.bridge_facts(name); }
    bool address_in_use(const std::string& bridge, const IpAddr& a) override { return real_.address_in_use(bridge, a); }
    std::vector<Listener> listeners() override { return real_.listeners(); }
    std::vector<VxlanInUse> vxlans() override { return real_.vxlans(); }
    std::vector<ProbeOutcome> probe(const ProbeRun& run) override { return real_.probe(run); }
    std::vector<BaseChain> base_chains() override { return real_.base_chains(); }

private:
    Kernel& real_;
};

}  // namespace topo
