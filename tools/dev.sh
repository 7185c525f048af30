#!/usr/bin/env bash
# tools/dev.sh: one entry point for a fresh Debian machine (run as root, or with sudo).
#   tools/dev.sh deps    install the Debian packages the build and tests need
#   tools/dev.sh build   deps + meson setup/compile (build/)
#   tools/dev.sh main    build + run the main job (experiments/fewshot.yaml)
#   tools/dev.sh test    build + the whole test suite (meson test)
#   tools/dev.sh asan    the test suite in an ASan+UBSan build (build-asan/)
#   tools/dev.sh valgrind [SUITE...]  tests under valgrind (default: the CI subset)
#   tools/dev.sh fuzz [SECONDS [TARGET...]]  libFuzzer targets, SECONDS each (default 30)
#   tools/dev.sh slurm   a one-node Slurm on this machine (slurm-wlm, munge), the 'slurm'
#                        test suite against it, then the daemons stopped again
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(meson ninja-build pkg-config gcc libyaml-dev libopenblas-dev libhdf5-dev hdf5-tools
      check libjpeg62-turbo-dev libpng-dev zlib1g-dev libcairo2-dev libdnnl-dev valgrind git
      dataset-fashion-mnist clang libclang-rt-14-dev llvm)

# Installs the Debian packages named that are missing (apt-get, as root or with sudo).
install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "installing: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

deps() {
    install_missing "${PKGS[@]}"
}

build() {
    deps
    [ -f build/build.ninja ] || meson setup build --buildtype=release -Db_ndebug=false >/dev/null
    meson compile -C build
}

# Known failures, reported and left to their owners: a target's crash, leak or
# timeout whose two innermost frames (fuzz_inner_frames) match its pattern is
# shown but does not fail the step;
# any other does (docs/testing.md). results: libhdf5 1.10 itself crashes on some
# crafted files that carry a valid seal (frames in libhdf5 only: a failure whose
# innermost frames are in core/results/ fails); reproducers in
# tests/fuzz/known/results/.
declare -A FUZZ_KNOWN=([results]='libhdf5')

# One target on a scratch copy of its committed corpus; crash, leak and timeout
# reproducers land in build-fuzz/fuzz-artifacts/<target>/, the log in
# build-fuzz/fuzz-logs/<target>.log. Exit status: libFuzzer's.
fuzz_one() {
    local t=$1 secs=$2 work=build-fuzz/fuzz-corpus/$1 art=build-fuzz/fuzz-artifacts/$1
    rm -rf "$work"
    mkdir -p "$work" "$art" build-fuzz/fuzz-logs
    cp tests/fuzz/corpus/"$t"/* "$work"/
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp":print_suppressions=0 \
        ./build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
        -artifact_prefix="$art/" -print_final_stats=1 "$work" >build-fuzz/fuzz-logs/"$t".log 2>&1
}

# The two innermost frames of a log's first stack trace that are neither the
# sanitizer's (its allocator and malloc hooks: an out-of-memory trace starts
# there) nor libFuzzer's nor libc's (a timeout's trace starts in
# libFuzzer's alarm handler and libc's signal frame).
fuzz_inner_frames() {
    grep -E '^ *#[0-9]+ ' "$1" | grep -vE ' in (__sanitizer|__asan|__lsan|fuzzer::|malloc|calloc|realloc)|/libc\.so' | head -2
}

fuzz() {
    deps
    local secs=${1:-30}
    shift || true
    [ -f build-fuzz/build.ninja ] ||
        CC=clang meson setup build-fuzz -Dfuzz=enabled -Dtests=disabled -Dopenmp=disabled \
            --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
    meson compile -C build-fuzz
    local targets=("$@")
    ((${#targets[@]})) || targets=($(ls tests/fuzz/corpus))
    # two at a time, one per core; each leaves its exit status in fuzz-logs/<target>.status
    local t failed=0
    for t in "${targets[@]}"; do
        while (($(jobs -rp | wc -l) >= 2)); do wait -n || true; done
        (st=0; fuzz_one "$t" "$secs" || st=$?; echo "$st" >build-fuzz/fuzz-logs/"$t".status) &
    done
    wait
    for t in "${targets[@]}"; do
        local st
        st=$(cat build-fuzz/fuzz-logs/"$t".status)
        grep -h '^stat::number_of_executed_units' build-fuzz/fuzz-logs/"$t".log |
            sed "s/^stat::number_of_executed_units: */fuzz $t: runs: /" || true
        ((st)) || continue
        echo "fuzz $t: crashed (exit $st); build-fuzz/fuzz-logs/$t.log:"
        grep -A40 -m1 -E '^==[0-9]+==ERROR|runtime error|^ALARM|out-of-memory|Timeout' \
            build-fuzz/fuzz-logs/"$t".log | head -60
        ls build-fuzz/fuzz-artifacts/"$t"/
        local known=${FUZZ_KNOWN[$t]:-}
        if [ -n "$known" ] && fuzz_inner_frames build-fuzz/fuzz-logs/"$t".log |
            grep -qE "$known"; then
            echo "fuzz $t: a known failure (FUZZ_KNOWN in tools/dev.sh): not failing"
        else
            failed=1
        fi
    done
    return "$failed"
}

