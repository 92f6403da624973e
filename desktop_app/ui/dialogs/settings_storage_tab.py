"""Settings → Documents & storage: the OCR language, the largest document, and the memory
and disk that make follow-ups and re-opened documents fast."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QFormLayout, QWidget

from desktop_app.core.documents import ocr
from desktop_app.settings import Settings
from desktop_app.ui.dialogs.form_widgets import double_spin, hint, row, spin, tint, watch

#: The OCR languages by the name their speakers know them by.
OCR_LANGUAGE_NAMES = {"eng": "English", "fra": "Français", "deu": "Deutsch", "spa": "Español",
                      "ita": "Italiano", "nld": "Nederlands"}  # fmt: skip
#: The "Document language (OCR)" choices: each language alone, then each with English
#: (contracts and specs in one language often quote English terms, names and clauses).
OCR_CHOICES = (*OCR_LANGUAGE_NAMES, *(f"{c}+eng" for c in OCR_LANGUAGE_NAMES if c != "eng"))
NOT_INSTALLED = " (not installed)"


def ocr_label(languages: str) -> str:
    """ "fra+eng" -> "Français + English"."""
    return " + ".join(OCR_LANGUAGE_NAMES.get(code, code) for code in languages.split("+"))


class StorageTab(QWidget):
    changed = Signal()

    def __init__(self, s: Settings) -> None:
        super().__init__()
        self.max_document_mb = spin(1, 100_000, s.max_document_mb, 50, " MB")
        self.checkpoint_ram_mb = spin(128, 65_536, s.checkpoint_ram_mb, 256, " MB")
        self.state_cache_gb = double_spin(0.0, 10_000.0, 5.0, 1, " GB")
        self.state_cache_gb.setSpecialValueText("Off")
        self.state_cache_gb.setValue(s.state_cache_gb)
        form = QFormLayout(self)
        form.addRow("Document language (OCR):", self._ocr_choice(s))
        for label, box, text in (
            ("Largest document:", self.max_document_mb, "Larger files are refused unread."),
            ("Checkpoint memory:", self.checkpoint_ram_mb, "RAM for fast follow-ups."),
            ("Saved states:", self.state_cache_gb, "Disk so re-opened documents skip reading."),
        ):
            form.addRow(label, row(row(box), hint(text), vertical=True))
        watch(self, self.changed.emit)

    def values(self) -> dict[str, object]:
        return {
            "max_document_mb": self.max_document_mb.value(),
            "checkpoint_ram_mb": self.checkpoint_ram_mb.value(),
            "state_cache_gb": self.state_cache_gb.value(),
            "ocr_languages": self.ocr_languages.currentData(),
        }

    def _ocr_choice(self, s: Settings) -> QWidget:
        """The OCR language combo: languages this install lacks are greyed, with how to add
        them as the tooltip; a saved choice that lacks one stays selected, and the hint says
        what is missing."""
        self.ocr_info = info = ocr.engine_info()
        self.ocr_languages = QComboBox()
        self.ocr_hint = hint()
        choices = list(OCR_CHOICES)
        if s.ocr_languages not in choices:  # a valid combination the list does not offer
            choices.append(s.ocr_languages)
        model = self.ocr_languages.model()
        assert isinstance(model, QStandardItemModel)
        for index, languages in enumerate(choices):
            missing = info.missing(languages) if info.version else ()
            label = ocr_label(languages) + (NOT_INSTALLED if missing else "")
            self.ocr_languages.addItem(label, languages)
            if missing:
                model.item(index).setEnabled(False)
                how = "\n".join(info.how_to_add(language) for language in missing)
                self.ocr_languages.setItemData(index, how, Qt.ItemDataRole.ToolTipRole)
        self.ocr_languages.setCurrentIndex(choices.index(s.ocr_languages))
        self.ocr_languages.setEnabled(bool(info.version))
        self.ocr_languages.currentIndexChanged.connect(self._sync_ocr_hint)
        self._sync_ocr_hint()
        return row(row(self.ocr_languages), self.ocr_hint, vertical=True)

    def _sync_ocr_hint(self) -> None:
        """What OCR will read scanned pages with, or what stops it (red)."""
        info = self.ocr_info
        missing = info.missing(self.ocr_languages.currentData()) if info.version else ()
        if not info.version:
            text = f"OCR is not available: {info.problem or 'no OCR engine'}"
        elif missing:
            text = "\n".join(info.how_to_add(language) for language in missing)
        else:
            installed = [name for code, name in OCR_LANGUAGE_NAMES.items()
                         if code in info.languages]  # fmt: skip
            text = (f"For scanned pages ({info.name} {info.version}; installed: "
                    f"{', '.join(installed) or 'none'}).")  # fmt: skip
        trouble = not info.version or bool(missing)
        self.ocr_hint.setText(text)
        self.ocr_hint.setEnabled(trouble)
        tint(self.ocr_hint, trouble)
