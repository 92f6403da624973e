"""Installer assets: the icons every platform ships, the macOS Info.plist, the NSIS script.

The icon containers (ICO, ICNS) are written by hand in installers/common/make_icons.py, so
they are parsed back here byte by byte, independently of the writer, and every embedded PNG
is decoded. The expected sizes are spelled out below rather than imported from the module,
so a wrong size in the module fails a test instead of changing what is expected.
"""

from __future__ import annotations

import importlib.util
import os
import plistlib
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

REPO = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

HICOLOR_SIZES = [16, 32, 48, 64, 128, 256, 512]
ICO_SIZES = [16, 24, 32, 48, 64, 128, 256]
ICNS_SIZES = {
    b"icp4": 16,
    b"icp5": 32,
    b"icp6": 64,
    b"ic07": 128,
    b"ic08": 256,
    b"ic09": 512,
    b"ic10": 1024,
}


def _load(relative: str, name: str) -> ModuleType:
    """installers/ is not a package: load a script by path, as the build scripts run it."""
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def icons(qapp, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # qapp first: a QApplication must exist before make_icons would create a bare
    # QGuiApplication, or later widget tests in the same process would have none.
    make_icons = _load("installers/common/make_icons.py", "make_icons")
    return make_icons.make_icons(tmp_path_factory.mktemp("icons"))


def _decode(data: bytes) -> QImage:
    from PySide6.QtGui import QImage

    assert data.startswith(PNG_SIGNATURE), "entry is not PNG data"
    image = QImage.fromData(data, "PNG")
    assert not image.isNull(), "PNG does not decode"
    return image


def _assert_icon_pixels(image: QImage, size: int) -> None:
    """Right size, transparent outside the rounded square, opaque inside it."""
    assert (image.width(), image.height()) == (size, size)
    assert image.hasAlphaChannel()
    assert image.pixelColor(0, 0).alpha() == 0, "corner should be transparent"
    assert image.pixelColor(size // 2, size // 2).alpha() == 255, "centre should be opaque"


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])  # IHDR width, height


def test_hicolor_pngs_have_their_sizes_and_real_pixels(icons: dict[str, Path]) -> None:
    from PySide6.QtGui import QImage

    for size in HICOLOR_SIZES:
        path = icons["svg"].parents[2] / f"{size}x{size}" / "apps" / "folio.png"
        assert path.is_file(), path
        _assert_icon_pixels(QImage(str(path)), size)
    assert icons["svg"].read_bytes() == (REPO / "resources" / "folio.svg").read_bytes()


def test_ico_directory_lists_every_size_and_each_png_decodes(icons: dict[str, Path]) -> None:
    data = icons["ico"].read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind, count) == (0, 1, len(ICO_SIZES))
    seen, end_of_previous = [], 6 + 16 * count
    for index in range(count):
        width, height, colours, _, planes, bits, length, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        size = width or 256
        assert height == width and colours == 0 and planes == 1 and bits == 32
        assert offset == end_of_previous, "payloads must follow the directory, back to back"
        payload = data[offset : offset + length]
        assert _png_size(payload) == (size, size)
        _assert_icon_pixels(_decode(payload), size)
        seen.append(size)
        end_of_previous = offset + length
    assert end_of_previous == len(data)
    assert seen == ICO_SIZES


def test_qt_reads_the_ico_back_at_every_size(icons: dict[str, Path]) -> None:
    from PySide6.QtGui import QImageReader

    reader = QImageReader(str(icons["ico"]))
    sizes = []
    for index in range(reader.imageCount()):
        assert reader.jumpToImage(index)
        sizes.append(reader.read().width())
    assert sorted(sizes) == ICO_SIZES


def _icns_elements(data: bytes) -> list[tuple[bytes, bytes]]:
    magic, total = struct.unpack_from(">4sI", data, 0)
    assert magic == b"icns" and total == len(data)
    elements, offset = [], 8
    while offset < len(data):
        kind, length = struct.unpack_from(">4sI", data, offset)
        assert length >= 8 and offset + length <= len(data), f"bad element {kind!r}"
        elements.append((kind, data[offset + 8 : offset + length]))
        offset += length
    assert offset == len(data)
    return elements


def test_icns_toc_matches_its_png_entries(icons: dict[str, Path]) -> None:
    elements = _icns_elements(icons["icns"].read_bytes())
    (toc_kind, toc), *entries = elements
    assert toc_kind == b"TOC "
    listed = [struct.unpack_from(">4sI", toc, i) for i in range(0, len(toc), 8)]
    assert listed == [(kind, 8 + len(payload)) for kind, payload in entries]
    assert {kind for kind, _ in entries} == set(ICNS_SIZES)
    for kind, payload in entries:
        size = ICNS_SIZES[kind]
        assert _png_size(payload) == (size, size), kind
        _assert_icon_pixels(_decode(payload), size)


def test_icons_are_byte_identical_across_runs(icons: dict[str, Path], tmp_path: Path, qapp) -> None:
    make_icons = _load("installers/common/make_icons.py", "make_icons_again")
    again = make_icons.make_icons(tmp_path)
    for key in ("ico", "icns", "png16", "png512"):
        assert again[key].read_bytes() == icons[key].read_bytes(), key


def test_info_plist_declares_version_and_document_types() -> None:
    info_plist = _load("installers/macos/info_plist.py", "info_plist").info_plist
    plist = info_plist("1.2.3")
    assert plist["CFBundleIdentifier"] == "org.folio.Folio"
    assert plist["CFBundleShortVersionString"] == "1.2.3"
    assert plist["CFBundleVersion"] == "1.2.3"
    assert plist["LSMinimumSystemVersion"] == "12.0"
    assert plist["NSHighResolutionCapable"] is True
    types = {uti for entry in plist["CFBundleDocumentTypes"] for uti in entry["LSItemContentTypes"]}
    assert types == {
        "com.adobe.pdf",
        "org.openxmlformats.wordprocessingml.document",
        "public.plain-text",
        "net.daringfireball.markdown",
    }
    for entry in plist["CFBundleDocumentTypes"]:
        assert entry["CFBundleTypeRole"] == "Viewer"
        assert entry["LSHandlerRank"] == "Alternate"
    # PyInstaller writes it with plistlib: every value must be serialisable.
    assert plistlib.loads(plistlib.dumps(plist)) == plist
    with pytest.raises(ValueError):
        info_plist("")


def test_entitlements_allow_python_under_the_hardened_runtime() -> None:
    with (REPO / "installers" / "macos" / "entitlements.plist").open("rb") as handle:
        entitlements = plistlib.load(handle)
    assert entitlements == {
        "com.apple.security.cs.allow-unsigned-executable-memory": True,
        "com.apple.security.cs.disable-library-validation": True,
    }


@pytest.mark.skipif(shutil.which("makensis") is None, reason="makensis not installed (nsis)")
def test_nsis_script_compiles_without_warnings() -> None:
    env = {**os.environ, "PYTHON": sys.executable, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        ["bash", str(REPO / "installers" / "windows" / "compile_check.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "compile_check: OK" in result.stdout
