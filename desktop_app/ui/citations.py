"""Show what an answer cites: `[Page 17]` or `§ 12.3` → that page's or section's text.

Documents come from the extraction cache (fast, but still disk), so the look-up
runs on a short-lived thread, not the UI thread and not the engine thread
(which may be busy answering); the result comes back as a queued signal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from desktop_app.core import documents
from desktop_app.errors import FolioError

log = logging.getLogger(__name__)


def find_unit(paths: Sequence[str], label: str) -> tuple[str, str]:
    """("doc.pdf, [Page 17]", the unit's text) for the first unit matching `label`."""
    wanted = label.strip().lower()
    for path in paths:
        try:
            doc = documents.load(path)
        except FolioError:
            continue
        for unit in doc.units:
            names = {str(unit.number or ""), (unit.label or "").lower()}
            if wanted in names or (unit.label or "").lower().startswith(wanted + " "):
                return f"{doc.path.name}, {unit.locator()}", unit.text
    return "", ""


class CitationLookup(QObject):
    found = Signal(str, str, str)  # label, where, text

    def look_up(self, paths: Sequence[str], label: str) -> None:
        def work() -> None:
            try:
                where, text = find_unit(paths, label)
            except Exception:  # a look-up must never take the app down
                log.exception("citation look-up failed")
                where, text = "", ""
            self.found.emit(label, where, text)

        threading.Thread(target=work, name="folio-citation", daemon=True).start()
