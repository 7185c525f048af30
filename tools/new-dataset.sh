#!/usr/bin/env bash
# tools/new-dataset.sh NAME: creates the skeleton of a new dataset plugin by
# copying the example (plugins/datasets/example_csv) and its test, renamed:
#   plugins/datasets/NAME/{meson.build,NAME.c}   module coop-NAME, dataset "NAME"
#   tests/dataset_NAME/{meson.build,test_NAME.c}  its Check suite
# Both folders are appended to the build's folder lists (coop_plugin_dirs in
# plugins/meson.build, test_subdirs in tests/meson.build).
# Walkthrough: docs/adding-a-dataset.md.
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:-}
if [[ ! $name =~ ^[a-z][a-z0-9_]*$ ]]; then
    echo "usage: tools/new-dataset.sh NAME   (NAME: lower case, digits, '_'; e.g. my_birds)" >&2
    exit 2
fi
plug=plugins/datasets/$name
test=tests/dataset_$name
for p in "$plug" "$test"; do
    if [ -e "$p" ]; then
        echo "$p already exists" >&2
        exit 1
    fi
done

# Adds the line "  'ENTRY'," before the "]" that closes "LIST = [" in FILE.
add_to_list() {
    local file=$1 list=$2 entry=$3
    awk -v list="$list" -v entry="$entry" '
        index($0, list " = [") == 1 { inside = 1 }
        inside && /^]/ { printf "  \047%s\047,\n", entry; inside = 0; done = 1 }
        { print }
        END { exit !done }' "$file" >"$file.new" || {
        rm -f "$file.new"
        echo "$file: no list '$list = [' ... ']' to add $entry to" >&2
        exit 1
    }
    mv "$file.new" "$file"
}

mkdir -p "$plug" "$test"
add_to_list plugins/meson.build coop_plugin_dirs "datasets/$name"
add_to_list tests/meson.build test_subdirs "dataset_$name"
sed "s/example_csv/$name/g" plugins/datasets/example_csv/example_csv.c >"$plug/$name.c"
sed "s/example_csv/$name/g" plugins/datasets/example_csv/meson.build >"$plug/meson.build"
sed -e "s/example_csv/$name/g" -e 's|#include "dstest.h"|#include "../datasets/dstest.h"|' \
    tests/datasets/test_example_csv.c >"$test/test_$name.c"
cat >"$test/meson.build" <<MESON
# Tests of the $name dataset plugin (created by tools/new-dataset.sh).
test('dataset_$name', executable('test_$name', 'test_$name.c', dependencies : test_deps),
     env : test_env, suite : 'unit')
MESON

cat <<MSG
created $plug/ and $test/
next:
  1. edit $plug/$name.c: open() reads your files; the other ops serve what it loaded
  2. edit $test/test_$name.c: write a miniature copy of your layout, assert on it
  3. meson setup --reconfigure build && meson compile -C build && meson test -C build dataset_$name
  4. in a YAML matrix: datasets: [$name]   (options under the dataset's own key)
MSG
