#!/usr/bin/env bash
# The installer smoke test CI runs: build the bundle and the .deb, install them, and use the
# installed app as a person would (window, double-clicked PDF, a second document handed to the
# running window), then uninstall and check that the user's chats and settings are still there.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

# Compression does not change what is installed; gzip takes seconds where xz takes minutes.
export FOLIO_DEB_COMPRESS=${FOLIO_DEB_COMPRESS:-gzip}
dpkg -r folio >/dev/null 2>&1 || true  # a run that died half-way
# FOLIO_SMOKE_REUSE_BUILD=1 tests the packages already in dist/ (while working on this script).
[ "${FOLIO_SMOKE_REUSE_BUILD:-}" = 1 ] && ls dist/folio_*_amd64.deb >/dev/null 2>&1 || installers/linux/build.sh
deb=$(ls dist/folio_*_amd64.deb)
tarball=$(ls dist/folio-*-linux-x86_64.tar.gz)
echo "smoke: .deb $(du -h "$deb" | cut -f1), tarball $(du -h "$tarball" | cut -f1), bundle $(du -sh dist/folio | cut -f1)"

work=$(mktemp -d)
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_DATA_HOME="$work/home/.local/share"
export XDG_CACHE_HOME="$work/home/.cache" XDG_STATE_HOME="$work/home/.local/state"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME"
unset FOLIO_HOME QT_QPA_PLATFORM
trap 'pkill -x folio 2>/dev/null || true; rm -rf "$work"' EXIT

# 2. The .deb installs, and the installed app answers (offscreen, then in a real X server).
# apt resolves the Depends (Qt's xcb libraries) as a user's double-click installer would.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$root/$deb" >/dev/null
test -x /usr/bin/folio
# Installed with its Depends (and nothing else the build machine happens to have beyond
# them), every library of the app resolves. The Vulkan loader is only a Recommends: without
# it the Vulkan module is skipped, with that reason (core/hardware/backends.py).
missing=$(find /opt/folio -type f \( -name '*.so*' -o -name folio \) -exec sh -c \
  'file -b "$1" | grep -q ELF && ldd "$1" 2>/dev/null | grep "not found" | sed "s|^|$1: |"' _ {} \; \
  | grep -v 'libvulkan.so.1' || true)
if [ -n "$missing" ]; then echo "smoke: missing libraries:"; echo "$missing"; exit 1; fi
echo "smoke: ldd finds every library of the installed app"
QT_QPA_PLATFORM=offscreen /usr/bin/folio --smoke-test
QT_QPA_PLATFORM=xcb xvfb-run -a /usr/bin/folio --smoke-test
variant=$(/usr/bin/folio system --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu"]["variant"])')
[ -n "$variant" ] && [ "$variant" != None ] || { echo "smoke: no CPU variant loaded"; exit 1; }
echo "smoke: installed app runs on the CPU module '$variant'"

# 2a. OCR: the installed app's own Tesseract loads its own language data (this machine has
# Debian's tessdata too: the report must name /opt/folio's), every bundled language present.
/usr/bin/folio system --json | python3 -c '
import json, sys
ocr = json.load(sys.stdin)["ocr"]
want = {"eng", "fra", "deu", "spa", "ita", "nld"}
ok = (ocr["version"].startswith("5.") and want <= set(ocr["languages"])
      and ocr["tessdata"] == "/opt/folio/_internal/tessdata" and not ocr["problem"])
sys.exit(0 if ok else f"smoke: the installed app cannot OCR every bundled language: {ocr}")'
test -s /opt/folio/_internal/tessdata/osd.traineddata  # page orientation (not a language)
echo "smoke: $(/usr/bin/folio system | grep '^OCR: ')"
# One scanned page (a picture, no text layer), read by the installed app in French + English
# as the user's setting says: its Pillow, Tesseract and French model, end to end (~2 s).
ocr_home="$work/ocr-home"
mkdir -p "$ocr_home/config"
echo '{"ocr_languages": "fra+eng"}' >"$ocr_home/config/settings.json"
"$root/.venv/bin/python" - "$work/scan.pdf" <<'PY'
import sys
from PIL import Image, ImageDraw, ImageFont
page = Image.new("L", (1400, 300), 255)
font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 44)
ImageDraw.Draw(page).text((60, 110), "Le présent contrat est conclu pour douze mois.", font=font)
page.save(sys.argv[1], resolution=300)
PY
scanned=$(FOLIO_HOME="$ocr_home" /usr/bin/folio extract "$work/scan.pdf")
case "$scanned" in *"présent contrat"*"douze mois"*) ;; *) echo "smoke: OCR read '$scanned'"; exit 1 ;; esac
echo "smoke: the installed app read a scanned page by OCR: $(echo "$scanned" | tail -1)"

