#!/bin/sh
# check-symbols.sh FILE...: every global symbol FILE defines (a static archive,
# a shared library or a plugin module) starts with the project prefix coop_,
# so libcoop's internals cannot collide with a test's, a plugin's or another
# library's names when they are linked together. Names starting with '_' are
# the toolchain's (_init, _fini, sanitizer hooks) and are not checked.
# Exit 1 with one line per unprefixed symbol, 77 (skipped) without nm.
set -eu
command -v nm >/dev/null 2>&1 || { echo "nm not found: skipped"; exit 77; }
status=0
for f in "$@"; do
    case "$f" in
    *.a) syms=$(nm -g --defined-only "$f") ;;
    *) syms=$(nm -D --defined-only "$f") ;;
    esac
    bad=$(printf '%s\n' "$syms" | awk 'NF == 3 && $3 !~ /^(coop_|_)/ { print $3 }' | sort -u)
    for s in $bad; do
        echo "$(basename "$f"): global symbol '$s' lacks the coop_ prefix (make it static," \
            "or name it coop_<subsystem>_...)"
        status=1
    done
done
exit "$status"
