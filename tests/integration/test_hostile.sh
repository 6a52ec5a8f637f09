#!/usr/bin/env bash
# A hostile or careless host: symbolic links where topo keeps its files are
# refused by name and never followed; what they point at is left byte for
# byte as it was. (The decoys live in the test's own directory: the real
# /etc is never a target, even of a bug.)
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

cat > net.yaml <<'YAML'
name: hp
networks:
  n1: {ipam: {config: [{subnet: 10.74.0.0/24}]}}
services:
  web: {networks: [n1]}
  db: {networks: [n1]}
YAML
mkdir decoy && echo precious > decoy/hosts && echo precious > decoy/n1
decoy() { find decoy -type f -exec sh -c 'echo "$1: $(cat "$1")"' _ {} \; | sort; ls -la decoy | awk '{print $1, $NF}'; }
kept=$(decoy)

ln -s "$WORK/decoy" /etc/netns/hp-web
expect_error "a sandbox directory that is a symbolic link is refused, by name" \
    "file /etc/netns/hp-web/hosts: /etc/netns/hp-web is a symbolic link; topo never follows one under its directories: remove it (it is not topo's)" \
    "$TOPO" apply -f net.yaml -y
expect_eq "what it points at is untouched" "$kept" "$(decoy)"
expect_eq "and nothing of the project was left" "" "$(ip netns list)"
rm /etc/netns/hp-web

ln -s "$WORK/decoy" /etc/netns/.topo-hp
expect_error "the project's shared directory as a symbolic link is refused" \
    "/etc/netns/.topo-hp is a symbolic link; topo never follows one under its directories" \
    "$TOPO" apply -f net.yaml -y
expect_eq "what it points at is untouched" "$kept" "$(decoy)"
rm /etc/netns/.topo-hp

# A user's object with the name topo would give one of its own: apply is
# refused, naming it, and neither apply nor destroy --collect changes it
# (`look` prints what must stay the same). Ownership is the marker, never
# the name.
refused_and_kept() {  # refused_and_kept WHAT MESSAGE LOOK
    local was
    was=$(eval "$3")
    expect_error "a user's $1 with topo's name is a conflict, named" "$2" "$TOPO" apply -f net.yaml -y
    expect_eq "apply leaves the $1 as it was" "$was" "$(eval "$3")"
    "$TOPO" destroy --project hp --collect -y >/dev/null 2>&1 || true
    expect_eq "destroy --collect leaves it too" "$was" "$(eval "$3")"
}

# A bridge with the name topo generates for n1 (once it was adopted, its
# address removed).
br=$("$TOPO" plan -f net.yaml | awk '$2 == "bridge" {print $3}')
ip link add "$br" type bridge
ip addr add 192.0.2.1/24 dev "$br"
refused_and_kept bridge "bridge $br exists and is not topo's; topo never changes what it did not create" \
    "ip -d addr show $br | grep -v 'inet6 fe80' | sed -E 's/ [a-z_]+_timer +[0-9.]+//g'"
ip link del "$br"

# A namespace with a sandbox's name (topo marks its own before it has a
# name): a conflict at plan time, not a failed create.
ip netns add hp-web
refused_and_kept namespace "netns hp-web exists and is not topo's; topo never changes what it did not create" \
    "ip netns list"
ip netns del hp-web

# A veth with the name topo generates for an endpoint (not the MAC a killed
# run's would have).
veth=$("$TOPO" plan -f net.yaml | awk '$2 == "veth" {print $3; exit}')
ip link add "$veth" type veth peer name userpeer
refused_and_kept veth "veth $veth exists and is not topo's; topo never changes what it did not create" \
    "ip -d link show $veth | sed -E 's/ [a-z_]+_timer +[0-9.]+//g'"
ip link del "$veth"

# An nftables table (it was rewritten, and deleted even by destroy --collect).
nft add table inet topo-hp
nft add chain inet topo-hp users '{ type filter hook input priority 0; }'
nft add rule inet topo-hp users tcp dport 9 accept
refused_and_kept "nft table" "nft-table topo-hp exists and is not topo's; topo never changes what it did not create" \
    "nft list table inet topo-hp"
nft delete table inet topo-hp

