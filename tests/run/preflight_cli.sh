#!/bin/sh
# preflight_cli.sh: coop-run's checks before any trial (issue 19). Test
# plugins and the oxford_pets folder layout.
#   a dataset whose folder is missing: --dry-run and a run exit 2 naming the
#   YAML entry (file:line:col) and the path; no trial ran, no result written
#   shots above a class's training images: one warning naming the class and
#   the cap (what the sampler takes), in --dry-run and in a run
#   a dataset that fails for another reason is left to its trials (exit 1)
# Usage: preflight_cli.sh BUILD_ROOT (meson passes it; COOP_PLUGIN_PATH is set).
set -u
build=${1:?usage: preflight_cli.sh BUILD_ROOT}
run=$build/core/cli/coop-run/coop-run
fail() { echo "preflight_cli: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coop-test-preflight-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
echo toy > "$tmp/toy.ckpt"
mkdir "$tmp/data"
cat > "$tmp/missing.yaml" <<EOF
results_dir: $tmp/results
experiment: missing
data_root: $tmp/data
backbone: {plugin: toy, checkpoint: $tmp/toy.ckpt}
datasets:
  - toy_colors
  - oxford_pets
methods: [zeroshot]
EOF
cat > "$tmp/shots.yaml" <<EOF
results_dir: $tmp/results
experiment: shots
backbone: {plugin: toy, checkpoint: $tmp/toy.ckpt}
datasets:
  - name: toy_colors
    targets: [toy_colors_shift]
methods: [zeroshot, {name: coop, n_ctx: 2}]
shots: [4, 16, 20]
train: {epochs: 1, batch_size: 8}
EOF
cat > "$tmp/other.yaml" <<EOF
results_dir: $tmp/results
experiment: other
backbone: {plugin: toy, checkpoint: $tmp/toy.ckpt}
datasets:
  - name: toy_colors
    options: {fail_open: [false, true]}
methods: [zeroshot]
EOF
for mode in --dry-run --no-progress; do
    out=$("$run" $mode "$tmp/missing.yaml" 2>&1)
    [ $? = 2 ] || fail "$mode with a missing folder did not exit 2: $out"
    printf '%s\n' "$out" | grep -q "missing.yaml:7:5: before any trial ran: dataset 'oxford_pets'.*$tmp/data/oxford_pets" ||
        fail "$mode: no YAML line and path in: $out"
done
[ -z "$(find "$tmp/results" -name '*.h5' 2>/dev/null)" ] || fail "a trial ran despite missing data"

for mode in --dry-run --no-progress; do
    out=$("$run" $mode "$tmp/shots.yaml" 2>&1) || fail "$mode shots.yaml: $out"
    n=$(printf '%s\n' "$out" | grep -c "warning: .*shots.yaml:5:5: dataset 'toy_colors': class 'red' has 12 training images, fewer than shots 20: the sampler takes all 12 of them (3 more of its 4 classes have fewer than 20)")
    [ "$n" = 1 ] || fail "$mode: want the shots warning once, got $n in: $out"
done

out=$("$run" --no-progress "$tmp/other.yaml" 2>&1)
[ $? = 1 ] || fail "a dataset that refuses its options did not fail its trial alone: $out"
printf '%s\n' "$out" | grep -q "1 failed" || fail "no failed trial in: $out"
echo "preflight_cli: ok"
