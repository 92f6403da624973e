#!/usr/bin/env bash
# Debian/Ubuntu packages the build, the tests and the installer smoke test need.
# Installs only what is missing, and only where it can (root with apt-get); elsewhere it
# lists what is missing and goes on, so a developer without root still gets the Python setup.
set -euo pipefail

packages=(
  # compiling llama.cpp (ccache makes rebuilds with other flags cheap)
  build-essential cmake ccache python3-venv patch
  # the Vulkan GPU backend (headers, shader compiler) and lavapipe, a software Vulkan device
  libvulkan-dev glslc spirv-headers mesa-vulkan-drivers
  # Qt's xcb platform plugin (the real window under Xvfb, and the .deb's Depends)
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1
  libfontconfig1 libdbus-1-3
  # seeing and driving the window
  xvfb xdotool imagemagick
  # installers: .deb, its checks, desktop integration, the Windows script
  dpkg-dev fakeroot lintian desktop-file-utils appstream xdg-utils nsis file
  # OCR language data (tesserocr's wheel has the engine, not the data): the development
  # app reads it from here and the Linux bundle copies it (installers/common/folio.spec)
  tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-deu tesseract-ocr-spa tesseract-ocr-ita
  tesseract-ocr-nld tesseract-ocr-osd
  # a font with accents and symbols, for the PDFs the tests draw (scanned pages included)
  fonts-dejavu-core
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing system packages (install them to run everything): ${missing[*]}" >&2
fi
