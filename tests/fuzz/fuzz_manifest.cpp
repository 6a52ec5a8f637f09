// libFuzzer target: manifest parsing and validation must never crash, hang or
// leak on any input; bad input may only end in a ManifestError.
// Build: cmake -DTOPO_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ (see tests/fuzz/run.sh).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "manifest/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        topo::manifest::parse(text, "/fuzz/fuzz.yaml");
    } catch (const topo::manifest::ManifestError&) {
    }
    return 0;
}