# A hosts file where topo would write a sandbox's (it was overwritten, and
# its directory removed by destroy).
mkdir /etc/netns/hp-web && echo "10.9.9.9 users-own" > /etc/netns/hp-web/hosts
refused_and_kept "hosts file" "file /etc/netns/hp-web/hosts exists and is not topo's; topo never changes what it did not create" \
    "ls -A /etc/netns/hp-web; cat /etc/netns/hp-web/hosts"
# A directory of somebody else's with other files, but no hosts file.
rm /etc/netns/hp-web/hosts && echo "hosts: files" > /etc/netns/hp-web/nsswitch.conf
expect_error "an unmarked directory with files in it is a conflict, named" \
    "directory /etc/netns/hp-web exists and is not topo's (it is not marked as project hp's, and has files in it); topo never writes into a directory it did not create" \
    "$TOPO" apply -f net.yaml -y
expect_eq "nothing was written into it" "nsswitch.conf" "$(ls -A /etc/netns/hp-web)"
rm -r /etc/netns/hp-web
# An empty directory holds nothing of anyone's: taken, and marked.
mkdir /etc/netns/hp-web

check "without the links, apply works" "$TOPO" apply -f net.yaml -y
owner() { python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "trusted.topo.owner").decode())' "$1"; }
expect_eq "a sandbox's directory is marked as the project's" "topo/hp/" "$(owner /etc/netns/hp-web)"
expect_eq "the shared directory too" "topo/hp/" "$(owner /etc/netns/.topo-hp)"
expect_eq "and holds only its two files (ip netns exec binds each over /etc)" "hosts resolv.conf" "$(ls /etc/netns/hp-web | xargs)"
expect_contains "the nft table carries the marker as its comment" 'comment "topo/hp/"' "$(nft list table inet topo-hp)"
# A link put in place of a sandbox's directory after the apply: destroy
# refuses to follow it too, and deletes nothing through it.
mv /etc/netns/hp-db /etc/netns/hp-db.real
ln -s "$WORK/decoy" /etc/netns/hp-db
expect_error "destroy does not follow a link put there since" "/etc/netns/hp-db is a symbolic link" \
    "$TOPO" destroy -f net.yaml -y
expect_eq "and deletes nothing through it" "$kept" "$(decoy)"
rm /etc/netns/hp-db && mv /etc/netns/hp-db.real /etc/netns/hp-db

# The state directory: a lock file that is a link is not followed.
ln -sf "$WORK/decoy/hosts" "$TOPO_STATE_DIR/hp.lock.tmp" && mv "$TOPO_STATE_DIR/hp.lock.tmp" "$TOPO_STATE_DIR/hp.lock"
expect_error "a lock file that is a symbolic link is refused" "hp.lock is a symbolic link; topo never follows one in its state directory" \
    "$TOPO" apply -f net.yaml -y
expect_eq "what it points at is untouched" "$kept" "$(decoy)"
rm "$TOPO_STATE_DIR/hp.lock"
# A file a user put into topo's directory since: destroy takes only its
# own, and the directory stays with the user's file in it.
echo "hosts: files" > /etc/netns/hp-web/nsswitch.conf
check "destroy" "$TOPO" destroy -f net.yaml -y
expect_eq "the user's file is kept, with its directory" "hp-web hp-web/nsswitch.conf" "$(cd /etc/netns && echo * hp-web/*)"
rm -r /etc/netns/hp-web
expect_eq "nothing else is left under /etc/netns" "" "$(ls -A /etc/netns)"

# Ports the host already uses: publishing one would take its program's
# traffic ("22:22" locks an operator out of SSH). Refused, naming it, unless
# --take-ports.
socat TCP-LISTEN:2222,fork,reuseaddr SYSTEM:'echo sshd' </dev/null >/dev/null 2>&1 &
socat -u UDP-RECV:5353,bind=127.0.0.1 /dev/null </dev/null >/dev/null 2>&1 &
for i in $(seq 1 50); do ss -Hltn | grep -q ':2222 ' && ss -Huln | grep -q ':5353 ' && break; sleep 0.1; done
cat > ports.yaml <<'YAML'
name: hpp
networks:
  n1: {ipam: {config: [{subnet: 10.74.1.0/24}]}}
