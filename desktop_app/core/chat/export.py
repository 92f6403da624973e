"""An answer as Markdown that reads well on its own: for a colleague, a file, a ticket.

The question, the answer, and under it every citation with its quote and what the check
found (found on the cited page, found on another, not found, or no quote to check), as
footnotes, so the reader can see which statements rest on the document's own words. The
window's "Export answer…" and `folio ask --export FILE.md` both write this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from desktop_app.core.chat.citation_grammar import parse
from desktop_app.core.chat.citations import Mark, marks_of

#: How each verdict reads in the export.
_VERDICTS = {
    "verified": "✓ quote found on the cited page",
    "elsewhere": "quote found elsewhere",
    "not_found": "⚠ not found in the documents",
    "unquoted": "no quote to check",
}
#: Why an answer ended early, said in the export as in the window.
_ENDINGS = {
    "length": "The answer was cut off at the answer-length limit.",
    "context": "The answer was cut off: the context was full.",
    "cancelled": "The answer was stopped before it ended.",
    "error": "The answer ended with an error.",
    "interrupted": "The answer was interrupted (Folio closed while it was written).",
}


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str
    stats: Mapping[str, object] | None
    finish_reason: str | None


def export_markdown(
    turns: Sequence[Turn], *, documents: Sequence[str], model: str | None, when: datetime
) -> str:
    """Markdown for `turns` (one answer, or a whole conversation)."""
    meta = [when.strftime("%Y-%m-%d %H:%M")]
    if model:
        meta.append(model)
    if documents:
        meta.append("documents: " + ", ".join(documents))
    title = turns[0].question if len(turns) == 1 else "Folio conversation"
    parts = [f"# {_one_line(title)}", f"*Answered by Folio · {' · '.join(meta)}*"]
    note = 0
    for turn in turns:
        if len(turns) > 1:
            parts.append(f"## {_one_line(turn.question)}")
        body, notes, note = _with_footnotes(turn.answer, marks_of(turn.stats), note)
        parts.append(body.strip() or "*(no answer)*")
        if ending := _ENDINGS.get(turn.finish_reason or ""):
            parts.append(f"*{ending}*")
        if summary := _summary(turn.stats):
            parts.append(f"**Citations:** {summary}.")
        if notes:
            parts.append("\n".join(notes))
    return "\n\n".join(parts) + "\n"


def _with_footnotes(
    answer: str, checks: Mapping[str, Mark], first: int
) -> tuple[str, list[str], int]:
    """The answer with each citation as "(Page 2)[^n]", and the footnotes."""
    notes: list[str] = []
    parts, pos = [], 0
    for number, citation in enumerate(parse(answer), first + 1):
        where = citation.label()
        notes.append(_footnote(number, where, citation.quote, checks.get(citation.text)))
        parts += [answer[pos : citation.start], f"({where})[^{number}]"]
        pos = citation.end
    return "".join(parts) + answer[pos:], notes, first + len(notes)


def _footnote(number: int, where: str, quote: str | None, check: Mark | None) -> str:
    verdict = _VERDICTS.get(check.status, "not checked") if check else "not checked"
    if check and (check.status == "elsewhere" or check.unsent):
        verdict = ("⚠ " if check.unsent else "") + (check.note or verdict)
    document = f" of {check.document}" if check and check.document else ""
    scan = " (a scan, read by OCR)" if check and check.ocr else ""
    line = f"[^{number}]: {where}{document}{scan} — {verdict}"
    if quote:
        line += f" — quoted: “{quote}”"
    elif check and check.passage:
        line += f" — the passage that best matches: “{' '.join(check.passage.split())}”"
    return line


def _summary(stats: Mapping[str, object] | None) -> str:
    found = (stats or {}).get("citations")
    return str(found.get("summary") or "") if isinstance(found, Mapping) else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def turns(messages: Sequence) -> list[Turn]:
    """The question-and-answer pairs of a conversation's stored messages (`MessageRow`s), in
    order; a question not answered yet is left out."""
    out: list[Turn] = []
    question: str | None = None
    for m in messages:
        if m.role == "user":
            question = m.content
        elif question is not None:
            out.append(Turn(question, m.content, m.stats, m.finish_reason))
            question = None
    return out
