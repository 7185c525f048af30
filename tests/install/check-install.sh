#!/bin/sh
# Installs into a scratch DESTDIR, builds a plugin OUTSIDE the tree with the installed
# headers and pkg-config file only, and has the installed coop-run load it. Then the
# installed coop-run, given the installed plugin folder, must not also load the build
# tree's copies (no 'shadowed' note): only a program run from the build tree looks there.
set -eu
build=$1
src=$2
dest=$(mktemp -d /tmp/coop-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild >/dev/null
pc=$(find "$dest" -name coop.pc | head -n 1)
[ -n "$pc" ] || { echo "coop.pc not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$dest"
plugindir=$(pkg-config --variable=plugindir coop)
[ -n "$plugindir" ] || { echo "coop.pc has no plugindir variable"; exit 1; }
# the SDK's ABI version, as plugin.h defines it; only SDK headers are installed
abi=$(pkg-config --variable=plugin_abi coop)
want=$(sed -n 's/^#define COOP_PLUGIN_ABI_\(MAJOR\|MINOR\) \([0-9]*\).*/\2/p' \
       "$src/core/sdk/coop/plugin.h" | paste -sd.)
[ "$abi" = "$want" ] || { echo "coop.pc plugin_abi '$abi', plugin.h says '$want'"; exit 1; }
inc=$(pkg-config --variable=includedir coop)
for h in "$src"/core/sdk/coop/*.h; do
    [ -f "$inc/coop/$(basename "$h")" ] || { echo "SDK header $(basename "$h") not installed"; exit 1; }
done
for h in "$src"/core/include/coop/*.h; do
    [ ! -e "$inc/coop/$(basename "$h")" ] || { echo "host header $(basename "$h") installed"; exit 1; }
done
# the in-tree example, renamed so the build tree's copy cannot stand in for it
sed 's/COOP_PLUGIN_DATASET, "example_csv"/COOP_PLUGIN_DATASET, "outoftree_csv"/' \
    "$src/plugins/datasets/example_csv/example_csv.c" > "$dest/my_plugin.c"
grep -q outoftree_csv "$dest/my_plugin.c" || { echo "rename failed"; exit 1; }
cc -std=c11 -shared -fPIC -fvisibility=hidden $(pkg-config --cflags coop) \
   "$dest/my_plugin.c" $(pkg-config --libs coop) -o "$dest/my-plugin.so"
lib=$(find "$dest" -name 'libcoop.so.0' | head -n 1)
run=$(find "$dest" -name coop-run -type f | head -n 1)
export LD_LIBRARY_PATH=$(dirname "$lib")
out=$(COOP_PLUGIN_PATH= "$run" --plugin-path "$dest/my-plugin.so" --list-plugins)
echo "$out" | grep -q "outoftree_csv" || { echo "$out"; echo "out-of-tree plugin not listed"; exit 1; }
echo "installed headers + pkg-config built a plugin that coop-run loads"
# DESTDIR moves the plugin folder away from the configured COOP_PLUGINDIR; COOP_PLUGIN_PATH
# points at the installed copy instead
inst=$plugindir  # pkg-config already prefixes the sysroot ($dest)
out=$(COOP_PLUGIN_PATH=$inst "$run" --list-plugins)
n=$(echo "$out" | sed -n 's/^\([0-9]*\) plugins$/\1/p')
[ "${n:-0}" -ge 30 ] || { echo "$out"; echo "installed plugins not found in $inst"; exit 1; }
if echo "$out" | grep -q shadowed; then
    echo "$out" | grep shadowed | head -n 3
    echo "installed coop-run also loads the build tree's plugins ($(echo "$out" | grep -c shadowed) shadowed)"
    exit 1
fi
echo "installed coop-run loads $n installed plugins and none from the build tree"
