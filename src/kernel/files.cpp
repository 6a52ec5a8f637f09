#include "kernel/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "kernel/kernel.hpp"
#include "state/store.hpp"

namespace topo::files {

namespace fs = std::filesystem;

std::optional<std::string> read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_atomic(const std::string& path, const std::string& content) {
    if (auto old = read(path); old && *old == content) return;
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) throw KernelError(fmt::format("file {}: mkdir: {}", path, ec.message()));
    try {
        write_file_atomic(path, content);
    } catch (const std::exception& e) {
        throw KernelError(fmt::format("file {}: {}", path, e.what()));
    }
}

void remove(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        throw KernelError(fmt::format("file {}: remove: {}", path, std::strerror(errno)));
    ::unlink(temp_path_for(path).c_str());  // left by a run killed while writing it
    auto dir = fs::path(path).parent_path();
    std::error_code ec;
    if (fs::is_empty(dir, ec)) fs::remove(dir, ec);
}

}  // namespace topo::files
