#!/bin/sh
# target_options.sh: a domain-shift target is opened with its source's options
# that the target's plugin declares. World tasks and the shipped world CLIP:
# world-shapes {test_per_class: 2, test_split: S} gives its -v2 target
# 12 x 2 = 24 test items (not the default 300), for S = test and S = dev, and
# the dev experiment's trial is another trial (another id).
# Usage: target_options.sh BUILD_ROOT SOURCE_ROOT (meson passes both).
set -u
build=${1:?usage: target_options.sh BUILD_ROOT SOURCE_ROOT}
src=${2:?usage: target_options.sh BUILD_ROOT SOURCE_ROOT}
run=$build/core/cli/coop-run/coop-run
fail() { echo "target_options: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coop-test-targets-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
for split in test dev; do
    cat > "$tmp/$split.yaml" <<EOF
results_dir: $tmp/results
experiment: $split
backbone:
  plugin: clip
  checkpoint: $src/models/world-clip/world-clip.safetensors
datasets:
  - name: world-shapes
    options: {test_per_class: 2, test_split: $split}
    targets: [world-shapes-v2]
methods: [zeroshot]
EOF
    "$run" --quiet --no-progress "$tmp/$split.yaml" >"$tmp/$split.log" 2>&1 ||
        { cat "$tmp/$split.log"; fail "coop-run on $split failed"; }
    f=$(ls "$tmp/results/$split"/*.h5) || fail "no result for $split"
    for t in test world-shapes-v2; do
        n=$(h5dump -d "/eval/$t/n_samples" "$f" | sed -n 's/^ *(0): *\([0-9.]*\).*/\1/p')
        [ "${n%.*}" = 24 ] || fail "$split: eval/$t/n_samples is '$n', not 24 (options not inherited)"
    done
done
[ "$(ls "$tmp/results/test")" != "$(ls "$tmp/results/dev")" ] || fail "dev and test share a trial id"
echo "target_options: ok"
