"""Generate every Folio icon from resources/folio.svg.

Why: the SVG is the one source of truth for the icon. The Linux hicolor PNGs, the Windows
.ico (installer, shortcuts, folio.exe) and the macOS .icns (the .app bundle) are all
rendered from it at build time, so no binary icon is ever committed and none can drift from
the others. The ICO and ICNS containers are written here with `struct` (both are a small
header plus PNG payloads), so the build needs nothing beyond PySide6, which Folio already
depends on: no Pillow, no ImageMagick, no iconutil.

Rendering goes through Qt's SVG renderer onto a transparent QImage; the output is the same
bytes on every run for a given Qt version (no timestamps, fixed compression).

Usage: python installers/common/make_icons.py OUT_DIR [--svg PATH]

Writes:
  OUT_DIR/hicolor/<N>x<N>/apps/folio.png   for N in 16 32 48 64 128 256 512
  OUT_DIR/hicolor/scalable/apps/folio.svg
  OUT_DIR/folio.ico                        16 24 32 48 64 128 256 (PNG entries)
  OUT_DIR/folio.icns                       icp4 icp5 icp6 ic07 ic08 ic09 ic10 (+ TOC)
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

# Must be set before Qt loads a platform plugin; rendering needs no display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SVG = REPO_ROOT / "resources" / "folio.svg"

#: hicolor theme sizes shipped for Linux desktops (and reused for the containers below).
PNG_SIZES: tuple[int, ...] = (16, 32, 48, 64, 128, 256, 512)
#: Sizes Windows picks from: small/large icons, Explorer views, and the 256 "jumbo" icon.
ICO_SIZES: tuple[int, ...] = (16, 24, 32, 48, 64, 128, 256)
#: ICNS element types that hold PNG data, with their pixel size (ic10 is 512@2x).
ICNS_TYPES: tuple[tuple[bytes, int], ...] = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),
)


def _ensure_gui_app() -> None:
    """QPainter and the SVG renderer expect a Q(Gui)Application; reuse one if it exists."""
    if QGuiApplication.instance() is None:
        # Kept alive on the module so it is not collected while images are painted.
        globals()["_APP"] = QGuiApplication([sys.argv[0] if sys.argv else "make_icons"])


def render_png(renderer: QSvgRenderer, size: int) -> bytes:
    """Render the SVG into a size×size transparent image and return it as PNG bytes."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    renderer.render(painter)
    painter.end()
    # Straight (non-premultiplied) alpha is what PNG stores; convert explicitly.
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG", 0):  # PNG "quality" 0 = strongest zlib level
        raise RuntimeError(f"Qt could not encode a {size}px PNG")
    buffer.close()
    return bytes(data.data())


def render_all(svg: Path, sizes: Iterable[int]) -> dict[int, bytes]:
    """PNG bytes for each size, from one parsed SVG."""
    _ensure_gui_app()
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG for Qt")
    return {size: render_png(renderer, size) for size in sorted(set(sizes))}


def ico_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """A Windows ICO container: ICONDIR, one ICONDIRENTRY per size, then the PNG payloads.

    Windows Vista and later read PNG-compressed entries at every size. Width/height 0
    means 256 in the one-byte fields.
    """
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))  # reserved, type 1 = icon, count
    offset = len(header) + 16 * len(sizes)
    entries, payload = b"", b""
    for size in sizes:
        if not 1 <= size <= 256:
            raise ValueError(f"ICO entries are 1..256 px, not {size}")
        data = pngs[size]
        dim = 0 if size == 256 else size
        # width, height, palette colours, reserved, colour planes, bits per pixel, size, offset
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        payload += data
        offset += len(data)
    return header + entries + payload


def icns_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """A macOS ICNS container: 'icns' + total length, a TOC element, then PNG elements.

    Every length is big-endian and counts its own 8-byte header. The TOC lists each
    element's type and length, as iconutil writes it.
    """
    elements = [(kind, pngs[size]) for kind, size in ICNS_TYPES]
    toc_body = b"".join(struct.pack(">4sI", kind, 8 + len(data)) for kind, data in elements)
    body = struct.pack(">4sI", b"TOC ", 8 + len(toc_body)) + toc_body
    body += b"".join(struct.pack(">4sI", kind, 8 + len(data)) + data for kind, data in elements)
    return struct.pack(">4sI", b"icns", 8 + len(body)) + body


def make_icons(out_dir: Path, svg: Path = DEFAULT_SVG) -> dict[str, Path]:
    """Write the hicolor tree, folio.ico and folio.icns under out_dir; return what was written."""
    sizes = set(PNG_SIZES) | set(ICO_SIZES) | {size for _, size in ICNS_TYPES}
    pngs = render_all(svg, sizes)
    written: dict[str, Path] = {}
    for size in PNG_SIZES:
        path = out_dir / "hicolor" / f"{size}x{size}" / "apps" / "folio.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pngs[size])
        written[f"png{size}"] = path
    scalable = out_dir / "hicolor" / "scalable" / "apps" / "folio.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable)
    written["svg"] = scalable
    written["ico"] = out_dir / "folio.ico"
    written["ico"].write_bytes(ico_bytes({size: pngs[size] for size in ICO_SIZES}))
    written["icns"] = out_dir / "folio.icns"
    written["icns"].write_bytes(icns_bytes(pngs))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="directory to write the icons into")
    parser.add_argument("--svg", type=Path, default=DEFAULT_SVG, help="source SVG")
    args = parser.parse_args(argv)
    for name, path in make_icons(args.out_dir, args.svg).items():
        print(f"{name:7} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
