#!/usr/bin/env bash
# A Compose project as people write it: values from a .env file and the
# environment through ${...} (ports, a subnet), --env-file instead of .env,
# a required variable that is missing, and a warning for an unset one. The
# interpolated ports answer from a "world" namespace.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
make_world

mkdir proj && cd proj
cat > compose.yaml <<'YAML'
name: shop
networks:
  front:
    ipam:
      config:
        - subnet: ${SUBNET:-10.77.0.0/24}
services:
  web:
    networks: [front]
    ports: ["${WEB_PORT:-8080}:80"]
YAML
cat > .env <<'ENV'
# what this checkout runs with
export WEB_PORT=9090
SUBNET="10.78.0.0/24"
ENV
check "apply with .env" "$TOPO" apply -f compose.yaml
expect_contains "the subnet comes from .env" "10.78.0.1/24" "$(ip -br addr show | grep '^tb')"
ip netns exec shop-web socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo web' </dev/null >/dev/null 2>&1 &
wait_listening shop-web 1
expect_eq "the port from .env answers the world" "web" "$(world_tcp 198.51.100.1:9090)"
expect_eq "the default port does not" "" "$(world_tcp 198.51.100.1:8080)"
rc=0; WEB_PORT=9191 "$TOPO" plan -f compose.yaml --detailed-exitcode >/dev/null || rc=$?
expect_eq "the environment wins over .env" 2 "$rc"
check "apply with the environment's port" env WEB_PORT=9191 "$TOPO" apply -f compose.yaml
expect_eq "it answers there" "web" "$(world_tcp 198.51.100.1:9191)"
echo "WEB_PORT=9292" > other.env
check "--env-file replaces .env" "$TOPO" apply -f compose.yaml --env-file other.env
expect_eq "its port answers" "web" "$(world_tcp 198.51.100.1:9292)"
expect_contains "and the subnet is the default again (.env not read)" "10.77.0.1/24" "$(ip -br addr show | grep '^tb')"
rc=0; "$TOPO" plan -f compose.yaml --env-file other.env --detailed-exitcode >/dev/null 2>&1 || rc=$?
expect_eq "after the subnet and port changed under a running program, the next plan is empty" 0 "$rc"
expect_eq "and the program in the sandbox still answers, at its new address" "web" "$(world_tcp 198.51.100.1:9292)"
check "back to .env" "$TOPO" apply -f compose.yaml
rc=0; "$TOPO" plan -f compose.yaml --detailed-exitcode >/dev/null 2>&1 || rc=$?
expect_eq "and back, the next plan is empty" 0 "$rc"
expect_eq "the same program answers on .env's port" "web" "$(world_tcp 198.51.100.1:9090)"
check "and --env-file again, for what follows" "$TOPO" apply -f compose.yaml --env-file other.env

sed -i 's/${WEB_PORT:-8080}:80/${WEB_PORT:?set WEB_PORT to the port to publish}:80/' compose.yaml
before=$(host_snapshot)
expect_error "a required variable that is missing stops with its message, at its place" \
    "compose.yaml:10:13: services.web.ports[0]: variable WEB_PORT is not set: set WEB_PORT to the port to publish" \
    "$TOPO" apply -f compose.yaml --env-file /dev/null
expect_eq "and changes nothing" "$before" "$(host_snapshot)"
sed -i 's/${WEB_PORT:?set WEB_PORT to the port to publish}:80/${WEB_PORT}:80/; s/- subnet: ${SUBNET:-10.77.0.0\/24}/- subnet: 10.77.0.0\/24${SUFFIX}/' compose.yaml
out=$(WEB_PORT=9292 "$TOPO" plan -f compose.yaml --env-file /dev/null 2>&1 >/dev/null)
expect_contains "an unset variable is a warning naming it and its place" \
    "compose.yaml:6:19: networks.front.ipam.config[0].subnet: warning: variable SUFFIX is not set, and is an empty string here" "$out"
# Profiles: a service of a profile is built only when the profile is active.
cat >> compose.yaml <<'YAML'
  debug:
    profiles: [debug]
    networks: [front]
YAML
expect_eq "a service of an inactive profile is not planned" "" \
    "$(WEB_PORT=9292 "$TOPO" plan -f compose.yaml --env-file other.env 2>/dev/null | grep shop-debug || true)"
expect_contains "--profile activates it" "netns    shop-debug" \
    "$(WEB_PORT=9292 "$TOPO" plan -f compose.yaml --env-file other.env --profile debug 2>/dev/null)"