# 2b. The Vulkan module: it answers on a Vulkan device (lavapipe, which ggml uses only when
# GGML_VK_VISIBLE_DEVICES names it), and with no Vulkan device it answers on the CPU and says why.
/usr/bin/folio system --json | python3 -c '
import json, sys
gpu = json.load(sys.stdin)["backends"]["gpu"]
sys.exit(0 if "Vulkan" in gpu else f"smoke: the installed app has no Vulkan backend: {gpu}")'
vk_home="$work/vulkan-home"
mkdir -p "$vk_home/config"
echo '{"max_answer_tokens": 16, "sampling": {"temperature": 0.0}}' >"$vk_home/config/settings.json"
placement() {  # env assignments...; prints the placement line of one short answer
  env FOLIO_HOME="$vk_home" "$@" /usr/bin/folio ask -q "Say hello." --stats 2>&1 >/dev/null |
    tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["placement"])'
}
on_gpu=$(placement GGML_VK_VISIBLE_DEVICES=0)
case "$on_gpu" in GPU\ *) ;; *) echo "smoke: lavapipe not used: '$on_gpu'"; exit 1 ;; esac
no_device=$(placement VK_ICD_FILENAMES=/nonexistent.json VK_DRIVER_FILES=/nonexistent.json)
case "$no_device" in "CPU (no GPU: "*"Vulkan: no driver"*) ;; *) echo "smoke: no fallback reason: '$no_device'"; exit 1 ;; esac
echo "smoke: Vulkan answers on lavapipe ($on_gpu); without a device: $no_device"

# 2c. The installed app serves the OpenAI-compatible API (uvicorn's run-time imports bundled).
serve_port=18765
FOLIO_HOME="$vk_home" /usr/bin/folio serve --port "$serve_port" 2>"$work/serve.log" &
serve_pid=$!
if ! python3 - "$serve_port" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}/v1"
for _ in range(150):
    try:
        urllib.request.urlopen(f"{base}/models", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
body = {"model": "qwen3.5:9b", "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 4}
request = urllib.request.Request(f"{base}/chat/completions", json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
reply = json.load(urllib.request.urlopen(request, timeout=60))
assert reply["usage"]["completion_tokens"] == 4 and reply["choices"][0]["message"]["content"]
PY
then
  kill "$serve_pid" 2>/dev/null || true
  echo "smoke: the installed folio serve did not answer"; cat "$work/serve.log"; exit 1
fi
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
echo "smoke: the installed folio serve answered /v1/chat/completions"

# 3. Double-clicking a PDF opens it in Folio: xdg-mime names Folio, xdg-open starts it.
"$root/.venv/bin/python" - "$work" <<'PY'
import sys
from pathlib import Path
from fpdf import FPDF
for name in ("first", "second"):
    pdf = FPDF(); pdf.add_page(); pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, f"The {name} document says hello.")
    pdf.output(str(Path(sys.argv[1]) / f"{name}.pdf"))
PY
xdg-mime default org.folio.Folio.desktop application/pdf
default=$(xdg-mime query default application/pdf)
[ "$default" = org.folio.Folio.desktop ] || { echo "smoke: PDF default is '$default'"; exit 1; }
export FOLIO_OPENED_LOG="$work/opened.log"

wait_for_line() {  # file, text, seconds
  for _ in $(seq 1 $(( $3 * 5 ))); do grep -qF "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "smoke: '$2' never reached $1"; return 1
}
xvfb-run -a -s "-screen 0 1280x800x24" sh -c "
  export QT_QPA_PLATFORM=xcb
  xdg-open '$work/first.pdf' &  # generic xdg-open waits for the app it started
  $(declare -f wait_for_line)
  wait_for_line '$FOLIO_OPENED_LOG' '$work/first.pdf' 60
  start=\$(date +%s%N)
  /usr/bin/folio '$work/second.pdf'
  echo \"smoke: the second 'folio' exited \$? after \$(( (\$(date +%s%N) - start) / 1000000 )) ms\"
  wait_for_line '$FOLIO_OPENED_LOG' '$work/second.pdf' 20
  # Folio's own helpers (the document reader, the CPU probe) run as 'folio --folio-…'.
  apps=\$(pgrep -ax folio | grep -vc -- ' --folio-')
  [ \$apps -eq 1 ] || { echo \"smoke: \$apps Folio app processes are running\"; pgrep -ax folio; exit 1; }
  pkill -TERM -x folio
  wait
"
echo "smoke: xdg-open opened first.pdf in Folio; a second folio handed second.pdf to it"

# 4. Uninstalling keeps the user's chats and settings.
data_before=$(find "$XDG_DATA_HOME/Folio" "$XDG_CONFIG_HOME/Folio" -type f | sort)
[ -n "$data_before" ] || { echo "smoke: the app wrote no user data"; exit 1; }
dpkg -r folio >/dev/null
[ ! -e /usr/bin/folio ] && [ ! -e /opt/folio ]
[ "$(find "$XDG_DATA_HOME/Folio" "$XDG_CONFIG_HOME/Folio" -type f | sort)" = "$data_before" ]
echo "smoke: dpkg -r removed the app and kept the user's data"

# 5. The per-user tarball installs into ~/.local and uninstalls the same way.
mkdir -p "$work/tar" && tar -xzf "$tarball" -C "$work/tar"
(cd "$work/tar"/folio-* 2>/dev/null || cd "$work/tar"; ./install.sh >/dev/null)
"$HOME/.local/bin/folio" system | head -3
(cd "$work/tar"/folio-* 2>/dev/null || cd "$work/tar"; ./uninstall.sh >/dev/null)
[ ! -e "$HOME/.local/bin/folio" ]
[ "$(find "$XDG_DATA_HOME/Folio" "$XDG_CONFIG_HOME/Folio" -type f | sort)" = "$data_before" ]
echo "smoke: tarball install/uninstall into ~/.local kept the user's data"

# 6. The Windows installer script compiles.
PYTHON="$root/.venv/bin/python" installers/windows/compile_check.sh
echo "smoke: all installer checks passed"
