#!/usr/bin/env bash
# Name resolution through per-sandbox hosts files: service names and aliases
# resolve on shared networks only; a shared alias returns every address;
# extra_hosts; renaming an alias rewrites the files; a hand-edited file is
# drift that apply repairs; topo exec sees the same names; destroy removes them.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
echo "nameserver 127.0.0.53" > resolv.host   # what a systemd-resolved host has

cat > net.yaml <<'YAML'
name: names
networks:
  front: {ipam: {config: [{subnet: 10.20.1.0/24}]}}
  back: {ipam: {config: [{subnet: 10.20.2.0/24}]}}
services:
  web:
    networks:
      front: {aliases: [www]}
      back: {}
    extra_hosts: ["legacy.db:10.20.9.9"]
    dns: [127.0.0.1]   # a miss then fails at once, inside the sandbox
  db:
    networks:
      back: {aliases: [store]}
    dns: [127.0.0.1]
  cache:
    networks:
      back: {aliases: [store]}
    dns: [127.0.0.1]
  api:
    hostname: api-1
    networks: [front]
    dns: [127.0.0.1]
    dns_search: [shop.internal]
YAML
check "apply" "$TOPO" apply -f net.yaml
lookup() { ip netns exec "$1" getent ahostsv4 "$2" | awk '{print $1}' | sort -u | tr '\n' ' ' | sed 's/ $//'; }
expect_eq "web resolves db by service name" "10.20.2.3" "$(lookup names-web db)"
expect_eq "web resolves the alias two services share to both addresses" "10.20.2.2 10.20.2.3" "$(lookup names-web store)"
expect_eq "api resolves web by its alias on front" "10.20.1.3" "$(lookup names-api www)"
expect_eq "web resolves api by its hostname" "10.20.1.2" "$(lookup names-web api-1)"
expect_eq "web resolves its extra_hosts entry" "10.20.9.9" "$(lookup names-web legacy.db)"
expect_eq "api does not resolve db: they share no network" "" "$(lookup names-api db)"
expect_eq "api does not resolve the back-only alias" "" "$(lookup names-api store)"
expect_eq "db does not resolve the front-only alias www" "" "$(lookup names-db www)"
# A sandbox on one network links its hosts file to the network's shared one.
expect_eq "db's hosts file is a link to back's file" "../.topo-names/back" "$(readlink /etc/netns/names-db/hosts)"
expect_eq "web's, on two networks, is its own" "" "$(readlink /etc/netns/names-web/hosts || true)"
expect_eq "db resolves cache through the link" "10.20.2.2" "$(lookup names-db cache)"
expect_eq "and itself" "10.20.2.3" "$(lookup names-db db)"
expect_eq "topo exec in db sees the same" "10.20.2.2" \
    "$("$TOPO" exec -f net.yaml db -- getent ahostsv4 cache | awk '{print $1}' | sort -u)"
expect_eq "api's resolv.conf comes from dns and dns_search" "nameserver 127.0.0.1 search shop.internal" \
    "$(ip netns exec names-api grep -v '^#' /etc/resolv.conf | tr '\n' ' ' | sed 's/ $//')"

# topo exec: the same view, and the exit code passes through.
expect_eq "topo exec sees the same names" "10.20.2.2 10.20.2.3" \
    "$("$TOPO" exec -f net.yaml web -- getent ahostsv4 store | awk '{print $1}' | sort -u | tr '\n' ' ' | sed 's/ $//')"
rc=0; "$TOPO" exec -f net.yaml web -- sh -c 'exit 7' || rc=$?
expect_eq "topo exec passes the exit code through" 7 "$rc"
expect_eq "topo exec runs inside the sandbox's network" "eth0 eth1 lo" \
    "$("$TOPO" exec -f net.yaml web -- ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')"

# Renaming an alias rewrites only what it must.
sed -i 's/aliases: \[www\]/aliases: [frontpage]/' net.yaml
"$TOPO" plan -f net.yaml > rename.txt
expect_eq "renaming an alias changes the hosts files of web's front neighbours and web's own" \
    "~ file /etc/netns/names-api/hosts|~ file /etc/netns/names-web/hosts" \
    "$(grep '^  ~' rename.txt | awk '{print $1, $2, $3}' | tr '\n' '|' | sed 's/|$//')"
check "apply the rename" "$TOPO" apply -f net.yaml
expect_eq "the new alias resolves" "10.20.1.3" "$(lookup names-api frontpage)"
expect_eq "the old one no longer does" "" "$(lookup names-api www)"

