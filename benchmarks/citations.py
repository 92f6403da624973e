"""How long checking an answer's citations takes: 20 citations against a 300-page document.

Baseline, in the same run on the same text: a plain substring search of each quote in the
raw text of its page (what a check without normalising or fuzzy matching would cost). The
ratio says what normalisation and the fuzzy fallback add; the absolute time says whether
the check can run after every answer (it runs on the engine thread, not the UI thread).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from desktop_app.core.chat.citations import check
from desktop_app.core.documents.model import Document, Unit

WORDS = (
    "lease rent party notice clause payment term landlord tenant deposit days written "
    "agreement premises repair insurance termination renewal schedule annex"
).split()


def _document(pages: int, words_per_page: int = 450) -> Document:
    rng = random.Random(7)
    units = tuple(
        Unit("page", n + 1, None, " ".join(rng.choice(WORDS) for _ in range(words_per_page)))
        for n in range(pages)
    )
    return Document(Path("contract.pdf"), "0" * 64, "Contract", "pdf", units)


def _answer(doc: Document, n: int) -> str:
    """Citations of every kind: right, wrong page, invented, with an OCR-like slip."""
    rng = random.Random(3)
    parts = []
    for i in range(n):
        unit = rng.choice(doc.units)
        words = unit.text.split()
        start = rng.randrange(len(words) - 8)
        quote = " ".join(words[start : start + 7])
        page = unit.number
        if i % 4 == 1:
            page = page % len(doc.units) + 1  # the wrong page
        elif i % 4 == 2:
            quote = "the tenant may keep a dog in the garden"  # not in the document
        elif i % 4 == 3:
            quote = quote.replace("e", "c", 1)  # an OCR-like slip
        parts.append(f'Claim {i} [Page {page}: "{quote}"].')
    return " ".join(parts)


def main() -> None:
    doc = _document(300)
    answer = _answer(doc, 20)
    start = time.perf_counter()
    checked = check(answer, [doc])
    folio = time.perf_counter() - start
    start = time.perf_counter()
    pages = {u.number: u.text for u in doc.units}
    plain = [c.citation.quote in pages.get(int(c.citation.ref), "") for c in checked]
    baseline = time.perf_counter() - start
    statuses = {s: sum(c.status == s for c in checked) for s in ("verified", "elsewhere",
                                                                 "not_found")}  # fmt: skip
    print(f"300 pages, {len(checked)} citations: {statuses}; plain search finds {sum(plain)}")
    print(f"check: {folio * 1000:.1f} ms; plain substring baseline: {baseline * 1000:.2f} ms; "
          f"ratio {folio / baseline:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
