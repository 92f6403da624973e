"""Entry point of the `folio` command (and `python -m desktop_app`).

User errors (`FolioError`) become one line on stderr and exit status 2; any
other exception is a bug: its traceback goes to the log file, and the user
gets one line saying where that log is.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from desktop_app import __version__, paths
from desktop_app.cli import add_subcommands
from desktop_app.cli_interrupt import exit_now
from desktop_app.core.hardware.backends import PROBE_FLAG
from desktop_app.errors import FolioError, printable

log = logging.getLogger("desktop_app")
#: = core.documents.isolated.CHILD_FLAG, spelled out: importing that package here would load
#: the PDF and DOCX parsers on every start (tests/unit/test_isolated_extraction.py checks).
EXTRACT_FLAG = "--folio-extract"
#: = core.documents.render_service.CHILD_FLAG (the source pane's page renderer), likewise.
RENDER_FLAG = "--folio-render"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="folio",
        description="Ask questions about whole documents with a local LLM, offline.",
    )
    parser.add_argument("--version", action="version", version=f"folio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    add_subcommands(parser)
    return parser


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log file. A record it cannot write leaves one line saying so, where the stdlib
    would print "--- Logging error ---" and a traceback on the user's terminal: pypdf logs
    from the bottom of a 100,000-level PDF dictionary, where the stack has no room left to
    format anything, and one such file printed 9,046 of those lines."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        try:
            self.stream.write(
                f"(a {record.levelname} record from {record.name} at {record.pathname}:"
                f"{record.lineno} could not be written: {type(error).__name__})\n"
            )
            self.flush()
        except Exception:
            pass  # no stack or no disk left: this record is lost, nothing else


class _Console(logging.StreamHandler):
    """stderr. A record it cannot write is dropped without a word: the terminal is for
    Folio's messages, and the log file has the record (or a line saying it could not)."""

    def handleError(self, record: logging.LogRecord) -> None:
        return None


class _OneLineFormatter(logging.Formatter):
    """Each message on one line with control characters escaped (`printable`): messages
    quote file names, and a name can hold ESC sequences or a newline."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))


def setup_logging(verbose: bool) -> None:
    """Everything to a rotating log file; only Folio's own warnings to stderr."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        file_handler = _LogFile(
            paths.log_dir() / "folio.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        file_handler = None
    if file_handler is not None:
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(file_handler)
    console = _Console(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(_OneLineFormatter("folio: %(message)s"))
    console.addFilter(
        lambda r: (
            not getattr(r, "file_only", False) and (verbose or r.name.startswith("desktop_app"))
        )
    )
    root.addHandler(console)


COMMANDS = ("info", "ask", "chat", "extract", "models", "system", "serve", "summarize")


def build_gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="folio",
        description="Ask questions about whole documents with a local LLM, offline. "
        f"Without a command the window opens; commands: {', '.join(COMMANDS)} (folio COMMAND -h).",
    )
    parser.add_argument("--version", action="version", version=f"folio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument("files", nargs="*", help="documents to attach to a new chat")
    parser.add_argument("--model", help="GGUF model file to use instead of the configured one")
    parser.add_argument("--smoke-test", action="store_true",
                        help="build the window offscreen, answer one question, exit 0")  # fmt: skip
    return parser


def _not_a_command(word: str) -> str:
    """Why `word` (the first word, not a command) is refused, or "" when it may be a file.

    `folio extrct a.pdf` opened the window with a file named "extrct". A word with no path
    separator and no suffix that names no file is a mistyped command, not a document."""
    import difflib
    from pathlib import Path

    if "/" in word or "\\" in word or Path(word).suffix or Path(word).exists():
        return ""
    close = difflib.get_close_matches(word, COMMANDS, n=1)
    hint = f" Did you mean “{close[0]}”?" if close else ""
    return (f"“{printable(word)}” is not a command, nor a file.{hint} "
            f"Commands: {', '.join(COMMANDS)} (folio COMMAND -h).")  # fmt: skip


def _give_windowed_app_streams() -> None:
    """A windowed (bundled) app starts with sys.stdout/stderr set to None; printing or
    logging to them would raise, so they go to the null device (the log file has it all)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [PROBE_FLAG]:
        # The bundled app has no `python -m`: the CPU-module probe child runs through here.
        from desktop_app.core.hardware.cpu_probe import main as probe_main

        return probe_main(argv[1:])
    if argv[:1] == [EXTRACT_FLAG]:
        # Likewise the isolated document reader (core/documents/isolated.py).
        from desktop_app.core.documents.isolated import child_main

        return child_main()
    if argv[:1] == [RENDER_FLAG]:
        from desktop_app.core.documents.render_service import child_main as render_main

        return render_main()
    _give_windowed_app_streams()
    words = [a for a in argv if not a.startswith("-")]
    gui = not (words and words[0] in COMMANDS)
    if gui and words and (mistyped := _not_a_command(words[0])):
        print(f"folio: {mistyped}", file=sys.stderr)
        return 2
    args = (build_gui_parser() if gui else build_parser()).parse_args(argv)
    setup_logging(args.verbose)
    try:
        if gui:
            from desktop_app.ui.launch import run

            _exit_at_once(run(args.files, args.model, args.smoke_test))
        return int(args.handler(args) or 0)
    except FolioError as exc:
        print(f"folio: {printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `folio extract big.pdf | head`: the reader has what it wanted. End quietly, as
        # every Unix tool does, and keep the interpreter's final flush from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool the pipe ended
    except Exception:
        log.exception("unexpected error", extra={"file_only": True})
        print(
            f"folio: unexpected internal error; details are in {paths.log_dir() / 'folio.log'}",
            file=sys.stderr,
        )
        return 1


def _exit_at_once(code: int) -> NoReturn:
    """The window has closed and saved everything (the answer, the draft, the history
    closed, downloads paused, the instance socket removed). What is left is the C teardown
    of Qt's widgets and llama.cpp's backends: measured 0.5–1.2 s after the window was gone,
    on a 2-core machine, with nothing to show for it; Quit must end within a second."""
    logging.shutdown()  # not in `exit_now`: that also runs inside a signal handler
    exit_now(code)


if __name__ == "__main__":
    sys.exit(main())
