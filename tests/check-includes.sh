#!/bin/sh
# check-includes.sh: keeps the dependency rules of docs/architecture.md true.
# Every #include "..." in the C files and headers under core/, plugins/, bench/
# and tests/ is checked against the tables below; each violation is printed as
# FILE:LINE with the header and what that folder may include, and the exit
# status is 1. Angle-bracket includes (system and third-party headers) are not
# checked.
#   check-includes.sh SOURCE_ROOT     check a tree (the meson test 'include-rules')
#   check-includes.sh --self-test     inject violations into a scratch tree and
#                                     check that each one is caught
set -eu

# Who may include what. A file is governed by the longest folder that is a
# prefix of its path. Tokens: NAME = coop/NAME.h; @sdk = every header in
# core/sdk/coop/ (the plugin SDK); @config = the build's coop_config.h and
# coop_revision.h; a path with a '/' = that internal header of another folder;
# * = anything. A plain "x.h" from the file's own folder is always allowed.
# A folder under core/ without a line here is itself an error.
RULES='
plugins         @sdk
tests/plugins   @sdk
tests/plugins/test_abi.c  *
tests           *
bench           *
core/cli        *
core/util       common util json @config
core/nn         common util nn cpu bf16 safetensors
core/clip       common util json nn cpu bf16 safetensors clip checkpoint tokenizer nn/bf16_internal.h nn/nn_internal.h
core/vision     common util json nn cpu bf16 clip clip/towers_bf16.h nn/nn_internal.h
core/image      common util cpu image
core/world      common util world image
core/data       common util json plugin image data
core/train      common util nn plugin train
core/matrix     common util json plugin matrix
core/results    common util cpu results @config
core/plugin     common util plugin loader @config
core/report     common util results report
core/pretrain   @sdk cpu bf16 safetensors image train pretrain clip/bpe.h clip/clean.h clip/unicode.h
core/run        @sdk cpu bf16 safetensors image plugin data train matrix results loader featcache run slurm prompt matrix/ytree.h @config
'
# The layer each public header belongs to: its includes follow that folder's
# rule, and a header of the SDK (core/sdk/coop/) includes only SDK headers.
# A header missing here is an error, so a new one gets its place.
HEADERS='
common core/util      util core/util        json core/util
nn core/nn            cpu core/nn           bf16 core/nn
clip core/clip        checkpoint core/clip  tokenizer core/clip   safetensors core/clip
image core/image      world core/world      data core/data        train core/train
matrix core/matrix    results core/results  plugin core/plugin    loader core/plugin
report core/report    pretrain core/pretrain featcache core/run   run core/run
slurm core/run        prompt core/run
'

