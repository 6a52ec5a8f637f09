#!/usr/bin/env bash
# topo plan --base (README, "Plans in code review"): an unprivileged user, with no
# state directory and nothing of topo's on the host, gets the plan root gets on a
# host that holds the old manifest — the same changes, the same addresses —
# from a file, standard input or git; and the Markdown stays readable.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
make_world
chmod 755 "$WORK"
export HOME=$WORK  # git's configuration, for both users

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all env -u TOPO_STATE_DIR "$@"; }

new_checkout repo
cat > net.yaml <<'YAML'
name: shop
networks:
  front: {ipam: {config: [{subnet: 10.30.0.0/24}]}}
  back: {}
services:
  web: {networks: [front, back], ports: ["8080:80", "9000"]}
  db: {networks: [back]}
  old: {networks: [front]}
YAML
git add net.yaml && git commit -qm "the old network"
cp net.yaml old.yaml
# The change under review: a subnet moved, a service added, one removed, one more port.
cat > net.yaml <<'YAML'
name: shop
networks:
  front: {ipam: {config: [{subnet: 10.40.0.0/24}]}}
  back: {}
services:
  web: {networks: [front, back], ports: ["8080:80", "9000", "8443:443"]}
  db: {networks: [back]}
  cache: {networks: [back]}
YAML
chown -R 65534:65534 "$WORK/repo"
before=$(host_snapshot)

out=$(as_nobody "$TOPO" plan -f net.yaml --base git:HEAD:net.yaml 2>&1) && rc=0 || rc=$?
expect_eq "an unprivileged user plans the change against git's HEAD" 0 "$rc"
expect_contains "the moved subnet's new address" "+ address  shop-web:eth1 10.40.0.2/24" "$out"
expect_contains "the removed service" "- netns    shop-old" "$out"
expect_contains "the added service, with the address apply would give it" "+ address  shop-cache:eth0 172.17.0.4/16" "$out"
expect_contains "what depends on the host is said" "subnets of back are the pool's first free ones" "$out"
expect_contains "and the port picked on the host" "host ports published without a number (web)" "$out"
expect_eq "nothing on the host changed" "$before" "$(host_snapshot)"
check "and there is no state directory" test ! -e /var/lib/topo/shop.json

paper=$(as_nobody "$TOPO" plan -f net.yaml --base git:HEAD:net.yaml -o json | plan_changes)
expect_eq "git:HEAD (the -f files at HEAD) is the same" "$paper" "$(as_nobody "$TOPO" plan -f net.yaml --base git:HEAD -o json | plan_changes)"
expect_eq "a file is the same" "$paper" "$(as_nobody "$TOPO" plan -f net.yaml --base old.yaml -o json | plan_changes)"
expect_eq "standard input is the same" "$paper" "$(as_nobody "$TOPO" plan -f net.yaml --base - -o json < old.yaml | plan_changes)"
# The real thing: root applies the old manifest, then plans the new one.
check "root applies the old manifest" "$TOPO" apply -f old.yaml
real=$("$TOPO" plan -f net.yaml -o json | plan_changes)
expect_eq "the plan on paper is the plan on the host (every change, every address)" "$real" "$paper"
if [ "$real" != "$paper" ]; then diff <(echo "$real") <(echo "$paper") | sed 's/^/    /'; fi
"$TOPO" destroy -f old.yaml -y >/dev/null

rc=0; as_nobody "$TOPO" plan -f net.yaml --base git:HEAD:net.yaml --detailed-exitcode >/dev/null || rc=$?
expect_eq "--detailed-exitcode: 2 for a change" 2 "$rc"
rc=0; as_nobody "$TOPO" plan -f old.yaml --base git:HEAD:net.yaml --detailed-exitcode >/dev/null || rc=$?
expect_eq "and 0 for none" 0 "$rc"

md=$(as_nobody "$TOPO" plan -f net.yaml --base git:HEAD -o markdown)
expect_contains "Markdown: the summary first" "**Plan: " "$(echo "$md" | sed -n 3p)"
expect_contains "a line per group" "| network front | 1 to add, 1 to destroy |" "$md"
expect_contains "grouped by service" "#### service cache" "$md"

# A large change: every group folded past 12 lines, the comment under 60,000 characters.
{ echo "name: big"; echo "networks:"; for n in $(seq 1 20); do echo "  n$n: {ipam: {config: [{subnet: 10.$((100 + n)).0.0/24}]}}"; done
  echo "services:"; for i in $(seq 1 400); do echo "  s$i: {networks: [n$(( (i % 20) + 1 ))]}"; done
  echo "  hub: {networks: [$(seq -s, -f 'n%g' 1 20)]}"; } > big.yaml
echo "name: big" > empty.yaml
md=$(as_nobody "$TOPO" plan -f big.yaml --base empty.yaml -o markdown)
expect_eq "a plan of 400 sandboxes fits in a comment" 1 "$([ ${#md} -le 60000 ] && echo 1 || echo "0 (${#md})")"
expect_contains "long groups are folded" "<details><summary>service hub: 44 to add</summary>" "$md"
expect_contains "networks come first" "#### network n1" "$md"
expect_contains "the table of 424 groups is folded too" "<details><summary>424 groups</summary>" "$md"
expect_contains "and what was left out is said" "left out to keep this under 60000 characters" "$md"

# Through git, the files a manifest includes are read at REV too.
new_checkout "$WORK/inc"
printf 'include: [extra.yaml]\nname: inc\nnetworks:\n  n: {ipam: {config: [{subnet: 10.50.0.0/24}]}}\nservices:\n  a: {networks: [n]}\n' > net.yaml
printf 'services:\n  b: {networks: [n]}\n' > extra.yaml
git add . && git commit -qm inc
printf 'services:\n  b: {networks: [n]}\n  c: {networks: [n]}\n' > extra.yaml
expect_eq "an included file changed since REV: its new service is the change" "- create netns inc-c" \
    "$("$TOPO" plan -f net.yaml --base git:HEAD -o json | plan_changes | grep ' netns ')"
cd "$WORK/repo"

# The CI examples that post this: valid YAML, planning against the target branch and drawing the graph.
for ci in "$TOPO_SRC"/examples/ci/*.yml; do
    expect_eq "$(basename "$ci"): valid YAML that runs plan --base git:… and graph --format mermaid" "True" \
        "$(python3 -c 'import sys, yaml; t = open(sys.argv[1]).read(); yaml.safe_load(t); print("--base \"git:origin/" in t and "--format mermaid" in t and "--detailed-exitcode" in t)' "$ci")"
done

expect_error "a revision that is not there" "--base git:nosuch: no such revision" \
    as_nobody "$TOPO" plan -f net.yaml --base git:nosuch:net.yaml
expect_error "a file that is not at the revision" "other.yaml at HEAD:" \
    as_nobody "$TOPO" plan -f net.yaml --base git:HEAD:other.yaml
expect_error "a base that does not validate" "the base manifest (broken.yaml) is not valid:" \
    bash -c "printf 'services:\n  web: {networks: [nowhere]}\n' > broken.yaml; exec setpriv --reuid=65534 --regid=65534 --clear-groups '$TOPO' plan -f net.yaml --base broken.yaml"
expect_error "--base plans all of it" "leave out --out and service names" \
    as_nobody "$TOPO" plan -f net.yaml --base old.yaml web
finish
