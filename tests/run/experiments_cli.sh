#!/bin/sh
# experiments_cli.sh: every experiment file the repository ships loads, with
# the trial count its comments and docs promise. The world files as written;
# the paper-* files with data_root and the checkpoint overridden on the
# command line (their data cannot be here): the matrix expands, and the
# pre-flight check then stops (exit 2) at the first missing dataset folder,
# naming the YAML entry, before any trial.
# Usage: experiments_cli.sh BUILD_ROOT SOURCE_ROOT (meson passes both).
set -u
build=${1:?usage: experiments_cli.sh BUILD_ROOT SOURCE_ROOT}
src=${2:?usage: experiments_cli.sh BUILD_ROOT SOURCE_ROOT}
run=$build/core/cli/coop-run/coop-run
fail() { echo "experiments_cli: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coop-test-experiments-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/data"
ck=$src/models/world-clip/world-clip.safetensors
seen=0
for f in "$src"/experiments/*.yaml; do
    name=$(basename "$f" .yaml)
    case $name in
    fewshot | world-dev) want=356 ;;
    world-base2new) want=40 ;;
    paper-fewshot) want=836 ;;
    paper-dg) want=10 ;;
    paper-base2new) want=110 ;;
    *) fail "$name.yaml: a new experiment file; add its trial count here" ;;
    esac
    seen=$((seen + 1))
    case $name in
    paper-*) set -- "data_root=$tmp/data" "backbone.checkpoint=$ck" ;;
    *) set -- ;;
    esac
    "$run" --print-config "$f" "$@" >"$tmp/$name.yaml" 2>"$tmp/$name.err" ||
        { cat "$tmp/$name.err"; fail "$name.yaml does not load"; }
    head -1 "$tmp/$name.yaml" | grep -q ": $want trials\$" ||
        fail "$name.yaml: $(head -1 "$tmp/$name.yaml"), expected $want trials"
    case $name in
    paper-*)
        "$run" --dry-run "$f" "$@" >"$tmp/$name.out" 2>&1
        rc=$?
        [ $rc = 2 ] || { cat "$tmp/$name.out"; fail "$name.yaml: --dry-run exit $rc, not 2"; }
        grep -q "$name.yaml:[0-9]*:[0-9]*: before any trial ran: dataset '[a-z_0-9]*'" \
            "$tmp/$name.out" || { cat "$tmp/$name.out"; fail "$name.yaml: no pre-flight error"; }
        ;;
    esac
done
[ $seen = 6 ] || fail "found $seen experiment files, expected 6"
echo "experiments_cli: ok"
