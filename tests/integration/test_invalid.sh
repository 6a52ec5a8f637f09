#!/usr/bin/env bash
# Bad manifests change nothing: `topo apply` on each exits 1, names the file,
# line, column and key path, and the host is byte-for-byte what it was.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

# A project already applied, and a foreign bridge: neither may change.
cat > good.yaml <<'YAML'
name: keep
services:
  a: {}
YAML
"$TOPO" apply -f good.yaml >/dev/null
ip link add userbr type bridge
before=$(host_snapshot)

bad() {  # bad EXPECTED_PREFIX <<YAML
    cat > net.yaml
    expect_error "rejected: $1" "$1" "$TOPO" apply -f net.yaml
}
bad "net.yaml:3:13: services.web.ports[0]: port 99999 is out of range (1-65535)" <<'YAML'
services:
  web:
    ports: ["99999:80"]
YAML
bad "net.yaml:4:15: services.web.networks.backnd: unknown network \"backnd\"; did you mean backend?" <<'YAML'
networks: {backend: {}, frontend: {}}
services:
  web:
    networks: [backnd]
YAML
bad "net.yaml:2:1: servise: unknown key \"servise\"; did you mean services?" <<'YAML'
name: keep
servise: {}
YAML
bad "net.yaml:3:5: services.web.netwroks: unknown key \"netwroks\"; did you mean networks?" <<'YAML'
services:
  web:
    netwroks: [a]
YAML
bad "net.yaml:2:15: networks.n.driver: unknown driver \"weave\"" <<'YAML'
networks:
  n: {driver: weave}
YAML
bad "net.yaml:3:30: networks.n.ipam.config[0].subnet: 10.0.42.1/24 has host bits set; did you mean 10.0.42.0/24?" <<'YAML'
networks:
  n:
    ipam: {config: [{subnet: 10.0.42.1/24}]}
YAML
bad "net.yaml:7:10: services.web.networks.n.ipv4_address: 10.0.42.1 is the network's gateway" <<'YAML'
networks:
  n:
    ipam: {config: [{subnet: 10.0.42.0/24}]}
services:
  web:
    networks:
      n: {ipv4_address: 10.0.42.1}
YAML
bad "net.yaml:5:5: networks.b: subnet 10.0.42.0/24 overlaps network a (10.0.0.0/16)" <<'YAML'
networks:
  a:
    ipam: {config: [{subnet: 10.0.0.0/16}]}
  b:
    ipam: {config: [{subnet: 10.0.42.0/24}]}
YAML
bad "net.yaml:3:15: services.b.ports[0]: host port 8000/tcp is already published by service a" <<'YAML'
services:
  a: {ports: ["8080:80"]}
  b: {ports: ["8000-8090:7000-7090"]}
YAML
bad "net.yaml:2:15: services.a.ports[0]: published range 8000-8002 and target range 7000-7001 differ in length" <<'YAML'
services:
  a: {ports: ["8000-8002:7000-7001"]}
YAML
bad "net.yaml:5:12: services.a.ports: published ports need a network that is not internal" <<'YAML'
networks: {b: {internal: true}}
services:
  a:
    networks: [b]
    ports: ["80:80"]
YAML
bad "net.yaml:2:3: services.../etc: \"../etc\" is not a valid name" <<'YAML'
services:
  ../etc: {}
YAML
bad "net.yaml:2:13: networks.n.name: \"averyveryverylongbridgename\" is not a valid bridge name" <<'YAML'
networks:
  n: {name: averyveryverylongbridgename}
YAML
bad "net.yaml:1:7: name: \"Shop!\" is not a valid project name" <<'YAML'
name: Shop!
services: {}
YAML
bad "net.yaml:3:3: services.a: this key appears twice; keep one" <<'YAML'
services:
  a: {}
  a: {}
YAML
bad "net.yaml:3:1: (yaml): did not find expected node content (while parsing a flow node)" <<'YAML'
services:
  a: [
YAML
bad "net.yaml: (document): the document expands to more than 200000 nodes (YAML aliases?)" <<'YAML'
a: &a [x,x,x,x,x,x,x,x,x,x]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
YAML
# Several errors are all reported at once.
cat > net.yaml <<'YAML'
services:
  a: {ports: ["0:80"]}
  b: {networks: [nope]}
YAML
out=$("$TOPO" apply -f net.yaml 2>&1) || true
expect_contains "the first of two errors" "net.yaml:2:15: services.a.ports[0]: port 0 is out of range (1-65535)" "$out"
expect_contains "the second of two errors" "net.yaml:3:17: services.b.networks.nope: unknown network \"nope\"" "$out"
expect_contains "and a count" "the manifest has 2 error(s); nothing was changed" "$out"

# Inputs that are not manifest files: refused by what they are, at once.
expect_error "/dev/zero is refused, not read without end" "/dev/zero is a character device; give a manifest file, or - to read standard input" \
    "$TOPO" validate -f /dev/zero
mkfifo fifo
expect_error "a FIFO nobody writes to is refused without hanging" "fifo is a FIFO; give a manifest file" \
    timeout 5 "$TOPO" validate -f fifo
mkdir adir
expect_error "a directory is named as one" "adir is a directory; give a manifest file (topo watch -f DIR takes a directory of them)" \
    "$TOPO" plan -f adir
head -c 1100000 /dev/zero | tr '\0' '#' > huge.yaml
expect_error "a manifest over 1 MiB is refused" "the manifest is more than 1048576 bytes (1 MiB), the most topo reads" \
    "$TOPO" validate -f huge.yaml
check "standard input is read with -f -" bash -c "\"$TOPO\" validate -f - < good.yaml"
expect_error "a --project that is a path is refused" "--project ../x: not a valid project name" \
    "$TOPO" destroy --project ../x
expect_error "and one that looks like an option" "--project -x: not a valid project name" \
    "$TOPO" destroy --project=-x

expect_eq "after all of them the host is byte-for-byte unchanged" "$before" "$(host_snapshot)"
"$TOPO" destroy -f good.yaml >/dev/null
finish
