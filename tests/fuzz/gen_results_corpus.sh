#!/usr/bin/env bash
# tests/fuzz/gen_results_corpus.sh: writes the results target's seeds, the
# sealed trial files of a tiny sweep (a zero-shot and a one-epoch CoOp trial on
# a few world-shapes images) as the current coop-run writes them, into
# tests/fuzz/corpus/results/{zeroshot,coop}.h5. Run from the repository root
# after a build: tests/fuzz/gen_results_corpus.sh [BUILD_DIR (default build)]
set -euo pipefail
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/tiny.yaml" <<YAML
experiment: tiny
results_dir: $tmp/results
backbone:
  plugin: clip
  checkpoint: $PWD/models/world-clip/world-clip.safetensors
  vocab: $PWD/models/world-clip/bpe_world.txt.gz
datasets:
  - name: world-shapes
    options: {train_per_class: 2, val_per_class: 1, test_per_class: 1}
methods:
  - {name: coop, n_ctx: 2}
  - zeroshot
shots: [1]
seeds: [1]
train: {epochs: 1, batch_size: 4}
augment: {mode: views, views: 1}
YAML
"$build"/core/cli/coop-run/coop-run --cache "$tmp/cache" "$tmp/tiny.yaml" >/dev/null 2>&1
out=tests/fuzz/corpus/results
for f in $(find "$tmp/results" -name "*.h5"); do
    case $(h5dump -a axes "$f") in
    *method=zeroshot*) cp "$f" "$out/zeroshot.h5" ;;
    *method=coop*) cp "$f" "$out/coop.h5" ;;
    esac
done
ls -l "$out"
