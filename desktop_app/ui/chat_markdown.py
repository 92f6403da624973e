"""Answer Markdown to HTML for the transcript: fenced code blocks, highlighting, citation links.

Kept apart from the widgets because it is pure text-to-HTML work, testable without a window.

Markdown goes through Qt's own importer (no extra dependency). Fenced code blocks are cut out
first and rendered by hand, since Qt renders a fence as bare monospace lines with no background
and nowhere to hang a "Copy" link; an unterminated fence (mid-stream) runs to the end, as it
will once closed. Page locators become `cite:` links by a regex pass that skips code, so the
main window can jump to the page without the model having to emit links itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from PySide6.QtGui import QColor, QFontDatabase, QPalette, QTextDocument

from desktop_app.core.chat.citation_grammar import Citation, Mention, mentions, parse
from desktop_app.core.chat.citations import Mark
from desktop_app.ui.source_ref import SourceRef

#: Inline code, existing links and autolinks: a locator inside them must stay as written.
_NO_LINKS = re.compile(r"(`+).+?(?<!`)\1(?!`)|\[[^\]\n]*\]\([^)\n]*\)|<https?://[^>\s]*>", re.S)
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*")
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S)
#: Prepended to every message HTML (answers and reasoning) so spaces in prose are not collapsed.
STYLE = "<style>p, li { white-space: pre-wrap; }</style>"
_PLACEHOLDER = "FOLIOCODEBLOCK"
_HEADING = re.compile(r"font-size:(xx-large|x-large|large);")
_HEADING_SIZES = {"xx-large": "x-large", "x-large": "large", "large": "medium"}
#: Under an answer that cites nothing although documents were in the model's view.
NO_CITATIONS = "No citations — ask for page references"

_KEYWORDS = frozenset(
    "and as async await break case catch class const continue def del elif else enum except"
    " export extends false final fn for from func function if impl import in interface is"
    " lambda let match mut new nil none not null or pass pub raise return self static struct"
    " switch this throw true try type use var while with yield None True False".split()
)
_COMMENT_PREFIX = {
    **dict.fromkeys("python py bash sh shell zsh yaml yml toml r ruby perl".split(), "#"),
    **dict.fromkeys("c cpp c++ java js javascript ts typescript go rust rs swift cs".split(), "//"),
    **dict.fromkeys("sql lua haskell".split(), "--"),
}


@dataclass(frozen=True)
class Theme:
    """Colours derived from the palette at render time, so dark and light themes both work."""

    muted: str
    code_bg: str
    link: str
    string: str
    number: str
    mono: str

    @classmethod
    def of(cls, palette: QPalette) -> Theme:
        base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
        dark = base.lightness() < 128
        placeholder = palette.color(QPalette.ColorRole.PlaceholderText)
        return cls(
            # Placeholder text is often translucent; HTML colours are not, so blend it in.
            muted=mix(base, placeholder, placeholder.alphaF()),
            code_bg=mix(base, text, 0.07),
            link=palette.color(QPalette.ColorRole.Link).name(),
            string="#98c379" if dark else "#2e7d32",
            number="#d19a66" if dark else "#a05a00",
            mono=QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family(),
        )


def mix(a: QColor, b: QColor, t: float) -> str:
    """The opaque colour `t` of the way from `a` to `b`, as an HTML name."""
    mixed = [round(x + (y - x) * t) for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True)]
    return QColor(*mixed).name()


def _split_fences(markdown: str) -> list[tuple[str, str, str | None]]:
    """(raw, lang, code) per segment, code None for prose. An unclosed fence runs to the end,
    which is how a code block still being streamed should look."""
    segments: list[tuple[str, str, str | None]] = []
    lines = markdown.splitlines(keepends=True)
    i = start = 0
    while i < len(lines):
        opening = _FENCE_OPEN.fullmatch(lines[i].rstrip("\r\n"))
        if not opening:
            i += 1
            continue
        if start < i:
            segments.append(("".join(lines[start:i]), "", None))
        fence = opening.group(1)
        close = re.compile(rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*")
        end = next((j for j in range(i + 1, len(lines)) if close.fullmatch(lines[j])), len(lines))
        code = "".join(lines[i + 1 : end])
        segments.append(("".join(lines[i : end + 1]), opening.group(2), code))
        i = start = end + 1
    if start < len(lines):
        segments.append(("".join(lines[start:]), "", None))
    return segments


#: What a checked citation shows after its link (see core/chat/citations.py).
_MARKS = {"verified": " ✓", "elsewhere": " *({note})*", "not_found": " ⚠ *({note})*"}


def _mark(check: Mark | None) -> str:
    """✓, or the note in italics (⚠ for a quote nowhere, or a page the model never got)."""
    if check is None:
        return ""
    kind = "not_found" if check.unsent else check.status
    return _MARKS.get(kind, "").format(note=check.note)


def _cite(citation: Citation, check: Mark | None) -> str:
    """A citation's link, to where its check found the quote (else the place cited), with
    its quote (or the best-matching sentence of an unquoted one) for the source view, and
    the check's mark after it."""
    status = None if check is None else "unsent" if check.unsent else check.status
    quote = citation.quote or (check and check.passage)
    note = check.note if check and (citation.quote or check.unsent) else None
    ref = SourceRef((check and check.target) or citation.ref, quote or None,
                    check and check.document, citation.quote is None and bool(quote),
                    status, note)  # fmt: skip
    shown = f"[{citation.label()}]" if citation.quote else citation.text
    label = shown.replace("[", "\\[").replace("]", "\\]")
    return f"[{label}]({ref.url()}){_mark(check)}"


