// File contents as a list of slices of shared strings.
//
// A sandbox's hosts file lists every peer on its networks, so N sandboxes
// hold O(N²) bytes of hosts files (10,000 sandboxes on one network: ~3 GB).
// Built from one shared block of lines per network (reconcile/names.cpp), a
// file is a handful of slices of that block, so N files take O(N) memory; two
// contents are compared slice by slice and joined only when a file is written
// or serialised. A Text made from a std::string is that string, one slice.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace topo {

class Text {
public:
    Text() = default;
    Text(std::string s);                          // NOLINT(google-explicit-constructor): a Text is a string
    Text(const char* s) : Text(std::string(s)) {}  // NOLINT(google-explicit-constructor)

    void append(std::string s);
    // The bytes [begin, end) of a string other Texts may share.
    void append(std::shared_ptr<const std::string> shared, size_t begin, size_t end);
    void append(const Text& t);

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::string str() const;  // joined
    bool starts_with(std::string_view prefix) const;
    // The slices, in order (never empty ones).
    std::vector<std::string_view> slices() const;

    friend bool operator==(const Text& a, const Text& b);
    friend bool operator==(const Text& a, std::string_view b);
    friend bool operator==(const Text& a, const std::string& b) { return a == std::string_view(b); }

private:
    struct Slice {
        std::shared_ptr<const std::string> text;
        size_t begin, end;
        std::string_view view() const { return std::string_view(*text).substr(begin, end - begin); }
    };
    std::vector<Slice> slices_;
    size_t size_ = 0;
};

}  // namespace topo
