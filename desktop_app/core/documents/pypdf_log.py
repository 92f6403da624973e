"""pypdf's warnings during an extraction: counted, summed up in one log line, and read for
the one thing pypdf does not raise: that it gave up on part of the file because it nests
deeper than Python's stack.

In its forgiving mode pypdf repairs what it can and reports each repair through `logging`,
from wherever it is, the bottom of a 100,000-level dictionary included. There the stack has
no room to format a record: every handler of the app failed on every record ("--- Logging
error ---" 9,046 times on the terminal for one PDF), and the records that did get through
were 15,000 repair notes pushing the log's history out. The RecursionError itself pypdf
turns into a partial object and a warning, so the file seemed to open.

So the "pypdf" logger does not propagate. Its records go to the `Reports` of the extraction
running in this context (a context variable: each thread has its own), which keeps a count
and the first few records unformatted, and needs almost no stack to do it. Outside an
extraction, records go to the root handlers as before.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: Records kept verbatim for the summary line in the log.
KEPT_RECORDS = 3
#: Longest message quoted from a record.
QUOTED_CHARS = 200


@dataclass
class Reports:
    """What pypdf reported while one file was read."""

    count: int = 0
    #: pypdf hit Python's recursion limit and went on with a partial object: the file nests
    #: deeper than any producer writes, and what was read of it is not the file.
    too_deep: bool = False
    first: list[logging.LogRecord] = field(default_factory=list)

    def add(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < KEPT_RECORDS:
            self.first.append(record)
        if not self.too_deep:
            # pypdf logs inside the `except` that caught the error, so it is in flight here.
            self.too_deep = _caused_by_recursion(sys.exc_info()[1])


_CURRENT: ContextVar[Reports | None] = ContextVar("folio_pypdf_reports", default=None)


class _Router(logging.Handler):
    """The "pypdf" logger's only way out: to the current `Reports`, else the root handlers."""

    def handle(self, record: logging.LogRecord) -> bool:
        # Straight to `emit`: no lock, no filters, as few frames as can be.
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        reports = _CURRENT.get()
        if reports is None:
            logging.getLogger().callHandlers(record)
        else:
            reports.add(record)


def install() -> None:
    """Route the "pypdf" logger through `_Router` (once; pdf.py calls it on import)."""
    pypdf_logger = logging.getLogger("pypdf")
    if not any(isinstance(h, _Router) for h in pypdf_logger.handlers):
        pypdf_logger.addHandler(_Router())
        pypdf_logger.propagate = False


@contextmanager
def collecting(name: str) -> Iterator[Reports]:
    """pypdf's reports while the body reads the file `name` (used in the log line only)."""
    reports = Reports()
    token = _CURRENT.set(reports)
    try:
        yield reports
    finally:
        _CURRENT.reset(token)
        if reports.count:
            first = "; ".join(_quoted(r) for r in reports.first)
            log.info("pypdf reported %d problems reading %s, first: %s", reports.count, name, first)


def _caused_by_recursion(error: BaseException | None) -> bool:
    """Whether `error` is, or came (a few links back) from, a RecursionError."""
    for _ in range(8):
        if error is None:
            return False
        if isinstance(error, RecursionError):
            return True
        error = error.__cause__ or error.__context__
    return False


def _quoted(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # an argument's repr can itself recurse too deep
        message = str(record.msg)
    return message[:QUOTED_CHARS]
