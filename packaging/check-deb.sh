#!/usr/bin/env bash
# CI, as root, after tests/run.sh has built ./build: makes the Debian package,
# installs it as a user would (apt resolves its Depends), checks what it put
# on the machine, and removes it again. It changes the machine's packages, so
# it is not one of the ctest tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ninja -C build topo topo_docs >/dev/null
rm -f build/topo_*.deb
(cd build && cpack -G DEB >/dev/null)
deb=$(ls build/topo_*.deb)
echo "package: $deb"
dpkg-deb --field "$deb" Package Version Architecture Depends Section
dpkg-deb --contents "$deb"
for script in postinst prerm postrm; do
    dpkg-deb --info "$deb" "$script" >/dev/null || { echo "check-deb: no $script in the package" >&2; exit 1; }
done
fail() { echo "check-deb: $*" >&2; exit 1; }
if dpkg-query -W -f='${Status}' topo 2>/dev/null | grep -q "install ok installed"; then
    fail "topo is installed already; remove it first (this check installs and removes it)"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "./$deb" >/dev/null
# Removed again however the checks end.
trap 'apt-get remove -y -qq topo >/dev/null 2>&1 || true' EXIT
[ "$(command -v topo)" = /usr/bin/topo ] || fail "topo on PATH is $(command -v topo), not /usr/bin/topo"
/usr/bin/topo version
man -w topo
man -w topo-apply
MANWIDTH=80 man topo-plan 2>&1 >/dev/null | grep . && fail "man topo-plan warns"
for f in /usr/share/bash-completion/completions/topo /usr/share/zsh/vendor-completions/_topo \
         /usr/lib/systemd/system/topo-watch@.service; do
    [ -s "$f" ] || fail "$f is missing or empty"
done
grep -qx 'ExecStart=/usr/bin/topo watch -f /etc/topo/%I --log-format json' /usr/lib/systemd/system/topo-watch@.service \
    || fail "the unit does not start /usr/bin/topo"
# The completion bash-completion would load for `topo`, working.
bash -c 'source /usr/share/bash-completion/completions/topo; COMP_WORDS=(topo app); COMP_CWORD=1; _topo; [ "${COMPREPLY[*]}" = apply ]' \
    || fail "the installed bash completion does not complete topo app"
systemd-analyze verify /usr/lib/systemd/system/topo-watch@.service
systemd-analyze security --offline=true /usr/lib/systemd/system/topo-watch@.service | tail -1
apt-get remove -y -qq topo >/dev/null
trap - EXIT
[ ! -e /usr/bin/topo ] || fail "/usr/bin/topo is still there after apt-get remove"
[ ! -e /usr/share/man/man1/topo.1.gz ] || fail "the man page is still there after apt-get remove"
echo "check-deb: ok"
