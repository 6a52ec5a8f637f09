// Building libnftnl objects from topo's nft model, and decoding set elements
// read back from the kernel into the model's element text.
#pragma once

#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include <string>

#include "model/nft.hpp"

namespace topo::nft {

inline constexpr int family = 1;  // NFPROTO_INET

// A chain's hook by the model's name ("prerouting", "forward", ...); an
// unknown name throws KernelError. hook_name is the inverse, and names a
// hook topo does not use "hook N".
uint32_t hook_number(const std::string& name);
std::string hook_name(uint32_t number);
nftnl_chain* build_chain(const std::string& table, const NftChain& c);
nftnl_set* build_set(const std::string& table, const NftSet& s, uint32_t id);
// A set object carrying only its name (for element messages), with elements.
nftnl_set* build_elements(const std::string& table, const NftSet& s, const std::vector<std::string>& elements);
nftnl_rule* build_rule(const std::string& table, const NftRule& r, const std::map<std::string, uint32_t>& set_ids);

// Element text ⇄ key/data bytes, per layout (see model/nft.hpp).
std::string decode_element(NftLayout layout, const void* key, uint32_t key_len, const void* data, uint32_t data_len);
// The rule's text, from its comment userdata ("" when it has none: not topo's).
std::string rule_text(nftnl_rule* r);
NftLayout layout_of(uint32_t key_type, uint32_t key_len, uint32_t data_len);

}  // namespace topo::nft
