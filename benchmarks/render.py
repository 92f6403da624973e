"""How long the source pane takes to show a cited page: a text page and a scanned page.

Folio draws pages in a child process (core/documents/render_service.py), so a hostile PDF
costs the child, not the app. Baseline, in the same run with the same settings (page,
scale, quote): PDFium called in this process, the document already open, no child and no
cache. The ratios say what the isolation costs on the first page (the child starts, opens
the document), on the next page (warm child), and what the cache saves on a page seen
before (paging back, re-clicking a citation).

    .venv/bin/python -m benchmarks.render [--scale 2.0] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from fpdf import FPDF
from PIL import Image

from desktop_app.core.documents import page_render
from desktop_app.core.documents.render_service import PageRenderer
from tests.fixtures.pdf_factory import long_pdf_fact, make_long_pdf

QUOTE = long_pdf_fact(2)


def _scanned_pdf() -> bytes:
    """Two A4 pages, each one 300 dpi greyscale scan (2480 x 3508 pixels of noise-like
    texture, so the image does not compress to nothing), no text layer."""
    pdf = FPDF(format="A4")
    for seed in (1, 2):
        pixels = bytes((x * 7 + y * 13 + seed * 31) % 251 for y in range(64) for x in range(64))
        tile = Image.frombytes("L", (64, 64), pixels).resize((2480, 3508))
        buf = io.BytesIO()
        tile.save(buf, format="PNG")
        pdf.add_page()
        pdf.image(buf, x=0, y=0, w=210, h=297)
    return bytes(pdf.output())


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _measure(path: Path, scale: float, quote: str | None, repeat: int) -> dict[str, float]:
    doc = page_render.open_pdf(path, None)
    baseline = statistics.median(
        _ms(lambda: page_render.render(doc, 1, scale, quote)) for _ in range(repeat)
    )
    first, nxt, cached = [], [], []
    for _ in range(repeat):
        renderer = PageRenderer()  # a new child each time: the first click's cost
        try:
            first.append(_ms(lambda r=renderer: r.render(path, 2, scale, quote)))
            nxt.append(_ms(lambda r=renderer: r.render(path, 1, scale, quote)))
            cached.append(_ms(lambda r=renderer: r.render(path, 2, scale, quote)))
        finally:
            renderer.close()
    return {"baseline": baseline, "first": statistics.median(first),
            "next": statistics.median(nxt), "cached": statistics.median(cached)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=2.0, help="pixels per point (2 ≈ 144 dpi)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "text.pdf"
        text.write_bytes(make_long_pdf(300))
        scan = Path(tmp) / "scan.pdf"
        scan.write_bytes(_scanned_pdf())
        print(f"scale {args.scale} px/pt (A4: {round(595 * args.scale)} x "
              f"{round(842 * args.scale)} px), median of {args.repeat}")  # fmt: skip
        for name, path, quote in (("text page (300-page PDF)", text, QUOTE),
                                  ("scanned page (300 dpi)", scan, None)):  # fmt: skip
            m = _measure(path, args.scale, quote, args.repeat)
            b = m["baseline"]
            print(f"{name}: in-process PDFium {b:.1f} ms (baseline) | "
                  f"first page via the child {m['first']:.1f} ms ({m['first'] / b:.2f}x) | "
                  f"next page {m['next']:.1f} ms ({m['next'] / b:.2f}x) | "
                  f"cached {m['cached']:.3f} ms ({m['cached'] / b:.4f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
