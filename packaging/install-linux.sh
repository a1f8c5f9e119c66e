#!/usr/bin/env bash
# Add Ponder to your desktop's menu (for you only, no root): a menu entry, the icon in every
# size, the AppStream metadata, and `ponder` on your PATH via ~/.local/bin.
#
#   ./install-linux.sh [BUNDLE_DIR]          install (BUNDLE_DIR: the folder holding `ponder`)
#   ./install-linux.sh --uninstall           remove all of it again (the bundle stays)
#
# BUNDLE_DIR defaults to the folder this script is in when it sits beside `ponder` (as in a
# built bundle), else dist/ponder of the checkout it belongs to. Run it again after moving
# the folder: the menu entry points at the program by its full path.
set -euo pipefail

APP_ID="io.github.ponderapp.Ponder" # app.gui.app.DESKTOP_ID
SIZES="16 24 32 48 64 128 256 512"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor"
metainfo="$data/metainfo"
bin_dir="$HOME/.local/bin"
here="$(cd "$(dirname "$0")" && pwd)"

say() { echo "install-linux.sh: $*"; }
fail() {
    echo "install-linux.sh: $1" >&2
    exit "${2:-1}"
}

refresh() {
    # Menus and icon themes cache what they find; tell them, where those tools exist.
    if command -v update-desktop-database >/dev/null; then
        update-desktop-database -q "$apps" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null && [ -f "$icons/index.theme" ]; then
        gtk-update-icon-cache -q -t -f "$icons" || true
    fi
}

desktop_quote() {
    # An Exec argument: in double quotes, with " ` $ and \ escaped by a backslash that is
    # itself escaped (the spec applies string escapes first), and % doubled (field codes).
    local s="$1"
    s="${s//\\/\\\\\\\\}"
    s="${s//\"/\\\\\"}"
    s="${s//\`/\\\\\`}"
    s="${s//\$/\\\\\$}"
    s="${s//%/%%}"
    printf '"%s"' "$s"
}

do_install() {
    local bundle="$1"
    local program="$bundle/ponder"
    local resources="$bundle/_internal/resources"
    [ -x "$program" ] || fail "no Ponder program at $program; give the bundle's folder (e.g. dist/ponder)." 2
    [ -f "$resources/$APP_ID.desktop" ] ||
        fail "$bundle is not a complete Ponder bundle (no $APP_ID.desktop); build it again with \`make package\`." 2

    mkdir -p "$apps" "$metainfo" "$icons/scalable/apps"
    local exec_path line
    exec_path="$(desktop_quote "$program")"
    # The shipped entry runs `ponder` from PATH; point it at this bundle instead.
    while IFS= read -r line; do
        case "$line" in
            Exec=*) printf 'Exec=%s\nTryExec=%s\n' "$exec_path" "$program" ;;
            *) printf '%s\n' "$line" ;;
        esac
    done <"$resources/$APP_ID.desktop" >"$apps/$APP_ID.desktop.tmp"
    mv "$apps/$APP_ID.desktop.tmp" "$apps/$APP_ID.desktop"
    cp "$resources/$APP_ID.metainfo.xml" "$metainfo/$APP_ID.metainfo.xml"
    for size in $SIZES; do
        mkdir -p "$icons/${size}x${size}/apps"
        cp "$resources/icons/ponder-$size.png" "$icons/${size}x${size}/apps/$APP_ID.png"
    done
    cp "$resources/icons/ponder.svg" "$icons/scalable/apps/$APP_ID.svg"

    mkdir -p "$bin_dir"
    if [ ! -e "$bin_dir/ponder" ] || [ -L "$bin_dir/ponder" ]; then
        ln -sfn "$program" "$bin_dir/ponder"
    else
        say "left $bin_dir/ponder alone (it is not a link this script made)."
    fi
    refresh
    say "Ponder is in your applications menu (it runs $program)."
    case ":$PATH:" in
        *":$bin_dir:"*) ;;
        *) say "add $bin_dir to your PATH to run \`ponder\` from a terminal." ;;
    esac
}

do_uninstall() {
    rm -f "$apps/$APP_ID.desktop" "$metainfo/$APP_ID.metainfo.xml"
    for size in $SIZES; do
        rm -f "$icons/${size}x${size}/apps/$APP_ID.png"
    done
    rm -f "$icons/scalable/apps/$APP_ID.svg"
    # Only a link to a Ponder bundle (or to one since deleted): another `ponder` stays.
    local link="$bin_dir/ponder" target
    if [ -L "$link" ]; then
        target="$(readlink "$link")"
        if [ -f "$(dirname "$target")/_internal/resources/$APP_ID.desktop" ] || [ ! -e "$target" ]; then
            rm -f "$link"
        fi
    fi
    refresh
    say "removed Ponder's menu entry and icons."
}

case "${1:-}" in
    --uninstall) do_uninstall ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' ;;
    -*) fail "unknown option $1 (use --uninstall, or give the bundle's folder)." 2 ;;
    "")
        if [ -x "$here/ponder" ]; then
            do_install "$here"
        else
            do_install "$(cd "$here/.." && pwd)/dist/ponder"
        fi
        ;;
    *) do_install "$(cd "$1" 2>/dev/null && pwd || echo "$1")" ;;
esac