def _mention(mention: Mention) -> str:
    """A locator in prose: a link to the place, nothing checked."""
    return f"[{mention.text}]({SourceRef(mention.ref).url()})"


def _link_segment(text: str, checks: Mapping[str, Mark]) -> str:
    links = [(c.start, c.end, _cite(c, checks.get(c.text))) for c in parse(text)]
    links += [(m.start, m.end, _mention(m)) for m in mentions(text)]
    parts, pos = [], 0
    for start, end, link in sorted(links):
        parts += [text[pos:start], link]
        pos = end
    return "".join(parts) + text[pos:]


def _link_prose(text: str, checks: Mapping[str, Mark]) -> str:
    parts, pos = [], 0
    for skip in _NO_LINKS.finditer(text):
        parts += [_link_segment(text[pos : skip.start()], checks), skip.group()]
        pos = skip.end()
    parts.append(_link_segment(text[pos:], checks))
    return "".join(parts)


def link_citations(markdown: str, checks: Mapping[str, Mark] | None = None) -> str:
    """Turn `[Page 17]`, `p. 17`, `pp. 3–5` and `§ 12.3` into `cite:` links, outside code."""
    return "".join(
        raw if code is not None else _link_prose(raw, checks or {})
        for raw, _, code in _split_fences(markdown)
    )


@cache
def _token_re(comment: str | None) -> re.Pattern[str]:
    comment_alt = rf"(?P<comment>{re.escape(comment)}[^\n]*)|" if comment else ""
    return re.compile(
        comment_alt + r"(?P<string>\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*')"
        r"|(?P<number>\b\d+(?:\.\d+)?\b)|(?P<word>\b[A-Za-z_]\w*\b)"
    )


def _highlight(code: str, lang: str, theme: Theme) -> str:
    """Escape `code` for HTML with keywords, strings, numbers and line comments coloured: a
    line-based regex, not a parser, because a hint of structure is all a chat answer needs."""
    styles = {
        "comment": f"color:{theme.muted}; font-style:italic;",
        "string": f"color:{theme.string};",
        "number": f"color:{theme.number};",
        "word": f"color:{theme.link}; font-weight:600;",
    }
    out, pos = [], 0
    for m in _token_re(_COMMENT_PREFIX.get(lang.lower())).finditer(code):
        if m.lastgroup == "word" and m.group() not in _KEYWORDS:
            continue
        style = styles[m.lastgroup or "word"]
        out += [
            html.escape(code[pos : m.start()]),
            f'<span style="{style}">{html.escape(m.group())}</span>',
        ]
        pos = m.end()
    out.append(html.escape(code[pos:]))
    return "".join(out)