expect_contains "COMPOSE_PROFILES too" "netns    shop-debug" \
    "$(WEB_PORT=9292 COMPOSE_PROFILES=debug "$TOPO" plan -f compose.yaml --env-file other.env 2>/dev/null)"
expect_contains "and naming the service does" "netns    shop-debug" \
    "$(WEB_PORT=9292 "$TOPO" plan -f compose.yaml --env-file other.env debug 2>/dev/null)"

# topo config: the manifest as topo reads it.
resolved=$(WEB_PORT=9393 "$TOPO" config -f compose.yaml --env-file other.env -o json)
expect_eq "config gives the interpolated port" '["9393:80"]' \
    "$(echo "$resolved" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["services"]["web"]["ports"]))')"
expect_eq "and leaves out the inactive profile's service" "False" \
    "$(echo "$resolved" | python3 -c 'import json,sys; print("debug" in json.load(sys.stdin)["services"])')"
WEB_PORT=9393 "$TOPO" config -f compose.yaml --env-file other.env > resolved.yaml
check "its YAML reads back as a valid manifest" "$TOPO" validate -f resolved.yaml

# No -f: the Compose file of this directory or a parent, with its override.
cat > compose.override.yaml <<'YAML'
services:
  cache: {networks: [front]}
YAML
mkdir -p deeper/still && (cd deeper/still && WEB_PORT=9292 "$TOPO" plan --env-file ../../other.env > "$WORK/found.txt" 2>&1) || true
expect_contains "without -f, compose.yaml is found in a parent directory" "Plan: 6 to add" "$(cat "$WORK/found.txt")"
expect_contains "and compose.override.yaml is merged on top" "netns    shop-cache" "$(cat "$WORK/found.txt")"
rm compose.override.yaml
check "destroy" "$TOPO" destroy -f compose.yaml --env-file other.env
echo "COMPOSE_PROJECT_NAME=store" >> other.env
sed -i '/^name: shop$/d' compose.yaml
expect_contains "COMPOSE_PROJECT_NAME names the project" "netns    store-web" \
    "$(WEB_PORT=9292 "$TOPO" plan -f compose.yaml --env-file other.env 2>/dev/null)"
expect_contains "--project still wins" "netns    other-web" \
    "$(WEB_PORT=9292 "$TOPO" plan -f compose.yaml --env-file other.env -p other 2>/dev/null)"

# COMPOSE_FILE from .env, split at COMPOSE_PATH_SEPARATOR.
mkdir "$WORK/split" && cd "$WORK/split"
printf 'name: split\nservices:\n  a: {}\n' > base.yaml
printf 'services:\n  b: {}\n' > extra.yaml
printf 'COMPOSE_FILE=base.yaml;extra.yaml\nCOMPOSE_PATH_SEPARATOR=;\n' > .env
out=$("$TOPO" plan 2>&1)
expect_contains "COMPOSE_FILE in .env names the files, split at COMPOSE_PATH_SEPARATOR" "netns    split-a" "$out"
expect_contains "both of them" "netns    split-b" "$out"

# Lines Compose files often hold: a network name longer than an interface's,
# host.docker.internal:host-gateway, and a host-mode service's ports.
mkdir "$WORK/common" && cd "$WORK/common"
cat > compose.yaml <<'YAML'
name: common
networks:
  shared: {name: my-app-shared-network, ipam: {config: [{subnet: 10.77.0.0/24}]}}
services:
  app:
    networks: [shared]
    extra_hosts: ["host.docker.internal:host-gateway"]
    read_only: true
    healthcheck: {test: ["CMD", "true"], retries: 3}
    environment: {tty: "true"}
  agent: {network_mode: host, ports: ["9100:9100"]}
YAML
expect_eq "config -o json types what Compose types, and leaves the environment's text" "True 3 true" \
    "$("$TOPO" config -o json | python3 -c 'import json,sys; a=json.load(sys.stdin)["services"]["app"]; print(a["read_only"], a["healthcheck"]["retries"], a["environment"]["tty"])')"
out=$("$TOPO" apply -y 2>&1) || fail "apply the common lines: $out"
expect_contains "a host-mode service's ports are discarded with a warning, as Docker does" \
    "services.agent.ports: warning: ports are discarded with network_mode: host" "$out"
expect_eq "host.docker.internal is the host, at the gateway of app's network" "10.77.0.1 host.docker.internal" \
    "$(ip netns exec common-app getent hosts host.docker.internal | awk '{print $1, $2}')"
check "and app reaches the host there" ip netns exec common-app ping -c1 -W2 host.docker.internal
expect_contains "the next plan is empty" "No changes" "$("$TOPO" plan 2>/dev/null)"
check "destroy" "$TOPO" destroy -y
finish
