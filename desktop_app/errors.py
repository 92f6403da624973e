"""Errors whose messages are written for the person using Folio.

Anything a user can cause (a bad file, a missing model, too little memory)
is raised as a `FolioError`; the CLI prints its message as one line and exits
with status 2, the UI shows it in a dialog. Anything else is a bug and keeps
its traceback (in the log), never on the user's screen.
"""

import re


class FolioError(Exception):
    """A failure the user can understand and act on; `str()` is the message."""


class ModelFileError(FolioError):
    """The model file is missing, unreadable, not a GGUF or not supported."""


class ModelLoadError(FolioError):
    """llama.cpp could not load the model on any placement (GPU or CPU)."""


class DocumentError(FolioError):
    """A document could not be read."""


class ReaderOutOfMemory(DocumentError):
    """The child reading a document ran out of the memory it is allowed."""


class OcrUnavailable(DocumentError):
    """A page needs OCR and the engine or a language it needs is not installed."""


class SettingsError(FolioError):
    """A setting's value cannot be used (the message names the setting and the range)."""


class NoModelConfigured(FolioError):
    """No model is configured and the demo model is not installed."""


class PasswordRequired(DocumentError):
    """The document is encrypted and no (or a wrong) password was given.

    The UI and CLI catch this to ask for the password, then call `load` again.
    """

    def __init__(self, message: str, *, wrong_password: bool) -> None:
        super().__init__(message)
        self.wrong_password = wrong_password


#: What a message must not carry as itself: C0 and C1 controls and DEL (ESC starts terminal
#: sequences: OSC 52 writes the clipboard, OSC 0 retitles the window, CSI 2J clears the
#: screen; a newline forges a line of its own), Unicode line and paragraph separators, the
#: bidirectional marks, overrides and isolates that make "invoice\u202efdp.exe" show as
#: "invoiceexe.pdf", and lone surrogates (undecodable bytes in a POSIX file name).
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """`text` as one line that a terminal shows and does not obey: each character in
    `_UNPRINTABLE` is written as its Python escape (\\x1b, \\n, \\u202e).

    File names come from anywhere (a downloaded archive, a shared folder), and messages
    quote them; applying this to a message twice changes nothing.
    """
    return _UNPRINTABLE.sub(_escape, text)
