"""Whether a page's text layer is text or junk.

Copiers and cheap scanning software put an invisible OCR layer under the scan, and some PDFs
map their glyphs to nonsense code points: the page "has text", pypdf extracts it, and the
model would read "x7#Qp$ zR9!k" where the contract says "The monthly rent is…". Such a
page is read again by OCR (scanned.py). The test is deliberately simple and language-blind:
in any language that Folio reads, most whitespace-separated tokens of real text are words
(letters with a vowel among them) or numbers; in junk, few are.
"""

from __future__ import annotations

import re
import unicodedata

#: Fewer tokens than this say too little either way: the page is left as it is.
MIN_TOKENS = 8
#: Real text: 0.8-1.0 of tokens are plausible (tables and codes pull it down to about 0.6);
#: garbage glyph strings: below 0.3.
MIN_PLAUSIBLE = 0.5
#: Private-use code points and U+FFFD are what unmapped glyphs usually come out as.
MAX_UNMAPPED = 0.1

_VOWELS = set("aeiouyàáâãäåæèéêëìíîïòóôõöøœùúûüýÿ")
_EDGE_PUNCTUATION = "\"'“”‘’„«»()[]{}.,;:!?*–—-/"
_NUMBER = re.compile(r"^[€$£§%]?[\d][\d.,/:%'-]*[€$£%]?$|^[ivxlcdm]+\.?$|^[a-z]\)$", re.I)


def looks_like_junk(text: str) -> bool:
    """True when `text` is most likely not what the page says (see the module docstring)."""
    tokens = text.split()
    if len(tokens) < MIN_TOKENS:
        return False
    chars = [c for c in text if not c.isspace()]
    unmapped = sum(1 for c in chars if c == "\ufffd" or unicodedata.category(c) == "Co")
    if unmapped > MAX_UNMAPPED * len(chars):
        return True
    plausible = sum(1 for t in tokens if _plausible(t))
    return plausible < MIN_PLAUSIBLE * len(tokens)


def _plausible(token: str) -> bool:
    word = token.strip(_EDGE_PUNCTUATION)
    if not word:
        return True  # a dash or a bullet on its own
    if _NUMBER.match(word):
        return True
    letters = word.replace("-", "").replace("'", "").replace("’", "")
    if not letters.isalpha() or len(letters) > 24:
        return False
    lower = letters.lower()
    # A word of 1-3 letters needs no vowel ("à", "la", "St"); a longer one does.
    return len(lower) <= 3 or any(c in _VOWELS for c in lower)
