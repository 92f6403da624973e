"""What a citation link in the transcript points to, carried in its `cite:` URL.

The chat view renders `[Page 12: "quote"]` as a `[Page 12]` link; the link's URL keeps what
the source pane needs to show the place: the locator (moved to where the quote really is,
when the check found it elsewhere), the words to highlight, the document they were found in,
and the check's verdict. Plain `[Page 12]`, `p. 12` and `§ 4.2` links carry only a locator.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlencode

from PySide6.QtCore import QUrl


@dataclass(frozen=True)
class SourceRef:
    #: A page number or label ("12", "iv"), or a section number ("4.2").
    locator: str
    #: The words to highlight: the model's quote, or the best-matching sentence.
    quote: str | None = None
    #: The file name the quote was found in (None: the first document that has the locator).
    document: str | None = None
    #: True when `quote` is the sentence that best matches an unquoted citation's claim.
    best_match: bool = False
    #: The check's verdict ("verified", "elsewhere", "not_found", "unquoted", or "unsent": a
    #: page the model was not given in retrieval mode) and its words.
    status: str | None = None
    note: str | None = None

    def url(self) -> str:
        fields = {"q": self.quote, "d": self.document, "s": self.status, "n": self.note,
                  "b": "1" if self.best_match else None}  # fmt: skip
        query = urlencode({k: v for k, v in fields.items() if v}, quote_via=quote)
        target = quote(self.locator, safe=".")
        return f"cite:{target}?{query}" if query else f"cite:{target}"

    @classmethod
    def from_url(cls, url: QUrl) -> SourceRef:
        query = url.query(QUrl.ComponentFormattingOption.FullyEncoded)
        fields = {k: v[0] for k, v in parse_qs(query).items()}
        return cls(
            url.path(), fields.get("q"), fields.get("d"), fields.get("b") == "1",
            fields.get("s"), fields.get("n"),
        )  # fmt: skip