check_tree() {
    root=$1
    list=$(mktemp /tmp/coop-includes-XXXXXX)
    (cd "$root" && find core plugins bench tests -type f \( -name '*.c' -o -name '*.h' \) \
         2>/dev/null | LC_ALL=C sort) > "$list"
    (cd "$root" && awk -v rules="$RULES" -v headers="$HEADERS" -f /dev/stdin "$list") <<'EOF'
function dirname(p) { sub(/\/[^\/]*$/, "", p); return p }
function layer_of(path,    best, f) {
    best = ""
    for (f in allow)
        if ((path == f || index(path, f "/") == 1) && length(f) > length(best))
            best = f
    return best
}
function allowed(layer, inc, in_sdk,    name) {
    if (inc ~ /^coop\/[^\/]*\.h$/) {
        name = substr(inc, 6, length(inc) - 7)
        if (in_sdk && !(name in sdk))
            return 0
        if (((layer, "*") in tok) || ((layer, name) in tok))
            return 1
        return ((layer, "@sdk") in tok) && (name in sdk)
    }
    if ((layer, "*") in tok)
        return 1
    if (inc == "coop_config.h" || inc == "coop_revision.h")
        return (layer, "@config") in tok
    return (layer, inc) in tok
}
function report(file, line, inc, layer, why) {
    printf "%s:%d: includes \"%s\": %s\n", file, line, inc, why
    bad++
}
BEGIN {
    n = split(rules, lines, "\n")
    for (i = 1; i <= n; i++) {
        if (lines[i] ~ /^[ \t]*(#|$)/)
            continue
        m = split(lines[i], w, /[ \t]+/)
        allow[w[1]] = ""
        for (j = 2; j <= m; j++) {
            tok[w[1], w[j]] = 1
            allow[w[1]] = allow[w[1]] (j > 2 ? " " : "") w[j]
        }
    }
    m = split(headers, w, /[ \t\n]+/)
    for (j = 1; j < m; j++)
        if (w[j] != "") {
            owner[w[j]] = w[j + 1]
            j++
        }
}
NR == FNR { files[$0] = 1; order[++nf] = $0; next }
END {
    for (k = 1; k <= nf; k++)
        if (order[k] ~ /^core\/sdk\/coop\/[^\/]*\.h$/)
            sdk[substr(order[k], 15, length(order[k]) - 16)] = 1
    for (k = 1; k <= nf; k++) {
        file = order[k]
        in_sdk = file ~ /^core\/sdk\/coop\//
        if (in_sdk || file ~ /^core\/include\/coop\//) {
            h = file
            sub(/^.*\//, "", h)
            sub(/\.h$/, "", h)
            if (!(h in owner)) {
                printf "%s: public header without a layer in check-includes.sh's HEADERS\n", file
                bad++
                continue
            }
            layer = owner[h]
        } else {
            layer = layer_of(file)
            if (layer == "") {
                if (file ~ /^core\/[^\/]*\//) {
                    printf "%s: folder %s has no line in check-includes.sh's RULES\n", file,
                           dirname(file)
                    bad++
                }
                continue
            }
        }
        line = 0
        while ((getline text < file) > 0) {
            line++
            if (text !~ /^[ \t]*#[ \t]*include[ \t]*"/)
                continue
            inc = text
            sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", inc)
            sub(/".*$/, "", inc)
            if (inc !~ /\// && (dirname(file) "/" inc) in files)
                continue
            if (allowed(layer, inc, in_sdk))
                continue
            if (in_sdk && inc ~ /^coop\//)
                report(file, line, inc, layer, "an SDK header includes only SDK headers")
            else if (inc !~ /\// && !(inc ~ /^coop_(config|revision)\.h$/))
                report(file, line, inc, layer, "not a header of this folder")
            else
                report(file, line, inc, layer,
                       sprintf("%s may include only: %s", layer, allow[layer]))
        }
        close(file)
    }
    exit bad ? 1 : 0
}
EOF
    rc=$?
    rm -f "$list"
    return $rc
}

# A scratch tree with one file per kind of violation; each must be reported,
# and the tree without them must pass.
self_test() {
    t=$(mktemp -d /tmp/coop-includes-self-XXXXXX)
    trap 'rm -rf "$t"' EXIT
    mkdir -p "$t/core/sdk/coop" "$t/core/include/coop" "$t/core/clip" "$t/core/nn" \
             "$t/core/run" "$t/plugins/datasets/x" "$t/tests/plugins"
    for h in common util nn plugin clip; do echo '#include "coop/common.h"' > "$t/core/sdk/coop/$h.h"; done
    for h in run data; do echo '#include "coop/plugin.h"' > "$t/core/include/coop/$h.h"; done
    printf '#include "coop/clip.h"\n#include "coop/nn.h"\n#include "tower.h"\n' > "$t/core/clip/ok.c"
    echo '/* own-folder header */' > "$t/core/clip/tower.h"
    printf '#include "coop/plugin.h"\n#include "coop/util.h"\n' > "$t/plugins/datasets/x/ok.c"
    printf '#include "coop/run.h"\n#include "../../core/run/run_internal.h"\n' > "$t/tests/whitebox.c"
    check_tree "$t" > "$t/out" || { cat "$t/out"; echo "self-test: a clean tree failed"; exit 1; }
    printf '#include "coop/nn.h"\n#include "coop/data.h"\n' > "$t/core/clip/up.c"
    printf '#include "../run/run_internal.h"\n' > "$t/core/nn/reach.c"
    printf '#include "coop/util.h"\n#include "coop/run.h"\n' > "$t/plugins/datasets/x/host.c"
    printf '#include "coop_config.h"\n' > "$t/tests/plugins/config.c"
    echo '#include "coop/run.h"' >> "$t/core/sdk/coop/clip.h"
    echo '#include "missing.h"' > "$t/core/run/local.c"
    mkdir -p "$t/core/newlayer" && echo '' > "$t/core/newlayer/a.c"
    echo '' > "$t/core/include/coop/orphan.h"
    if check_tree "$t" > "$t/out"; then
        cat "$t/out"; echo "self-test: injected violations passed"; exit 1
    fi
    for want in \
        'core/clip/up.c:2: includes "coop/data.h": core/clip may include only: common util' \
        'core/nn/reach.c:1: includes "../run/run_internal.h": core/nn may include only:' \
        'plugins/datasets/x/host.c:2: includes "coop/run.h": plugins may include only: @sdk' \
        'tests/plugins/config.c:1: includes "coop_config.h": tests/plugins may include only: @sdk' \
        'core/sdk/coop/clip.h:2: includes "coop/run.h": an SDK header includes only SDK headers' \
        'core/run/local.c:1: includes "missing.h": not a header of this folder' \
        'core/newlayer/a.c: folder core/newlayer has no line' \
        'core/include/coop/orphan.h: public header without a layer'; do
        grep -qF "$want" "$t/out" || { cat "$t/out"; echo "self-test: missing: $want"; exit 1; }
    done
    n=$(wc -l < "$t/out")
    [ "$n" -eq 8 ] || { cat "$t/out"; echo "self-test: $n reports, expected 8"; exit 1; }
    echo "self-test: 8 injected violations caught, the clean tree passes"
}

case "${1:-}" in
--self-test) self_test ;;
"") echo "usage: $0 SOURCE_ROOT | --self-test" >&2; exit 2 ;;
*) check_tree "$1" && echo "include rules hold in $1" ;;
esac
