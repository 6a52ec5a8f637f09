// The real host: RealKernel for each run, KernelEvents for the watch, and
// the netfilter sockets nft.cpp keeps open closed between runs and handed
// to a child at exit (kernel/nft.hpp).
#include "kernel/machine.hpp"

#include "kernel/events.hpp"
#include "kernel/netns.hpp"
#include "kernel/nft.hpp"
#include "kernel/real.hpp"

namespace topo {

namespace {

class RealMachine : public Machine {
public:
    std::unique_ptr<Kernel> kernel() override { return std::make_unique<RealKernel>(nft_); }
    std::unique_ptr<EventSource> events() override { return std::make_unique<KernelEvents>(); }
    void run_done() override { nft_.close(); }
    void exiting() override { nft_.release_after_exit(); }
    std::string netns_dir() override {
        netns::ensure_run_dir();
        return netns::run_dir;
    }

private:
    nft::Sockets nft_;
};

}  // namespace

std::unique_ptr<Machine> real_machine() { return std::make_unique<RealMachine>(); }

}  // namespace topo
