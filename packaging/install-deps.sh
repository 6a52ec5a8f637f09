#!/usr/bin/env bash
# Installs what topo needs to build and what its tests use (Debian 12 package names).
set -euo pipefail
build=(cmake ninja-build g++ pkg-config libyaml-dev libnl-3-dev libnl-route-3-dev
       libnftnl-dev libmnl-dev libfmt-dev doctest-dev libcli11-dev nlohmann-json3-dev)
tools=(clang libclang-rt-14-dev iproute2 nftables iputils-ping socat curl python3 python3-jsonschema python3-yaml util-linux
       graphviz time)
# The Debian package (packaging/check-deb.sh): dpkg-shlibdeps computes its
# Depends; man pages, the completion scripts and the unit are checked installed.
package=(dpkg-dev file gzip man-db groff-base bash-completion zsh systemd)
missing=()
for p in "${build[@]}" "${tools[@]}" "${package[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
