#!/usr/bin/env bash
# External networks: a sandbox on a bridge topo did not make gets an address
# from the bridge's own subnet that nobody on it uses (its neighbour table
# and an ARP probe say who does), two projects on one bridge never get the
# same address, and the project that owns a bridge others are attached to
# is not destroyed under them without --force.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

# A user's bridge with two hosts on it: h2 has spoken (the bridge's neighbour
# table has it), h3 never has (only a probe finds it).
ip link add br-ext type bridge
ip addr add 10.99.0.1/24 dev br-ext
ip link set br-ext up
for n in 2 3; do
    ip netns add h$n
    ip link add hv$n type veth peer name eth0 netns h$n
    ip link set hv$n master br-ext up
    ip -n h$n addr add 10.99.0.$n/24 dev eth0
    ip -n h$n link set eth0 up
done
for i in $(seq 1 30); do ping -c1 -W1 10.99.0.2 >/dev/null 2>&1 && break; sleep 0.1; done

cat > a.yaml <<'YAML'
name: ea
networks:
  lan:
    external: true
    name: br-ext
services:
  web:
    networks: [lan]
YAML
cat > b.yaml <<'YAML'
name: eb
networks:
  lan:
    external: true
    name: br-ext
    ipam: {config: [{subnet: 10.99.0.0/24, gateway: 10.99.0.1}]}
services:
  api:
    networks: [lan]
YAML
addr() { ip -n "$1" -4 -o addr show eth0 | awk '{print $4}'; }
check "apply a project on the external bridge" "$TOPO" apply -f a.yaml -y
expect_eq "it gets the lowest address nobody answers for (.2 spoke, .3 answers the probe)" "10.99.0.4/24" "$(addr ea-web)"
expect_eq "its default route is the bridge's address" "default via 10.99.0.1 dev eth0 proto static" \
    "$(ip -n ea-web route show default | sed 's/ *$//')"
check "a second project with ipam for the same bridge" "$TOPO" apply -f b.yaml -y
expect_eq "never gets the first one's address" "10.99.0.5/24" "$(addr eb-api)"
check "it reaches the quiet host" ping_soon eb-api 10.99.0.3
check "and the first project's sandbox" ping_soon eb-api 10.99.0.4
expect_contains "a second apply keeps the address (its own neighbour entry is not someone else's)" \
    "No changes." "$("$TOPO" plan -f a.yaml)"

# A static address that something answers for is refused, with the key.
sed 's/networks: \[lan\]/networks: {lan: {ipv4_address: 10.99.0.3}}/' b.yaml | sed 's/name: eb/name: ec/' > c.yaml
expect_error "a static address in use on the bridge is refused" \
    "services.api.networks.lan.ipv4_address: 10.99.0.3 is in use on bridge br-ext (something answers ARP for it); choose another address" \
    "$TOPO" plan -f c.yaml

# A bridge without an IPv4 address and no ipam: said, not an address-less sandbox.
ip link add br-bare type bridge
sed 's/br-ext/br-bare/; s/name: ea/name: ed/' a.yaml > d.yaml
expect_error "an external bridge with no subnet and no ipam is refused" \
    "networks.lan: the external bridge br-bare has no IPv4 address to take a subnet from; give the network ipam.config" \
    "$TOPO" plan -f d.yaml

# IPv6 on the external bridge: the subnet and gateway from the bridge's own
# global address; fd99::2, which a quiet host holds, answers a Neighbor
# Solicitation and is skipped.
ip addr add fd99::1/64 dev br-ext nodad
ip netns add h6
ip link add hv6 type veth peer name eth0 netns h6
ip link set hv6 master br-ext up
ip -n h6 addr add fd99::2/64 dev eth0 nodad
ip -n h6 link set eth0 up
sed 's/name: ea/name: e6/; s/    external: true/    external: true\n    enable_ipv6: true/' a.yaml > e6.yaml
check "apply a dual-stack project on the external bridge" "$TOPO" apply -f e6.yaml -y
expect_eq "its IPv6 address is the lowest that nothing answers for" "fd99::3/64" \
    "$(ip -n e6-web -6 -o addr show eth0 scope global | awk '{print $4}')"
check "it reaches the quiet IPv6 host" ping_soon e6-web fd99::2 -6
expect_contains "and the next plan is empty" "No changes." "$("$TOPO" plan -f e6.yaml)"
sed 's/networks: \[lan\]/networks: {lan: {ipv6_address: "fd99::2"}}/; s/name: e6/name: e7/' e6.yaml > e7.yaml
printf '    ipam: {config: [{subnet: 10.99.0.0/24}, {subnet: "fd99::/64"}]}\n' > ipam.txt
sed -i '/enable_ipv6: true/r ipam.txt' e7.yaml
expect_error "a static IPv6 address that answers is refused, with its key" \
    "services.web.networks.lan.ipv6_address: fd99::2 is in use on bridge br-ext (something answers neighbour discovery for it)" \
    "$TOPO" plan -f e7.yaml
check "destroy the dual-stack project" "$TOPO" destroy -f e6.yaml -y

# The owner of a bridge another project is attached to.
cat > own.yaml <<'YAML'
name: owner
networks:
  shared:
    driver_opts: {com.docker.network.bridge.name: br-shared}
    ipam: {config: [{subnet: 10.98.0.0/24}]}
services:
  db:
    networks: [shared]
YAML
sed 's/br-ext/br-shared/; s/name: ea/name: guest/' a.yaml > guest.yaml
check "a project owns br-shared" "$TOPO" apply -f own.yaml -y
check "another attaches to it" "$TOPO" apply -f guest.yaml -y
check "and reaches the owner's sandbox" ping_soon guest-web 10.98.0.2
expect_error "destroying the owner is refused, naming the other project" \
    "bridge br-shared still has endpoints that are not this project's: $(ip -j link show master br-shared | python3 -c 'import json,sys; print([l["ifname"] for l in json.load(sys.stdin) if l.get("ifalias","").startswith("topo/guest/")][0])') (project guest)" \
    "$TOPO" destroy -f own.yaml -y
check "the owner's sandbox is still there" ping_soon guest-web 10.98.0.2
check "destroy --force cuts them off" "$TOPO" destroy -f own.yaml -y --force
check "destroy the rest" "$TOPO" destroy -f guest.yaml -y
check "and the others" "$TOPO" destroy -f b.yaml -y
check "and the first" "$TOPO" destroy -f a.yaml -y
expect_eq "the user's bridge keeps only its own ports" "hv2 hv3 hv6" "$(ip -j link show master br-ext | python3 -c 'import json,sys; print(" ".join(sorted(l["ifname"] for l in json.load(sys.stdin))))')"
finish
