#!/usr/bin/env bash
# `topo completion bash`, sourced into bash and asked as bash asks it: the
# commands, a command's options, an option's values, and the services of the
# manifest named with -f or found in the working directory (through
# `topo config --services`). Reads no host state: no namespace needed.
source "$(dirname "$0")/lib.sh"
WORK=$(mktemp -d /tmp/topo-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
"$TOPO" completion bash > topo.bash
"$TOPO" completion zsh > _topo
# The words of a command line being completed, the last one the word under
# the cursor; prints the completions bash would offer, sorted, on one line.
complete_words() {
    bash -c 'source ./topo.bash
             COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
             _topo
             printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"' bash "$@"
}
demo=$TOPO_SRC/examples/demo.yaml

check "the bash script parses" bash -n topo.bash
expect_eq "it completes topo with _topo" "complete -F _topo topo" "$(bash -c 'source ./topo.bash; complete -p topo')"
expect_eq "commands" "plan probe" "$(complete_words "$TOPO" p)"
commands=$(complete_words "$TOPO" "")
expect_contains "every command --help lists" "apply completion config destroy exec graph ls plan probe recover show status validate version watch" "$commands"
case " $commands " in *" __man "*) fail "the hidden __man is offered" ;; *) pass "the hidden __man is not offered" ;; esac
expect_eq "a command's flags" "--detailed-exitcode" "$(complete_words "$TOPO" plan --det)"
expect_eq "the global flags, after the command too" "--no-color" "$(complete_words "$TOPO" plan --no-c)"
expect_eq "an option's values" "json markdown text" "$(complete_words "$TOPO" -o "")"
expect_eq "a value after --output=" "json" "$(complete_words "$TOPO" --output = j)"
expect_eq "a command's option's values" "dot mermaid" "$(complete_words "$TOPO" graph --format "")"
expect_eq "completion's argument" "bash zsh" "$(complete_words "$TOPO" completion "")"
expect_eq "services of the manifest given with -f" "api db web" "$(complete_words "$TOPO" -f "$demo" plan "")"
expect_eq "with --file= and a prefix" "web" "$(complete_words "$TOPO" apply --file = "$demo" w)"
expect_eq "after another service" "api db web" "$(complete_words "$TOPO" probe -f "$demo" web "")"
expect_eq "exec: the service, first" "api db web" "$(complete_words "$TOPO" exec -f "$demo" "")"
expect_eq "an option's value is not taken for the command" "api db web" \
    "$(complete_words "$TOPO" -p plan -f "$demo" apply "")"
cp "$demo" compose.yaml
expect_eq "services of the Compose file found here, without -f" "api db web" "$(complete_words "$TOPO" apply "")"
expect_eq "config --services: one a line" "web api db" "$("$TOPO" config -f "$demo" --services | tr '\n' ' ' | sed 's/ $//')"
cat > profiles.yaml <<'YAML'
networks: {lan: {}}
services:
  a: {networks: [lan]}
  debug: {networks: [lan], profiles: [debug]}
YAML
expect_eq "config --services leaves out inactive profiles" "a" "$("$TOPO" config -f profiles.yaml --services)"
expect_eq "and completion passes --profile on" "a debug" "$(complete_words "$TOPO" --profile debug -f profiles.yaml plan "")"
if command -v zsh >/dev/null; then check "the zsh script parses" zsh -n _topo; fi
finish
