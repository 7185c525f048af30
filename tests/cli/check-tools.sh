#!/bin/sh
# Every program's common interface (docs/running.md, "Exit status"): --help on
# stdout with an example and the exit codes, exit 0; --version "<name> X.Y.Z
# (git <revision>)", exit 0; an unknown option exit 2. Then coop-eval names an
# unknown dataset, with a suggestion, before it reads anything else.
# Arguments: the programs' paths.
set -u
fail=0
bad() { echo "FAIL: $*"; fail=1; }
out=$(mktemp /tmp/coop-tools-XXXXXX)
trap 'rm -f "$out"' EXIT
eval_exe=
for exe in "$@"; do
    name=$(basename "$exe")
    [ "$name" = coop-eval ] && eval_exe=$exe
    "$exe" --help >"$out" 2>/dev/null </dev/null
    rc=$?
    [ $rc -eq 0 ] || bad "$name --help exits $rc"
    grep -q "Example" "$out" || bad "$name --help has no 'Example'"
    grep -q "Exit status" "$out" || bad "$name --help has no 'Exit status'"
    "$exe" --version >"$out" 2>/dev/null </dev/null
    rc=$?
    [ $rc -eq 0 ] || bad "$name --version exits $rc"
    grep -Eq "^$name [0-9]+\.[0-9]+\.[0-9]+ \(git ([0-9a-f]+(-dirty)?|unknown)\)$" "$out" ||
        bad "$name --version printed '$(cat "$out")'"
    "$exe" --no-such-option >/dev/null 2>"$out" </dev/null
    rc=$?
    [ $rc -eq 2 ] || bad "$name --no-such-option exits $rc, not 2"
    [ -s "$out" ] || bad "$name --no-such-option says nothing on stderr"
done
[ -n "$eval_exe" ] || bad "coop-eval not among the programs"
if [ -n "$eval_exe" ]; then
    "$eval_exe" --results /nonexistent/trial.h5 --dataset world-shapes-v3 >/dev/null 2>"$out"
    rc=$?
    [ $rc -eq 2 ] || bad "coop-eval with an unknown dataset exits $rc, not 2"
    grep -q "unknown dataset plugin 'world-shapes-v3' (did you mean 'world-shapes-v2'?)" "$out" ||
        bad "coop-eval with an unknown dataset said: $(cat "$out")"
fi
[ $fail -eq 0 ] && echo "$# programs: --help, --version and a bad option as documented"
exit $fail