services:
  web:
    networks: [n1]
    ports: ["2222:22", "5353:53/udp", "8080:80"]
YAML
out=$("$TOPO" plan -f ports.yaml 2>&1) || true
expect_contains "a TCP port a host program listens on is refused, naming the listener" \
    "host port 2222/tcp is taken: a program on this host listens on 0.0.0.0:2222, and publishing the port would take its traffic; publish another port, stop that program, or take it over (--take-ports, or x-topo-take-over: true on the port)" "$out"
expect_contains "so is a UDP one, even bound to 127.0.0.1 only (the port is published on every address)" \
    "host port 5353/udp is taken: a program on this host listens on 127.0.0.1:5353" "$out"
expect_eq "and only those two" 2 "$(grep -c 'is taken' <<<"$out")"
# The manifest can say it for one port, and the plan says what it takes.
sed -i 's|"2222:22", "5353:53/udp"|{target: 22, published: 2222, x-topo-take-over: true}, "5353:53/udp"|' ports.yaml
out=$("$TOPO" plan -f ports.yaml 2>&1) || true
expect_eq "x-topo-take-over on a port takes that one; the other is still refused" \
    "1 host port 5353/udp is taken" "$(grep -c 'is taken' <<<"$out") $(grep -o 'host port [0-9/a-z]* is taken' <<<"$out")"
sed -i 's|"5353:53/udp"|{target: 53, published: 5353, protocol: udp, x-topo-take-over: true}|' ports.yaml
out=$("$TOPO" plan -f ports.yaml 2>&1)
expect_contains "and the plan notes each port taken over" \
    "Note: host port 2222/tcp: a program on this host listens on 0.0.0.0:2222; the port is taken over (x-topo-take-over): its traffic goes to the sandbox" "$out"
out=$("$TOPO" plan -f ports.yaml --take-ports 2>&1)
expect_contains "--take-ports takes both, noted in the plan" \
    "Note: host port 5353/udp: a program on this host listens on 127.0.0.1:5353; the port is taken over (--take-ports)" "$out"
check "--take-ports says to take them" "$TOPO" apply -f ports.yaml -y --take-ports
expect_eq "the next plan is empty: ports already published are not refused again" "No changes. The host matches the manifest." \
    "$("$TOPO" plan -f ports.yaml 2>&1 | tail -1)"
check "destroy" "$TOPO" destroy -f ports.yaml -y
kill %socat 2>/dev/null || kill $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true

# Two projects applied at the same moment, both taking a subnet from the
# default pools: once they got the same one (5 of 5 runs) and broke each
# other's routing. The host's pools are allocated under one lock.
for p in pa pb; do printf 'name: %s\nservices:\n  box: {}\n' $p > $p.yaml; done
subnet() { ip -n "$1-box" -4 -o addr show eth0 | awk '{print $4}' | python3 -c 'import ipaddress,sys; print(ipaddress.ip_interface(sys.stdin.read().strip()).network)'; }
for run in 1 2 3 4 5; do
    "$TOPO" apply -f pa.yaml -y > pa.out 2>&1 & a=$!
    "$TOPO" apply -f pb.yaml -y > pb.out 2>&1 & b=$!
    rca=0; rcb=0; wait $a || rca=$?; wait $b || rcb=$?
    [ "$rca$rcb" = 00 ] || { fail "run $run: parallel applies: $(cat pa.out pb.out | grep -v '^  [-+~]')"; continue; }
    sa=$(subnet pa) sb=$(subnet pb)
    if [ "$sa" != "$sb" ]; then pass "run $run: parallel applies take different subnets ($sa, $sb)"; else fail "run $run: both took $sa"; fi
    check "run $run: each reaches its own gateway" bash -c "ping_ok() { ip netns exec \$1 ping -c1 -W1 \$2 >/dev/null; }; ping_ok pa-box $(ip -n pa-box route show default | awk '{print $3}') && ping_ok pb-box $(ip -n pb-box route show default | awk '{print $3}')"
    "$TOPO" destroy -f pa.yaml -y >/dev/null & "$TOPO" destroy -f pb.yaml -y >/dev/null; wait
done
finish
