// File contents as slices of shared strings (model/text.hpp): building,
// comparing and flattening them without copying the shared parts.
#include "model/text.hpp"

#include <algorithm>

namespace topo {

Text::Text(std::string s) { append(std::move(s)); }

void Text::append(std::string s) {
    if (s.empty()) return;
    auto n = s.size();
    append(std::make_shared<const std::string>(std::move(s)), 0, n);
}

void Text::append(std::shared_ptr<const std::string> shared, size_t begin, size_t end) {
    if (begin >= end) return;
    size_ += end - begin;
    slices_.push_back({std::move(shared), begin, end});
}

void Text::append(const Text& t) {
    slices_.insert(slices_.end(), t.slices_.begin(), t.slices_.end());
    size_ += t.size_;
}

std::string Text::str() const {
    std::string out;
    out.reserve(size_);
    for (auto& s : slices_) out += s.view();
    return out;
}

std::vector<std::string_view> Text::slices() const {
    std::vector<std::string_view> out;
    out.reserve(slices_.size());
    for (auto& s : slices_) out.push_back(s.view());
    return out;
}

bool Text::starts_with(std::string_view prefix) const {
    if (prefix.size() > size_) return false;
    for (auto& s : slices_) {
        auto v = s.view().substr(0, prefix.size());
        if (prefix.substr(0, v.size()) != v) return false;
        prefix.remove_prefix(v.size());
        if (prefix.empty()) return true;
    }
    return prefix.empty();
}

namespace {

// Compare two sequences of slices without joining either.
bool same(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
    size_t i = 0, j = 0, ai = 0, bj = 0;  // slice index and offset inside it
    while (i < a.size() && j < b.size()) {
        size_t n = std::min(a[i].size() - ai, b[j].size() - bj);
        if (a[i].substr(ai, n) != b[j].substr(bj, n)) return false;
        ai += n, bj += n;
        if (ai == a[i].size()) ++i, ai = 0;
        if (bj == b[j].size()) ++j, bj = 0;
    }
    return i == a.size() && j == b.size();
}

}  // namespace

bool operator==(const Text& a, const Text& b) {
    return a.size_ == b.size_ && (a.size_ == 0 || same(a.slices(), b.slices()));
}

bool operator==(const Text& a, std::string_view b) {
    return a.size_ == b.size() && (b.empty() || same(a.slices(), {b}));
}

}  // namespace topo
