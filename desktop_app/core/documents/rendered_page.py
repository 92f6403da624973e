"""A rendered page, and the render child's answer checked before the app uses any of it.

The child parses hostile PDFs with PDFium; if one takes it over, everything it writes back is
the attacker's. So, as Dangerzone does with its isolation providers, the answer is
`untrusted_*` until checked here: its header line has a byte limit, every field a type and
a range, and the pixel count must be exactly what the dimensions say before a byte of it is
read. An answer that fails is `MalformedAnswer`; the caller stops the child, and the next
page starts a new one. (A header claiming 10000x10000 pixels with 16 bytes behind it used to
crash the app inside QImage; `bytes` = 10^12 raised MemoryError and left the child running.)

This module imports no PDFium: the app uses it, the child fills `RenderedPage` in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from desktop_app.core.documents.child_answers import MalformedAnswer

#: No bitmap beyond this many pixels (a page at 8x zoom on a 4K screen is well below);
#: a hostile page size would otherwise ask for gigabytes. The child caps its scale by it.
MAX_PIXELS = 40_000_000
#: Bytes a header line may take: highlights of a long quote fit many times over.
MAX_HEADER_BYTES = 512 * 1024
MAX_HIGHLIGHTS = 4096
MAX_PAGES = 10_000_000
#: PDFium pads rows to at most 4 bytes beyond 4 a pixel; allow some slack, not gigabytes.
MAX_ROW_PADDING = 64

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class RenderedPage:
    #: BGRx pixels, `stride` bytes a row (Qt's Format_RGB32 on little-endian machines).
    pixels: bytes
    width: int
    height: int
    stride: int
    #: The scale used (pixels per PDF point), after the MAX_PIXELS cap.
    scale: float
    page_count: int
    #: Boxes (left, top, right, bottom) in bitmap pixels around the quote's characters.
    highlights: tuple[Box, ...]
    #: False for a page with no text layer (a scan): nothing can be highlighted.
    has_text: bool
    render_ms: float


def rgb32_length(width: int, height: int, stride: int) -> int:
    """The bytes a QImage of these dimensions reads: checked again right before one is
    built, so no path can hand Qt a buffer shorter than what it will copy."""
    return stride * (height - 1) + 4 * width if height > 0 else 0


def pixel_bytes(untrusted: dict[str, Any]) -> int:
    """How many pixel bytes follow a page header: checked against its dimensions before the
    caller reads any of them."""
    width = _int(untrusted, "width", 1, MAX_PIXELS)
    height = _int(untrusted, "height", 1, MAX_PIXELS)
    if width * height > MAX_PIXELS:
        raise MalformedAnswer("bitmap too large")
    stride = _int(untrusted, "stride", 4 * width, 4 * width + MAX_ROW_PADDING)
    return _int(untrusted, "bytes", stride * height, stride * height)


def page(untrusted: dict[str, Any], pixels: bytes) -> RenderedPage:
    """The checked page: `untrusted` passed `pixel_bytes`, and `pixels` are what it said."""
    expected = {f for f in RenderedPage.__dataclass_fields__ if f != "pixels"} | {"bytes"}
    if set(untrusted) != expected or len(pixels) != untrusted["bytes"]:
        raise MalformedAnswer("unexpected fields or pixel count")
    boxes = untrusted["highlights"]
    if not isinstance(boxes, list) or len(boxes) > MAX_HIGHLIGHTS:
        raise MalformedAnswer("highlights")
    highlights = tuple(_box(b, untrusted["width"], untrusted["height"]) for b in boxes)
    if not isinstance(untrusted["has_text"], bool):
        raise MalformedAnswer("has_text")
    return RenderedPage(
        pixels=pixels,
        width=untrusted["width"],
        height=untrusted["height"],
        stride=untrusted["stride"],
        scale=_number(untrusted["scale"], 1e-6, 1e4),
        page_count=_int(untrusted, "page_count", 1, MAX_PAGES),
        highlights=highlights,
        has_text=untrusted["has_text"],
        render_ms=_number(untrusted["render_ms"], 0.0, 1e9),
    )


def _int(untrusted: dict[str, Any], key: str, low: int, high: int) -> int:
    value = untrusted.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MalformedAnswer(f"{key} out of range")
    return value


def _number(value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedAnswer("not a number")
    if not (math.isfinite(value) and low <= value <= high):
        raise MalformedAnswer("number out of range")
    return float(value)


def _box(value: object, width: int, height: int) -> Box:
    """A highlight inside the bitmap (a little outside is clipped by the painter anyway)."""
    if not isinstance(value, list) or len(value) != 4:
        raise MalformedAnswer("box")
    left, top, right, bottom = (_number(v, -1.0, float(max(width, height)) + 1) for v in value)
    return left, top, right, bottom
