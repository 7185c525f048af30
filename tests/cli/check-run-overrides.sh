#!/bin/sh
# coop-run's command-line overrides and --print-config (docs/running.md,
# docs/experiments.md "Overrides"): overrides give the trials (ids) of the
# same edit made in the file; the printed config dry-runs to the same trials;
# a bad override and every error of a broken file are each reported, exit 2;
# --slurm (whose tasks re-read the file) refuses overrides.
# Arguments: coop-run, the source root.
set -u
run=$1
src=$2
fail=0
bad() { echo "FAIL: $*"; fail=1; }
dir=$(mktemp -d /tmp/coop-overrides-XXXXXX)
trap 'rm -rf "$dir"' EXIT
ck="$src/models/world-clip/world-clip.safetensors"
cat >"$dir/exp.yaml" <<YAML
backbone: {plugin: clip, checkpoint: $ck}
datasets: [world-shapes, world-colors]
methods:
  - name: coop
    n_ctx: 16
  - zeroshot
shots: [1, 2, 4]
seeds: [1, 2, 3]
YAML
cat >"$dir/edited.yaml" <<YAML
experiment: exp
backbone: {plugin: clip, checkpoint: $ck}
datasets: [world-shapes, world-colors]
methods:
  - name: coop
    n_ctx: [4, 8]
    label: short
  - zeroshot
shots: [1, 2]
seeds: [1]
train: {lr: 0.01}
YAML
set -- "shots=[1,2]" "seeds=[1]" "methods.coop.n_ctx=[4,8]" --set methods.coop.label=short \
    --set train.lr=0.01
"$run" --dry-run "$dir/exp.yaml" "$@" >"$dir/over.txt" 2>&1 || bad "dry-run with overrides exits $?"
"$run" --dry-run "$dir/edited.yaml" >"$dir/edit.txt" 2>&1 || bad "dry-run of the edited file exits $?"
grep -q "^10 trials$" "$dir/over.txt" || bad "overrides: $(tail -1 "$dir/over.txt")"
cmp -s "$dir/over.txt" "$dir/edit.txt" || bad "overrides and the edited file differ: $(diff "$dir/over.txt" "$dir/edit.txt")"
"$run" --print-config "$dir/exp.yaml" "$@" >"$dir/printed.yaml" 2>&1 || bad "--print-config exits $?"
grep -q "^# .*exp.yaml with overrides: 10 trials$" "$dir/printed.yaml" || bad "--print-config header: $(head -1 "$dir/printed.yaml")"
"$run" --dry-run "$dir/printed.yaml" >"$dir/print.txt" 2>&1 || bad "dry-run of the printed config exits $?"
cmp -s "$dir/over.txt" "$dir/print.txt" || bad "the printed config's trials differ: $(diff "$dir/over.txt" "$dir/print.txt")"
"$run" --dry-run "$dir/exp.yaml" methods.coop.n_ctx=x >"$dir/err.txt" 2>&1
rc=$?
[ $rc -eq 2 ] || bad "a bad override exits $rc, not 2"
grep -q "^coop-run: override 1 'methods.coop.n_ctx=x': coop: n_ctx: expected an integer, got 'x'$" \
    "$dir/err.txt" || bad "a bad override said: $(cat "$dir/err.txt")"
"$run" --slurm --no-submit "$dir/exp.yaml" shots=1 >"$dir/err.txt" 2>&1
rc=$?
[ $rc -eq 2 ] || bad "--slurm with an override exits $rc, not 2"
grep -q "save the overrides into it first" "$dir/err.txt" || bad "--slurm with an override said: $(cat "$dir/err.txt")"
printf 'backbone: {plugin: clip, checkpoint: %s}\ndatasets: [world-shapez]\nmethods: [coop]\nshots: 0\n' \
    "$ck" >"$dir/broken.yaml"
"$run" --dry-run "$dir/broken.yaml" >"$dir/err.txt" 2>&1
rc=$?
[ $rc -eq 2 ] || bad "a broken file exits $rc, not 2"
grep -q "broken.yaml:2:12: unknown dataset plugin 'world-shapez'" "$dir/err.txt" &&
    grep -q "broken.yaml:4:8: shots: 0 is out of range" "$dir/err.txt" &&
    grep -q "broken.yaml: 2 errors$" "$dir/err.txt" || bad "a broken file said: $(cat "$dir/err.txt")"
[ $fail -eq 0 ] && echo "overrides, --print-config and every error of a file as documented"
exit $fail
