"""PDF extraction speed: Folio (pypdf, per page with locators) vs poppler's pdftotext.

Generates a contract-like PDF of N pages (default 300), then in the same run
times, alternating, `pdftotext` on it and Folio's reader child without the
cache (cold, as the app parses), and finally Folio's cached re-open (a new
document library: the file is read and hashed, the text comes from the cache).
Prints pages/s and the ratio against pdftotext (Debian: `apt install poppler-utils`).

    .venv/bin/python benchmarks/extract.py --pages 300 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop_app.core.documents import isolated  # noqa: E402
from desktop_app.core.documents.library import DocumentLibrary  # noqa: E402
from tests.fixtures.pdf_factory import make_long_pdf  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pdftotext = shutil.which("pdftotext")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FOLIO_HOME"] = tmp  # the cache goes to a throwaway home
        pdf = Path(tmp) / "contract.pdf"
        pdf.write_bytes(make_long_pdf(args.pages))
        base, cold = [], []
        for _ in range(args.rounds):
            if pdftotext:
                base.append(
                    timed(
                        lambda: subprocess.run(
                            [pdftotext, "-layout", str(pdf), str(Path(tmp) / "out.txt")], check=True
                        )
                    )
                )
            cold.append(timed(lambda: isolated.extract(pdf.read_bytes(), pdf.name, None)))
        DocumentLibrary().read(pdf)  # fill the cache
        cached = [timed(lambda: DocumentLibrary().read(pdf)) for _ in range(args.rounds)]
    n = args.pages
    print(f"{n}-page PDF, median of {args.rounds} alternating rounds")
    print(f"{'':<26}{'seconds':>9}{'pages/s':>10}{'vs pdftotext':>14}")
    rows = [
        ("pdftotext -layout", base),
        ("folio cold (no cache)", cold),
        ("folio cached re-open", cached),
    ]
    ref = statistics.median(base) if base else None
    for label, times in rows:
        if not times:
            print(f"{label:<26}{'(not installed)':>33}")
            continue
        t = statistics.median(times)
        ratio = f"{ref / t:.2f}x" if ref else "-"
        print(f"{label:<26}{t:>9.3f}{n / t:>10.0f}{ratio:>14}")


if __name__ == "__main__":
    main()
