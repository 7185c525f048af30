#!/bin/sh
# check-subdirs.sh SRCROOT -- LISTFILE PATTERN DIR... [-- LISTFILE PATTERN DIR...]...
# The meson files list their subfolders explicitly (meson cannot notice a new
# folder). Each group names the meson file holding a list, a glob of meson.build
# files under SRCROOT and the folders that list names; every folder the glob
# finds must be listed, so a folder added without its entry fails here instead
# of being silently left out of the build. Exit 1 with one line per unlisted
# folder, 2 on a usage error or a pattern that matches nothing.
set -eu
root=$1
shift
status=0
while [ $# -gt 0 ]; do
    [ "$1" = -- ] || { echo "check-subdirs.sh: expected --, got '$1'" >&2; exit 2; }
    shift
    listfile=$1
    pattern=$2
    shift 2
    listed=" "
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        listed="$listed$1 "
        shift
    done
    found=0
    for f in "$root"/$pattern; do
        [ -f "$f" ] || continue
        found=$((found + 1))
        dir=${f#"$root"/}
        dir=${dir%/meson.build}
        case "$listed" in
        *" $dir "*) ;;
        *)
            echo "$dir has a meson.build but is not in the folder list of $listfile:" \
                "add '${dir#"$(dirname "$listfile")"/}' there"
            status=1
            ;;
        esac
    done
    if [ "$found" -eq 0 ]; then
        echo "check-subdirs.sh: $pattern matched nothing under $root" >&2
        exit 2
    fi
done
exit "$status"
