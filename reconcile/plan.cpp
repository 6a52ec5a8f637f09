// Ordering a diff's changes so the kernel accepts each in turn
// (reconcile/plan.hpp).
#include "reconcile/plan.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <string>

namespace topo {

int rank(Kind k) {
    switch (k) {
        case Kind::Netns: return 0;
        case Kind::Bridge: return 1;
        case Kind::Vxlan: return 2;
        case Kind::Veth: return 3;
        case Kind::Macvlan: return 4;
        case Kind::Address: return 5;
        case Kind::Route: return 6;
        case Kind::Fdb: return 7;
        case Kind::Neigh: return 8;
        case Kind::NftTable: return 9;
        case Kind::Sysctl: return 10;
        case Kind::File: return 11;
    }
    return 99;
}

namespace {

std::string cause_of(const Change& c) { return fmt::format("{} {}", to_string(c.kind()), c.id()); }

void mark_implied(std::vector<Change>& deletions) {
    // What goes, and the deletion that makes it go ("netns shop-web").
    std::map<std::string, std::string> gone_ns, gone_links;
    for (auto& c : deletions) {
        const Object& o = *c.before;
        if (auto* n = std::get_if<Netns>(&o)) gone_ns.emplace(n->name, cause_of(c));
        if (auto* l = std::get_if<Link>(&o)) {
            gone_links.emplace(l->ns + ":" + l->name, cause_of(c));
            if (l->peer) gone_links.emplace(l->peer->ns + ":" + l->peer->name, cause_of(c));
        }
    }
    for (auto& c : deletions) {
        if (c.action != Action::Delete) continue;  // a replace's delete half always runs
        const Object& o = *c.before;
        const auto& ns = namespace_of(o);
        auto link = link_under(o);
        auto in_ns = ns.empty() || std::holds_alternative<Netns>(o) ? gone_ns.end() : gone_ns.find(ns);
        auto on_link = link.empty() ? gone_links.end() : gone_links.find(link);
        // A veth whose sandbox end goes with its namespace goes too: the kernel
        // removes both ends in one batched cleanup, far faster than one deletion
        // (and one RCU grace period) per veth. The executor waits for it (settle).
        auto peer = gone_ns.end();
        if (auto* l = std::get_if<Link>(&o); l && l->peer) peer = gone_ns.find(l->peer->ns);
        for (auto it : {in_ns, peer})
            if (it != gone_ns.end()) c.implied_by = it->second;
        if (c.implied_by.empty() && on_link != gone_links.end()) c.implied_by = on_link->second;
        c.implied = !c.implied_by.empty();
    }
}

// By kind's rank, then id (descending for deletions). The keys are made once:
// an id is a formatted string, and making two per comparison was most of the
// time of planning 10,000 services.
void sort_by_rank(std::vector<Change>& changes, bool descending) {
    std::vector<std::pair<std::pair<int, std::string>, size_t>> keys;
    keys.reserve(changes.size());
    for (size_t i = 0; i < changes.size(); ++i) keys.push_back({{rank(changes[i].kind()), changes[i].id()}, i});
    std::stable_sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) {
        return descending ? b.first < a.first : a.first < b.first;
    });
    std::vector<Change> out;
    out.reserve(changes.size());
    for (auto& [_, i] : keys) out.push_back(std::move(changes[i]));
    changes = std::move(out);
}

}  // namespace

std::vector<Change> plan(std::vector<Change> changes) {
    std::vector<Change> deletions, creations;
    deletions.reserve(changes.size());
    creations.reserve(changes.size());
    for (auto& c : changes) {
        if (c.action == Action::Delete) {
            deletions.push_back(std::move(c));
        } else if (c.action == Action::Replace) {
            // Rule 3: the old object goes in phase 1; the Replace that stays in phase 2
            // only creates (see execute.hpp).
            deletions.push_back({Action::Delete, c.before, std::nullopt, {}, "replaced"});
            creations.push_back(std::move(c));
        } else {
            creations.push_back(std::move(c));
        }
    }
    mark_implied(deletions);
    sort_by_rank(deletions, true);
    sort_by_rank(creations, false);
    std::vector<Change> out = std::move(deletions);
    out.insert(out.end(), std::make_move_iterator(creations.begin()), std::make_move_iterator(creations.end()));
    return out;
}

}  // namespace topo