# A hand-edited file is drift: plan shows it, apply repairs it.
echo "10.99.99.99 db" >> /etc/netns/names-web/hosts
rc=0; "$TOPO" plan -f net.yaml --detailed-exitcode > drift.txt || rc=$?
expect_eq "plan reports the edited file, and only it" "2 ~ file /etc/netns/names-web/hosts (content old → new)" \
    "$rc $(grep '~' drift.txt | sed -E 's/^ *//; s/ +/ /g; s/ [0-9]+ bytes//')"
check "apply repairs it" "$TOPO" apply -f net.yaml
# A link replaced by a file (as an older topo wrote them, or by hand) is put back.
rm /etc/netns/names-db/hosts; cp /etc/netns/names-web/hosts /etc/netns/names-db/hosts
expect_contains "plan shows a file where the link should be" "~ file     /etc/netns/names-db/hosts → ../.topo-names/back (link file → ../.topo-names/back)" \
    "$("$TOPO" plan -f net.yaml)"
check "apply puts the link back" "$TOPO" apply -f net.yaml
expect_eq "db's hosts is the link again" "../.topo-names/back" "$(readlink /etc/netns/names-db/hosts)"
expect_eq "db resolves to its real address again" "10.20.2.3" "$(lookup names-web db)"

# db joins a second network: its link becomes a file of its own, and back again.
cp net.yaml one-net.yaml
python3 - <<'PY'
s = open("net.yaml").read()
s = s.replace("  db:\n    networks:\n      back: {aliases: [store]}\n",
              "  db:\n    networks:\n      back: {aliases: [store]}\n      front: {}\n")
open("net.yaml", "w").write(s)
PY
check "apply db on two networks" "$TOPO" apply -f net.yaml
expect_eq "db's hosts is a file now" "" "$(readlink /etc/netns/names-db/hosts || true)"
expect_eq "db resolves web's front alias" "10.20.1.3" "$(lookup names-db frontpage)"
expect_eq "and cache on back still" "10.20.2.2" "$(lookup names-db cache)"
cp one-net.yaml net.yaml
check "apply db on one network again" "$TOPO" apply -f net.yaml
expect_eq "db's hosts is the link again" "../.topo-names/back" "$(readlink /etc/netns/names-db/hosts)"
expect_eq "and db no longer resolves the front alias" "" "$(lookup names-db frontpage)"

check "destroy" "$TOPO" destroy -f net.yaml
expect_eq "no file or directory of the project is left under /etc/netns" "" "$(ls /etc/netns)"

# Two networks whose generated bridge names collide (36 bits of a hash; a
# pair found by brute force): refused before anything is made, naming both.
# Once one bridge was silently shared and the networks leaked into each other.
cat > collide.yaml <<'YAML'
name: p
networks:
  net1797889: {ipam: {config: [{subnet: 10.21.1.0/24}]}}
  net2918306: {ipam: {config: [{subnet: 10.21.2.0/24}]}}
services:
  a: {networks: [net1797889]}
  b: {networks: [net2918306]}
YAML
expect_error "colliding generated names are refused, naming both networks" \
    "networks.net1797889 and networks.net2918306 get the same kernel name" "$TOPO" apply -f collide.yaml -y
expect_eq "and nothing was made" "" "$(ip netns list | grep '^p-' || true)"

# The caller's umask changes no mode topo gives: under 077 a sandbox's
# non-root programs can still read its hosts file, under 000 nothing is
# world-writable; `topo exec` runs the command with the caller's umask.
modes() { stat -c '%a %n' /etc/netns/names-db /etc/netns/.topo-names /etc/netns/.topo-names/back "$TOPO_STATE_DIR" "$TOPO_STATE_DIR/names.json" | sed "s#$TOPO_STATE_DIR#STATE#" | tr '\n' ' '; }
want="755 /etc/netns/names-db 755 /etc/netns/.topo-names 644 /etc/netns/.topo-names/back 755 STATE 644 STATE/names.json "
rm -rf "$TOPO_STATE_DIR"
check "apply under umask 077" bash -c "umask 077; \"$TOPO\" apply -f net.yaml"
expect_eq "directories 755, files 644" "$want" "$(modes)"
check "destroy" "$TOPO" destroy -f net.yaml
rm -rf "$TOPO_STATE_DIR"
check "apply under umask 000" bash -c "umask 000; \"$TOPO\" apply -f net.yaml"
expect_eq "nothing world-writable" "$want" "$(modes)"
expect_eq "topo exec gives the command the caller's umask" "0077" \
    "$(bash -c "umask 077; \"$TOPO\" exec -f net.yaml db -- sh -c umask")"
check "destroy" "$TOPO" destroy -f net.yaml
finish
