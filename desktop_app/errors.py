"""Errors whose messages are written for the person using Folio.

Anything a user can cause (a bad file, a missing model, too little memory)
is raised as a `FolioError`; the CLI prints its message as one line and exits
with status 2, the UI shows it in a dialog. Anything else is a bug and keeps
its traceback (in the log), never on the user's screen.
"""


class FolioError(Exception):
    """A failure the user can understand and act on; `str()` is the message."""


class ModelFileError(FolioError):
    """The model file is missing, unreadable, not a GGUF or not supported."""


class ModelLoadError(FolioError):
    """llama.cpp could not load the model on any placement (GPU or CPU)."""


class DocumentError(FolioError):
    """A document could not be read."""


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