# ---- a one-node Slurm for the 'slurm' suite (docs/cluster.md, docs/testing.md) ----
SLURM_PKGS=(slurm-wlm munge)
SLURM_DIR=$PWD/build/slurm-local # configuration, state, logs, pid files

slurm_deps() {
    [ "$(id -u)" -eq 0 ] || { echo "slurm: needs root to start the daemons"; exit 1; }
    install_missing "${SLURM_PKGS[@]}"
}

# One node (this host, its CPUs), no cgroups, no accounting; daemons run as root.
slurm_conf() {
    local host cpus
    host=$(hostname -s)
    cpus=$(nproc)
    mkdir -p "$SLURM_DIR"/{state,spool,log,run}
    cat >"$SLURM_DIR/slurm.conf" <<EOF
ClusterName=coop-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/run/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/run/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

slurm_start() {
    slurm_conf
    export SLURM_CONF=$SLURM_DIR/slurm.conf
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        mkdir -p /run/munge
        chown munge:munge /run/munge "$SLURM_DIR/run"
        runuser -u munge -- /usr/sbin/munged --pid-file="$SLURM_DIR/run/munged.pid" ||
            { echo "slurm: munged does not start"; return 1; }
    fi
    slurmctld -f "$SLURM_CONF" && slurmd -f "$SLURM_CONF" ||
        { echo "slurm: the daemons do not start; logs in $SLURM_DIR/log/"; return 1; }
    local i
    for i in $(seq 50); do
        sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mixed' && return 0
        sleep 0.2
    done
    echo "slurm: the node is not idle after 10 s:"
    sinfo 2>&1 || true
    tail -5 "$SLURM_DIR"/log/*.log
    return 1
}

# Stops what slurm_start started (by the pid files it wrote), nothing else.
slurm_stop() {
    local d pid i
    for d in slurmd slurmctld munged; do
        [ -f "$SLURM_DIR/run/$d.pid" ] || continue
        pid=$(cat "$SLURM_DIR/run/$d.pid")
        rm -f "$SLURM_DIR/run/$d.pid"
        kill "$pid" 2>/dev/null || continue
        for i in $(seq 50); do # gone, or a zombie nobody reaps in a container
            [ -d /proc/"$pid" ] && ! grep -q '^[0-9]* ([^)]*) Z' /proc/"$pid"/stat || break
            sleep 0.2
        done
    done
}

cmd=${1:-help}
shift || true
case "$cmd" in
deps) deps ;;
build) build ;;
main)
    build
    # exit status 1 (some trial failed) still gets its report; 2 and 130 stop here
    st=0
    ./build/core/cli/coop-run/coop-run experiments/fewshot.yaml "$@" || st=$?
    [ "$st" -le 1 ] || exit "$st"
    ./build/core/cli/coop-report/coop-report results/fewshot
    exit "$st"
    ;;
test)
    build
    meson test -C build --print-errorlogs "$@"
    ;;
asan)
    deps
    [ -f build-asan/build.ninja ] ||
        meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
    meson compile -C build-asan
    # the sanitizers' options and suppressions: the 'asan' test setup (tests/meson.build)
    meson test -C build-asan --setup=asan --print-errorlogs "$@"
    ;;
valgrind)
    # default: the suites quick enough under valgrind for CI; name suites to choose others
    build
    [ $# -gt 0 ] || set -- util results data_json data_fewshot train run claims nn matrix \
        clip_checkpoint datasets_example_csv report featcache image vision clip_text \
        clip_safetensors clip_plugin world datasets_layouts pretrain plugin-abi progress
    meson test -C build --setup=valgrind --print-errorlogs "$@"
    ;;
fuzz) fuzz "$@" ;;
slurm)
    build
    slurm_deps
    trap slurm_stop EXIT
    slurm_stop # a previous run's daemons, if any are left
    st=0
    slurm_start || st=$?
    # the suite fails, saying so, when Slurm did not start: it never skips
    meson test -C build --setup=slurm --suite slurm --print-errorlogs "$@" || st=$?
    exit "$st"
    ;;
*)
    sed -n '2,11p' "$0"
    exit 2
    ;;
esac
