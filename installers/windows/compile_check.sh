#!/usr/bin/env bash
# Compile installers/windows/folio.nsi with makensis against a stand-in payload.
#
# Why: the real payload needs a Windows build (MSVC, PyInstaller on Windows), but the NSIS
# script itself (syntax, includes, defines, the compile-time payload checks) can be checked
# anywhere makensis runs. -WX turns every warning into an error, so a typo that NSIS only
# warns about (an unused or misspelled define, a missing file) fails CI here.
#
# Usage: installers/windows/compile_check.sh
#   PYTHON   interpreter with PySide6, for make_icons.py (default: python3)
#   MAKENSIS makensis binary (default: makensis)
#   KEEP_DIR if set, the work directory is kept and its path printed
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-python3}"
makensis="${MAKENSIS:-makensis}"

if ! command -v "$makensis" >/dev/null 2>&1; then
    echo "compile_check: '$makensis' not found (apt-get install nsis)" >&2
    exit 2
fi

work="$(mktemp -d -t folio-nsis-XXXXXX)"
if [[ -z "${KEEP_DIR:-}" ]]; then
    trap 'rm -rf "$work"' EXIT
fi

# Stand-in for the PyInstaller onedir output: folio.exe plus _internal\ with a nested file.
payload="$work/payload"
mkdir -p "$payload/_internal/PySide6"
printf 'stand-in for folio.exe\n' >"$payload/folio.exe"
printf 'stand-in library\n' >"$payload/_internal/python311.dll"
printf 'stand-in plugin\n' >"$payload/_internal/PySide6/qt.conf"
# The OCR language data folio.nsi requires (folio.spec bundles it into _internal/tessdata).
mkdir -p "$payload/_internal/tessdata"
for lang in eng fra deu spa ita nld osd; do
    printf 'stand-in model\n' >"$payload/_internal/tessdata/$lang.traineddata"
done

QT_QPA_PLATFORM=offscreen "$python" "$repo_root/installers/common/make_icons.py" \
    "$work/icons" >/dev/null

version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo_root/desktop_app/__init__.py")"
if [[ -z "$version" ]]; then
    echo "compile_check: no __version__ in desktop_app/__init__.py" >&2
    exit 1
fi

out="$work/Folio-$version-setup.exe"
"$makensis" -V2 -WX -INPUTCHARSET UTF8 \
    "-DPAYLOAD_DIR=$payload" \
    "-DVERSION=$version" \
    "-DICON=$work/icons/folio.ico" \
    "-DOUTFILE=$out" \
    "$repo_root/installers/windows/folio.nsi"

if [[ ! -s "$out" ]]; then
    echo "compile_check: makensis reported success but wrote no $out" >&2
    exit 1
fi
size="$(stat -c %s "$out" 2>/dev/null || stat -f %z "$out")"
echo "compile_check: OK $(basename "$out") $size bytes"
if [[ -n "${KEEP_DIR:-}" ]]; then
    echo "compile_check: kept $work"
fi
