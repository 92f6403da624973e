#!/usr/bin/env bash
# Builds the Linux bundle (PyInstaller onedir), the .deb and the ~/.local tarball into dist/.
# Uses the development venv's llama-cpp-python (scripts/setup-env.sh), so the build that is
# tested is the build that ships.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup-env.sh
.venv/bin/python -m pip install -q "pyinstaller>=6.10,<7"
.venv/bin/python installers/common/make_icons.py build/icons
start=$(date +%s)
FOLIO_ICON_DIR=build/icons .venv/bin/pyinstaller --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller installers/common/folio.spec
echo "build: PyInstaller bundle in $(( $(date +%s) - start )) s, $(du -sh dist/folio | cut -f1)"
# OCR's share: tesserocr with the Tesseract and image libraries its wheel vendors, and the
# language data (folio.spec copies it from $FOLIO_TESSDATA_SRC or Debian's tesseract-ocr-*).
echo "build: OCR in the bundle: $(du -shc dist/folio/_internal/tesserocr* | tail -1 | cut -f1) engine," \
  "$(du -sh dist/folio/_internal/tessdata | cut -f1) tessdata ($(ls dist/folio/_internal/tessdata | tr '\n' ' '))"
# --no-strip (both): wheels' libraries (numpy's OpenBLAS) are patched by auditwheel, and strip
# breaks them ("ELF load command address/offset not page-aligned").
installers/linux/build_deb.sh dist/folio dist --no-strip
installers/linux/build_tarball.sh dist/folio dist --no-strip
ls -l dist/*.deb dist/*.tar.gz
