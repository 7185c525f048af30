#!/bin/sh
# ensemble_templates.sh: prompt ensembling uses the dataset's own template
# list where the dataset has one (the world tasks do), and CoOp's 7 ImageNet
# templates + the dataset's template with template_set: coop7. World-textures
# (dev split) and the shipped world CLIP: the default ensemble's confusion
# matrix equals that of the same list given as templates:, differs from
# coop7's, and each trial's method_state says which list it averaged.
# Usage: ensemble_templates.sh BUILD_ROOT SOURCE_ROOT (meson passes both).
set -u
build=${1:?usage: ensemble_templates.sh BUILD_ROOT SOURCE_ROOT}
src=${2:?usage: ensemble_templates.sh BUILD_ROOT SOURCE_ROOT}
run=$build/core/cli/coop-run/coop-run
fail() { echo "ensemble_templates: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coop-test-ensemble-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
list="a {} texture.; a photo of a small {} texture.; a photo of a medium sized {} texture.;\
 a photo of a large {} texture.; a photo of a {} texture on a plain background.;\
 a photo of a {} texture on a noisy background.; a photo of a {} texture on a gradient background.;\
 a photo of a {} texture on a grid background."
for v in dataset coop7 explicit; do
    case $v in
    dataset) m="[ensemble]" ;;
    coop7) m="[{name: ensemble, template_set: coop7}]" ;;
    explicit) m="[{name: ensemble, templates: \"$list\"}]" ;;
    esac
    cat > "$tmp/$v.yaml" <<EOF
results_dir: $tmp/results
experiment: $v
backbone:
  plugin: clip
  checkpoint: $src/models/world-clip/world-clip.safetensors
datasets:
  - name: world-textures
    options: {test_split: dev}
methods: $m
EOF
    "$run" --quiet --no-progress "$tmp/$v.yaml" >"$tmp/$v.log" 2>&1 ||
        { cat "$tmp/$v.log"; fail "coop-run ($v) failed"; }
    f=$(ls "$tmp/results/$v"/*.h5) || fail "no result for $v"
    h5dump -d /eval/test/confusion "$f" | sed -n '/DATA/,$p' > "$tmp/$v.confusion" ||
        fail "$v: no confusion matrix"
    h5dump -a /method_state "$f" | sed -n 's/.*(0): *"\(.*\)".*/\1/p' > "$tmp/$v.state"
done
grep -q "of 8 templates (the dataset's list)" "$tmp/dataset.state" ||
    fail "default ensemble: method_state '$(cat "$tmp/dataset.state")'"
grep -q "CoOp's 7 ImageNet templates" "$tmp/coop7.state" ||
    fail "coop7 ensemble: method_state '$(cat "$tmp/coop7.state")'"
grep -q "of 8 templates (user's)" "$tmp/explicit.state" ||
    fail "explicit ensemble: method_state '$(cat "$tmp/explicit.state")'"
cmp -s "$tmp/dataset.confusion" "$tmp/explicit.confusion" ||
    fail "the default ensemble is not the dataset's list"
cmp -s "$tmp/dataset.confusion" "$tmp/coop7.confusion" &&
    fail "the dataset's list and coop7 give the same confusion matrix"
echo "ensemble_templates: ok"
