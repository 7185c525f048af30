#!/usr/bin/env bash
# tools/dev.sh: one entry point for a fresh Debian machine (run as root, or with sudo).
#   tools/dev.sh deps    install the Debian packages the build and tests need
#   tools/dev.sh build   deps + meson setup/compile (build/)
#   tools/dev.sh main    build + run the main job (experiments/fewshot.yaml)
#   tools/dev.sh test    build + the whole test suite (meson test)
#   tools/dev.sh asan    the test suite in an ASan+UBSan build (build-asan/)
#   tools/dev.sh valgrind [SUITE...]  tests under valgrind (default: the CI subset)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(meson ninja-build pkg-config gcc libyaml-dev libopenblas-dev libhdf5-dev hdf5-tools
      check libjpeg62-turbo-dev libpng-dev zlib1g-dev libcairo2-dev libdnnl-dev valgrind git
      dataset-fashion-mnist)

deps() {
    local missing=()
    for p in "${PKGS[@]}"; do
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

build() {
    deps
    [ -f build/build.ninja ] || meson setup build --buildtype=release -Db_ndebug=false >/dev/null
    meson compile -C build
}

cmd=${1:-help}
shift || true
case "$cmd" in
deps) deps ;;
build) build ;;
main)
    build
    # small models: idle OpenMP threads must not spin against OpenBLAS's (docs/performance.md)
    export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
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
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp":print_suppressions=0 \
        meson test -C build-asan --print-errorlogs "$@"
    ;;
valgrind)
    # default: the suites quick enough under valgrind for CI; name suites to choose others
    build
    [ $# -gt 0 ] || set -- util results data_json data_fewshot train run nn matrix \
        clip_checkpoint datasets_example_csv report featcache image vision clip_text \
        clip_safetensors clip_plugin world datasets_layouts pretrain
    meson test -C build --setup=valgrind --print-errorlogs "$@"
    ;;
*)
    sed -n '2,9p' "$0"
    exit 2
    ;;
esac
