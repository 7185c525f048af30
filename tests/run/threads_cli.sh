#!/bin/sh
# threads_cli.sh: coop-run's threads setting (issue 19). Test plugins.
#   `threads:` changes no trial id; a bad value is an error with
#   file:line:column (exit 2), as is a bad --threads; --threads beats the
#   YAML, and results record the threads that ran; without OMP_WAIT_POLICY
#   in the environment coop re-executes once with it passive (libgomp's spin
#   count 0), and what the user set (a spin count, OpenBLAS's timeout) is kept; coop-eval --threads is
#   recorded in what it writes, and coop-eval and coop-pretrain refuse a bad one;
#   `jobs:` / --jobs likewise change no id and refuse a bad value, and share
#   the CPUs among the workers when no thread count is given
# Usage: threads_cli.sh BUILD_ROOT (meson passes it; COOP_PLUGIN_PATH is set).
set -u
build=${1:?usage: threads_cli.sh BUILD_ROOT}
run=$build/core/cli/coop-run/coop-run
fail() { echo "threads_cli: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coop-test-threads-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
echo toy > "$tmp/toy.ckpt"
# $1: file, $2: extra YAML appended
write_yaml() {
    cat > "$1" <<EOF
results_dir: $tmp/results
experiment: threads
backbone: {plugin: toy, checkpoint: $tmp/toy.ckpt}
datasets: [toy_colors]
methods: [zeroshot, {name: coop, n_ctx: 2}]
shots: 1
train: {epochs: 1, batch_size: 8}
$2
EOF
}
write_yaml "$tmp/plain.yaml" ""
write_yaml "$tmp/t3.yaml" "threads: 3"
write_yaml "$tmp/bad.yaml" "threads: two"
write_yaml "$tmp/j2.yaml" "jobs: 2"
write_yaml "$tmp/badj.yaml" "jobs: 0"
ids() { "$run" --dry-run "$1" | grep -E '^[0-9a-f]{16} ' | cut -c1-16; }
[ -n "$(ids "$tmp/plain.yaml")" ] || fail "no trials"
[ "$(ids "$tmp/plain.yaml")" = "$(ids "$tmp/t3.yaml")" ] || fail "threads: changed trial ids"

out=$("$run" --dry-run "$tmp/bad.yaml" 2>&1)
[ $? = 2 ] || fail "threads: two did not exit 2: $out"
printf '%s\n' "$out" | grep -q "bad.yaml:8:10: threads: want a whole number" ||
    fail "no file:line:col for threads: two: $out"
out=$("$run" --threads 0 "$tmp/plain.yaml" 2>&1)
[ $? = 2 ] || fail "--threads 0 did not exit 2: $out"
[ "$(ids "$tmp/plain.yaml")" = "$(ids "$tmp/j2.yaml")" ] || fail "jobs: changed trial ids"
out=$("$run" --dry-run "$tmp/badj.yaml" 2>&1)
[ $? = 2 ] || fail "jobs: 0 did not exit 2: $out"
printf '%s\n' "$out" | grep -q "badj.yaml:8:7: jobs: want a whole number from 1 to 256" ||
    fail "no file:line:col for jobs: 0: $out"
out=$("$run" --jobs x "$tmp/plain.yaml" 2>&1)
[ $? = 2 ] || fail "--jobs x did not exit 2: $out"
printf '%s\n' "$out" | grep -q -- "--jobs x: want a whole number from 1 to 256" || fail "--jobs x: $out"

# the threads a result records
recorded() {
    f=$(ls "$tmp"/results/threads/*.h5 | head -n 1)
    h5dump -a /threads "$f" | sed -n 's/.*(0): *\([0-9]*\).*/\1/p'
}
"$run" --quiet "$tmp/t3.yaml" > /dev/null || fail "run with threads: 3"
[ "$(recorded)" = 3 ] || fail "threads: 3 recorded as '$(recorded)'"
"$run" --quiet --force --threads 1 "$tmp/t3.yaml" > /dev/null || fail "run with --threads 1"
[ "$(recorded)" = 1 ] || fail "--threads 1 recorded as '$(recorded)'"
# jobs: 2 without a thread count: the CPUs shared out (at least one each)
share=$(( $(nproc) / 2 )); [ "$share" -ge 1 ] || share=1
env -u OMP_NUM_THREADS "$run" --quiet --force "$tmp/j2.yaml" > /dev/null || fail "run with jobs: 2"
[ "$(recorded)" = "$share" ] || fail "jobs: 2 on $(nproc) CPUs recorded threads '$(recorded)'"
"$run" --quiet --force --jobs 2 --threads 3 "$tmp/j2.yaml" > /dev/null || fail "--jobs 2 --threads 3"
[ "$(recorded)" = 3 ] || fail "--jobs 2 --threads 3 recorded threads '$(recorded)'"

# coop-eval --threads: the evaluation it writes records them; coop-eval and
# coop-pretrain refuse a bad value (exit 2)
eval=$build/core/cli/coop-eval/coop-eval
pre=$build/core/cli/coop-pretrain/coop-pretrain
trial=""
for f in "$tmp"/results/threads/*.h5; do
    h5dump -a /method_plugin "$f" | grep -q '"coop"' && trial=$f
done
[ -n "$trial" ] || fail "no coop trial to evaluate"
"$eval" --results "$trial" --dataset toy_colors_shift --threads 2 --out "$tmp/ev" > /dev/null ||
    fail "coop-eval --threads 2"
n=$(h5dump -a /threads "$tmp"/ev/*.h5 | sed -n 's/.*(0): *\([0-9]*\).*/\1/p')
[ "$n" = 2 ] || fail "coop-eval --threads 2 recorded as '$n'"
for prog in "$eval --results $trial --dataset toy_colors" "$pre --eval x"; do
    out=$($prog --threads 0 2>&1)
    [ $? = 2 ] || fail "$prog --threads 0 did not exit 2: $out"
    printf '%s\n' "$out" | grep -q -- "--threads 0: want a whole number from 1 to 4096" ||
        fail "$prog --threads 0: $out"
done

# Idle threads: libgomp shows its spin count at start-up (the process after
# coop's re-execution prints last); the verbose BLAS line shows OpenBLAS's timeout.
clean="env -u COOP_BLAS_REEXEC -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u OPENBLAS_THREAD_TIMEOUT"
spin() {
    $clean OMP_DISPLAY_ENV=verbose "$@" "$run" --version 2>&1 |
        sed -n "s/.*GOMP_SPINCOUNT = '\([0-9]*\)'.*/\1/p" | tail -n 1
}
timeout_of() {
    $clean COOP_VERBOSE=1 "$@" "$run" --version 2>&1 |
        sed -n 's/.*OPENBLAS_THREAD_TIMEOUT=\([0-9a-z]*\).*/\1/p' | tail -n 1
}
[ "$(spin)" = 0 ] || fail "idle OpenMP threads: spin count '$(spin)', not passive (0)"
[ "$(spin OMP_WAIT_POLICY=passive)" = 0 ] || fail "the user's OMP_WAIT_POLICY=passive not kept"
[ "$(spin OMP_WAIT_POLICY=active)" -gt 10000 ] || fail "the user's OMP_WAIT_POLICY=active not kept"
[ "$(spin GOMP_SPINCOUNT=77)" = 77 ] || fail "the user's GOMP_SPINCOUNT not kept"
[ "$(timeout_of)" = unset ] || fail "OPENBLAS_THREAD_TIMEOUT '$(timeout_of)' set by coop"
[ "$(timeout_of OPENBLAS_THREAD_TIMEOUT=9)" = 9 ] || fail "the user's OPENBLAS_THREAD_TIMEOUT not kept"
echo "threads_cli: ok"
