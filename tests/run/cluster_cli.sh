#!/bin/sh
# cluster_cli.sh: coop-run's trial selection, --status and --slurm without a
# cluster (issue 15; the real Slurm is suite 'slurm'). Test plugins only.
#   --shard I/N over N runs is a partition; --trial and --where select what
#   they name; selections that take nothing are usage errors naming why
#   a slurm: section changes no trial id; a malformed one is an error with
#   file:line:column; --no-submit writes scripts with the section's and the
#   flags' resources; sbatch missing or failing exits 3 with its own message;
#   a fake sbatch sees the array first and the report after it (afterany)
#   --status: done / running (host, heartbeat age) / failed / to do; after a
#   kill -9 the trial is "to do" (its claim's process is gone); SIGTERM gives
#   the trial in flight back (exit 130); the next run takes the claims over
#   and completes everything
# Usage: cluster_cli.sh BUILD_ROOT (meson passes it; COOP_PLUGIN_PATH is set).
set -u
build=${1:?usage: cluster_cli.sh BUILD_ROOT}
run=$build/core/cli/coop-run/coop-run
fail() { echo "cluster_cli: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coop-test-cluster-cli-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
echo toy > "$tmp/toy.ckpt"
# $1: file, $2: extra YAML appended, $3: sleep_ms per image
write_yaml() {
    cat > "$1" <<EOF
results_dir: $tmp/results
experiment: cli
backbone: {plugin: toy, checkpoint: $tmp/toy.ckpt}
datasets:
  - name: toy_colors
    options: {sleep_ms: ${3:-0}, fail_open: [false, true]}
methods:
  - {name: coop, n_ctx: [2, 4]}
  - zeroshot
shots: [1, 2]
seeds: [1, 2]
train: {epochs: 2, batch_size: 8}
$2
EOF
}
y=$tmp/cli.yaml
write_yaml "$y" ""
# expect STATUS CMD...: runs CMD (output in $out), fails unless it exits STATUS
expect() {
    want=$1
    shift
    out=$("$@" 2>&1)
    got=$?
    [ "$got" = "$want" ] || fail "$* exited $got (want $want):
$out"
}
has() { printf '%s\n' "$out" | grep -q -- "$1" || fail "no '$1' in:
$out"; }

# ---- selection -------------------------------------------------------------------
expect 0 "$run" --dry-run "$y"
all=$(printf '%s\n' "$out" | grep -E '^[0-9a-f]{16} ' | cut -c1-16 | sort)
n=$(printf '%s\n' "$all" | grep -c .)
[ "$n" = 18 ] || fail "want 18 trials, got $n"
: > "$tmp/shards"
for i in 1 2 3; do
    expect 0 "$run" --dry-run --shard "$i/3" "$y"
    has "of 18 trials selected"
    printf '%s\n' "$out" | grep -E '^[0-9a-f]{16} ' | cut -c1-16 >> "$tmp/shards"
done
[ "$(sort "$tmp/shards")" = "$all" ] || fail "shards 1/3..3/3 are not a partition of the trials"
first=$(printf '%s\n' "$all" | head -1)
second=$(printf '%s\n' "$all" | sed -n 2p)
expect 0 "$run" --dry-run --trial "$first" --trial "$second" "$y"
has "2 of 18 trials selected"
expect 0 "$run" --dry-run --trial "$first,$second" "$y"
has "2 of 18 trials selected"
expect 2 "$run" --dry-run --trial 0000000000000000 "$y"
has "no trial of this experiment has that id"
expect 0 "$run" --dry-run --where 'method=coop,shots=1' --where 'n_ctx=2|4' "$y"
has "8 of 18 trials selected"
[ "$(printf '%s\n' "$out" | grep -c 'method=coop.*shots=1')" = 8 ] || fail "--where took others:
$out"
expect 2 "$run" --dry-run --where shots=3 "$y"
has "no trial has shots=3"
expect 2 "$run" --dry-run --where colour=red "$y"
has "no trial has an axis 'colour'"
expect 2 "$run" --dry-run --where shots "$y"
has "want AXIS=VALUE"
for bad in 0/3 4/3 1/0 x 1/3x; do
    expect 2 "$run" --dry-run --shard "$bad" "$y"
    has "want I/N"
done

# ---- the slurm: section ------------------------------------------------------------
ys=$tmp/with-slurm.yaml
write_yaml "$ys" "slurm:
  partition: long
  account: proj7
  cpus_per_task: 4
  mem: 8G
  time: \"2:00:00\"
  max_parallel: 3
  sbatch: [\"--qos=low\", \"--requeue\"]
  setup: [\"module load openblas\"]"
expect 0 "$run" --dry-run "$ys"
[ "$(printf '%s\n' "$out" | grep -E '^[0-9a-f]{16} ' | cut -c1-16 | sort)" = "$all" ] ||
    fail "a slurm: section changed trial ids"
yb=$tmp/bad.yaml
write_yaml "$yb" "slurm:
  partiton: long"
expect 2 "$run" --slurm --no-submit "$yb"
has "bad.yaml:14:3: slurm: unknown key 'partiton' (did you mean 'partition'?)"
write_yaml "$yb" "slurm: {cpus_per_task: 0}"
expect 2 "$run" --slurm --no-submit "$yb"
has "bad.yaml:13:24: slurm: cpus_per_task: expected a whole number"
write_yaml "$yb" "slurm: [partition]"
expect 2 "$run" --slurm --no-submit "$yb"
has "bad.yaml:13:8: slurm: expected a mapping"
write_yaml "$yb" "slurm: {time: [1, 2]}"
expect 2 "$run" --slurm --no-submit "$yb"
has "bad.yaml:13:15: slurm: time: expected a single value"
expect 2 "$run" --slurm --no-submit --cpus-per-task 0 "$ys"
has "want a whole number"

# ---- --slurm without a cluster ------------------------------------------------------
expect 0 "$run" --slurm --no-submit --partition short --sbatch-option --exclusive "$ys"
has "18 trials to run"
has "not submitted"
a=$tmp/results/cli/slurm/array.sbatch
[ -f "$a" ] && [ -f "$tmp/results/cli/slurm/report.sbatch" ] || fail "no scripts:
$out"
for line in '#SBATCH --array=0-17%3' '#SBATCH --partition=short' '#SBATCH --account=proj7' \
    '#SBATCH --cpus-per-task=4' '#SBATCH --mem=8G' '#SBATCH --time=2:00:00' \
    '#SBATCH --qos=low' '#SBATCH --requeue' '#SBATCH --exclusive' 'module load openblas' \
    "#SBATCH --output=$tmp/results/cli/slurm/logs/%A_%a.log" "  $first"; do
    grep -qxF -- "$line" "$a" || fail "no line '$line' in $a:
$(cat "$a")"
done
grep -qF -- '--threads "$OMP_NUM_THREADS" --trial "$id"' "$a" ||
    fail "the array task does not set its threads: $(cat "$a")"
bash -n "$a" || fail "$a is not a valid script"
# --threads N asks for N CPUs a task (over the section's 4); --cpus-per-task wins over it
expect 0 "$run" --slurm --no-submit --threads 3 "$ys"
grep -qxF -- '#SBATCH --cpus-per-task=3' "$a" || fail "--threads 3 not forwarded: $(cat "$a")"
expect 0 "$run" --slurm --no-submit --threads 3 --cpus-per-task 5 "$ys"
grep -qxF -- '#SBATCH --cpus-per-task=5' "$a" || fail "--cpus-per-task lost to --threads: $(cat "$a")"
expect 3 "$run" --slurm --sbatch "$tmp/no-such-sbatch" "$ys"
has "cannot run $tmp/no-such-sbatch"
printf '#!/bin/sh\necho "sbatch: error: invalid partition specified: long" >&2\nexit 1\n' \
    > "$tmp/bad-sbatch"
chmod +x "$tmp/bad-sbatch"
expect 3 "$run" --slurm --sbatch "$tmp/bad-sbatch" "$ys"
has "exit status 1): sbatch: error: invalid partition specified: long"
cat > "$tmp/fake-sbatch" <<EOF
#!/bin/sh
echo "\$*" >> "$tmp/sbatch-calls"
n=\$(wc -l < "$tmp/sbatch-calls")
echo "\$((40 + n));cluster"
EOF
chmod +x "$tmp/fake-sbatch"
expect 0 "$run" --slurm --sbatch "$tmp/fake-sbatch" "$ys"
has "submitted array job 41 (18 tasks"
has "and report job 42 after it"
[ "$(cat "$tmp/sbatch-calls")" = "--parsable $a
--parsable --dependency=afterany:41 $tmp/results/cli/slurm/report.sbatch" ] ||
    fail "sbatch calls: $(cat "$tmp/sbatch-calls")"

# ---- --status, kill -9 and the claim taken over ------------------------------------
expect 1 "$run" --no-progress --where fail_open=true "$y" # 9 fail, as asked
expect 0 "$run" --no-progress --where 'fail_open=false,method=zeroshot' "$y"
expect 0 "$run" --status "$y"
has "1 done, 0 running, 9 failed, 8 to do"
has "asked to fail"
dir=$tmp/results/cli
coop_trial=$(printf '%s\n' "$out" | grep -E '^[0-9a-f]{16}  todo ' | head -1 | cut -c1-16)
printf 'coop-run claim 1\nhost elsewhere\npidns pid:[1]\npid 77\nstarted 0\nslurm 9_4\n' \
    > "$dir/.$coop_trial.claim-1"
expect 0 "$run" --status "$y"
has "1 done, 1 running, 9 failed, 7 to do"
has "on elsewhere pid 77, Slurm task 9_4, heartbeat [0-9]* s ago"
rm "$dir/.$coop_trial.claim-1"
# a slow run, killed -9 while a trial is claimed
ys2=$tmp/slow.yaml
write_yaml "$ys2" "" 40
"$run" --no-progress --where fail_open=false "$ys2" > "$tmp/killed.out" 2>&1 &
pid=$!
i=0
until ls -a "$dir" | grep -q "\.h5\.tmp-.*-$pid\$"; do # a trial in flight
    i=$((i + 1))
    [ "$i" -lt 300 ] || { kill -9 "$pid"; fail "no trial in flight after 30 s"; }
    sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2>/dev/null
expect 0 "$run" --status --where fail_open=false "$ys2"
has "its last run stopped: process $pid is gone"
# SIGTERM (Slurm's time limit or preemption): the trial in flight is given back
"$run" --no-progress --where fail_open=false "$ys2" > "$tmp/term.out" 2>&1 &
pid=$!
i=0
until ls -a "$dir" | grep -q "\.h5\.tmp-.*-$pid\$"; do
    i=$((i + 1))
    [ "$i" -lt 300 ] || { kill -9 "$pid"; fail "no trial in flight after 30 s"; }
    sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
st=$?
[ "$st" = 130 ] || fail "SIGTERM: exit status $st (want 130): $(cat "$tmp/term.out")"
grep -l "^pid $pid\$" "$dir"/.*.claim-* > "$tmp/term.claims" ||
    fail "no claim of process $pid left: $(ls -a "$dir")"
[ "$(wc -l < "$tmp/term.claims")" = 1 ] && grep -q '^released$' "$(cat "$tmp/term.claims")" ||
    fail "the interrupted trial's claim is not given back: $(cat "$(cat "$tmp/term.claims")")"
expect 0 "$run" --no-progress --where fail_open=false "$ys2"
has "0 failed"
expect 0 "$run" --status --where fail_open=false "$ys2"
has "9 done, 0 running, 0 failed, 0 to do"
for id in $(printf '%s\n' "$out" | grep -E '^[0-9a-f]{16} ' | cut -c1-16); do
    ls -a "$dir" | grep -q "^\.$id\.claim" &&
        fail "claims of completed trials left: $(ls -a "$dir")"
done
echo "cluster_cli: ok"
