#!/bin/sh
# progress_cli.sh: what coop-run prints while it runs (issue 19). Test plugins.
#   --progress at COLUMNS=W: every redrawn status line fits in W-1 columns,
#   keeps shots and seed, and leaves out the axis every trial shares
#   piped (no terminal): at most 3 lines per trial besides the summary;
#   --verbose: a line per phase; --quiet: the summary only
# Usage: progress_cli.sh BUILD_ROOT (meson passes it; COOP_PLUGIN_PATH is set).
set -u
build=${1:?usage: progress_cli.sh BUILD_ROOT}
run=$build/core/cli/coop-run/coop-run
fail() { echo "progress_cli: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coop-test-progress-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
echo toy > "$tmp/toy.ckpt"
y=$tmp/p.yaml
cat > "$y" <<EOF
results_dir: $tmp/results
experiment: progress
backbone: {plugin: toy, checkpoint: $tmp/toy.ckpt}
datasets: [toy_colors]
methods:
  - {name: coop, n_ctx: [2, 4], position: [end, middle], csc: [false, true]}
  - zeroshot
shots: [1, 2]
seeds: [1, 2]
train: {epochs: 3, batch_size: 8}
EOF
fresh() { rm -rf "$tmp/results"; }
trials=$("$run" --dry-run "$y" | grep -cE '^[0-9a-f]{16} ')
[ "$trials" -gt 10 ] || fail "want more than 10 trials, got $trials"

for w in 24 40 60 80 132; do
    fresh
    COLUMNS=$w "$run" --progress "$y" > "$tmp/summary" 2> "$tmp/err" || fail "run at $w columns"
    # status lines: what follows a carriage return and ESC[K without a newline
    tr '\r' '\n' < "$tmp/err" | sed -n 's/^\x1b\[K//p' > "$tmp/segments"
    tr '\r' '\n' < "$tmp/err" | awk 'END { exit NR < 2 }' || fail "no status lines"
    awk -v RS='\r' -v w="$w" '
        index($0, "\n") == 0 && substr($0, 1, 3) == "\033[K" {
            n++
            if (length($0) - 3 > w - 1) { print "width " w ": " length($0) - 3 ": " $0; bad = 1 }
        }
        END { if (n < 10) { print "only " n " status lines"; bad = 1 } exit bad }' \
        "$tmp/err" || fail "status line wider than $w - 1 columns"
    if [ "$w" -ge 60 ]; then
        grep -q 'shots=2 seed=2' "$tmp/segments" || fail "no shots and seed at $w columns"
    fi
    if grep -v ' done: ' "$tmp/segments" | grep -q 'dataset=toy_colors'; then
        fail "the constant dataset axis is in the status line at $w columns"
    fi
done

fresh
"$run" "$y" > "$tmp/summary" 2> "$tmp/err" || fail "piped run"
lines=$(wc -l < "$tmp/err")
[ "$lines" -le $((3 * trials)) ] || fail "$lines lines for $trials trials piped"
[ "$(grep -c ': started' "$tmp/err")" = "$trials" ] || fail "not one start line per trial"
[ "$(grep -c ' done: .*test accuracy .*s)$' "$tmp/err")" = "$trials" ] ||
    fail "not one end line (accuracy, time) per trial"

fresh
"$run" --verbose "$y" > "$tmp/summary" 2> "$tmp/verbose" || fail "--verbose run"
grep -q 'training epoch 3/3' "$tmp/verbose" || fail "--verbose shows no epochs"
[ "$(wc -l < "$tmp/verbose")" -gt "$lines" ] || fail "--verbose not more detailed"

fresh
"$run" --quiet "$y" > "$tmp/summary" 2> "$tmp/quiet" || fail "--quiet run"
[ -s "$tmp/quiet" ] && fail "--quiet printed: $(cat "$tmp/quiet")"
grep -q "^$trials trials: $trials completed now" "$tmp/summary" || fail "--quiet: no summary"
echo "progress_cli: ok ($trials trials, piped $lines lines)"
