#!/usr/bin/env bash
# Build Ponder's one-folder bundle with PyInstaller (Linux and macOS; `make package` runs it).
#
#   packaging/build.sh [--distpath DIR] [--workpath DIR]
#
# Defaults: dist/ (the bundle: dist/ponder/, and dist/Ponder.app on macOS) and
# build/pyinstaller/. PYTHON picks the interpreter that has PyInstaller and Ponder's
# dependencies (default: .venv/bin/python). On Windows, run the same PyInstaller command
# from a Developer prompt: `python -m PyInstaller --noconfirm --clean packaging\ponder.spec`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-.venv/bin/python}"
dist="dist"
work="build/pyinstaller"
while [ $# -gt 0 ]; do
    case "$1" in
        --distpath) dist="$2"; shift 2 ;;
        --workpath) work="$2"; shift 2 ;;
        *) echo "build.sh: unknown option $1 (use --distpath DIR or --workpath DIR)" >&2; exit 2 ;;
    esac
done
if ! "$python" -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: PyInstaller is not installed for $python; run \`make package\`, which installs it." >&2
    exit 1
fi
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$dist" --workpath "$work" packaging/ponder.spec
bundle="$dist/ponder"
if [ "$(uname -s)" = Linux ]; then
    # Shipped beside the program, so a user who unpacks the folder can add the menu entry.
    cp packaging/install-linux.sh "$bundle/install-linux.sh"
fi
echo "build.sh: bundle in $bundle ($(du -sh "$bundle" | cut -f1))"
