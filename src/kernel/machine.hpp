// The real machine (kernel/kernel.hpp, Machine): the one place the CLI names the
// kernel layer's implementation. Everything else it does goes through the
// Kernel, EventSource and Machine interfaces.
#pragma once

#include <memory>

#include "kernel/kernel.hpp"

namespace topo {

std::unique_ptr<Machine> real_machine();

}  // namespace topo
