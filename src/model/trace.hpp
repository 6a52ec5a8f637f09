// TOPO_TRACE=1 in the environment: how long each phase of a run took, on
// standard error. For finding where the time goes (ARCHITECTURE.md, "Speed");
// the benchmark, not this, is what compares figures.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace topo::trace {

inline bool on() {
    static const bool enabled = std::getenv("TOPO_TRACE") != nullptr;
    return enabled;
}

// When the process started (static initialisation): for "run (whole)".
inline const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

inline void report(const char* what, std::chrono::steady_clock::time_point since) {
    if (!on()) return;
    std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - since;
    std::fprintf(stderr, "topo: trace: %-22s %8.2f ms\n", what, took.count());
}

// Reports the time from its construction to its end, when tracing is on.
class Span {
public:
    explicit Span(const char* what) : what_(what) {}
    Span(const Span&) = delete;
    Span& operator=(const Span&) = delete;
    ~Span() { report(what_, start_); }

private:
    const char* what_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace topo::trace