def _code_html(lang: str, code: str, index: int, theme: Theme) -> str:
    return (
        f'<table width="100%" cellspacing="0" cellpadding="6" bgcolor="{theme.code_bg}"'
        ' style="margin-top:6px; margin-bottom:6px;">'
        f'<tr><td><span style="color:{theme.muted};">{html.escape(lang)}</span></td>'
        f'<td align="right"><a href="copy-code:{index}">Copy</a></td></tr><tr><td colspan="2">'
        f"<pre style=\"margin:0; white-space:pre-wrap; font-family:'{theme.mono}';\">"
        f"{_highlight(code.removesuffix(chr(10)), lang, theme)}</pre></td></tr></table>"
    )


def render_markdown(
    markdown: str, palette: QPalette, checks: Mapping[str, Mark] | None = None
) -> tuple[str, list[str]]:
    """HTML for an answer, and its code blocks' raw text (for the per-block "Copy" links).

    All prose goes through one `setMarkdown` with each code block swapped for a placeholder
    paragraph: one parse instead of one per segment, and a list split by a code block keeps
    its numbering."""
    theme = Theme.of(palette)
    prose, codes = [], []
    for raw, lang, code in _split_fences(markdown):
        if code is None:
            prose.append(_link_prose(raw, checks or {}))
        else:
            prose.append(f"\n\n{_PLACEHOLDER}{len(codes)}\n\n")
            codes.append((lang, code))
    doc = QTextDocument()
    doc.setMarkdown("".join(prose), QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
    match = _BODY.search(doc.toHtml())
    body = match.group(1) if match else ""
    # Chat headings read better a step smaller than a document's.
    body = _HEADING.sub(lambda m: f"font-size:{_HEADING_SIZES[m[1]]};", body)
    table = (
        f'<table border="1" style="margin-top:6px; margin-bottom:6px; border-color:{theme.muted};'
    )
    body = body.replace('<table border="1" style="', table)

    def code_html(m: re.Match[str]) -> str:
        index = int(m[1])
        return _code_html(*codes[index], index, theme) if index < len(codes) else m[0]

    return re.sub(rf"<p[^>]*>{_PLACEHOLDER}(\d+)</p>", code_html, body), [c for _, c in codes]


def format_stats(stats: Mapping[str, object] | None) -> str:
    """The muted line under an answer, e.g. "0.42 s to first token · 18.3 tok/s · 4,050 tokens
    from cache (disk)"; what the engine did not measure is left out rather than shown as 0.
    The citations have their own line (`citation_line`)."""
    if not stats:
        return ""
    parts = []
    if isinstance(ttft := stats.get("ttft_s"), int | float):
        parts.append(f"{ttft:.2f} s to first token")
    if isinstance(rate := stats.get("decode_tokens_per_s"), int | float):
        parts.append(f"{rate:.1f} tok/s")
    if isinstance(cached := stats.get("cached_tokens"), int) and cached > 0:
        source = stats.get("cache")
        where = {"ram": " (RAM)", "disk": " (disk)"}.get(
            source if isinstance(source, str) else "", ""
        )
        parts.append(f"{cached:,} tokens from cache{where}")
    return " · ".join(parts)


def citation_line(stats: Mapping[str, object] | None) -> str:
    """The line under an answer about its citations: what their check found, or, when the
    documents were in the model's view (the stats carry a check) and it cites nothing, that
    it cites nothing, so the absence of page references is visible."""
    cites = (stats or {}).get("citations")
    if not isinstance(cites, dict):
        return ""  # no documents in view: nothing to cite
    if cites.get("summary"):
        return str(cites["summary"])
    return NO_CITATIONS if cites.get("total") == 0 else ""
