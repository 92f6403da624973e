"""`folio ask` and `folio chat`: the terminal as a view of the same controller as the window.

The CLI drives `ChatController` exactly as the window does: documents are read on the
reader queue (in a child process), the session opens and answers stream on the engine
queue, and every answer is saved in Folio's history, so a chat begun in the terminal can
be continued in the app. The main thread pumps the controller's events and counts Ctrl+C
(cli_interrupt.py). Ctrl+C while an answer streams is Stop (the engine aborts the decode in
flight, the partial answer is kept as "cancelled"), never a half-finished llama.cpp call;
`folio ask` then ends, with any questions left unasked. Ctrl+C while files are read, the
model loads or the documents are read into the model ends the run at once (`close` kills
the reader's child and aborts the engine's job). Either way the run ends within about a
second; a second Ctrl+C ends it now.

Answers go to stdout as they stream; everything else (status, notices, stats) to stderr,
so `folio ask ... > answer.txt` captures only the answer.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from desktop_app import atomic
from desktop_app import settings as settings_mod
from desktop_app.cli_interrupt import EXIT_INTERRUPTED, CtrlC, exit_now
from desktop_app.core.chat.cards import DocState, DocumentCard
from desktop_app.core.chat.controller import ChatController
from desktop_app.core.chat.dispatch import QueueDispatcher
from desktop_app.core.chat.export import export_markdown, turns
from desktop_app.core.chat.session_host import Opened, SessionHost
from desktop_app.core.chat.view import PasswordQuestion, ShownMessage
from desktop_app.core.history.store import Store
from desktop_app.core.llm.events import PrefillProgress
from desktop_app.core.models.locator import DEMO_MODEL_LABEL, model_to_load
from desktop_app.errors import FolioError, printable
from desktop_app.settings import Settings

#: Prompts shorter than this are read too fast for a progress line to help.
PROGRESS_MIN_TOKENS = 2048
NOTICES = {
    "length": "[answer cut off: it reached the {limit:,}-token answer limit]",
    "context_full": "[answer cut off: the context is full; start a new chat]",
    "cancelled": "[stopped]",
    "error": "[the answer stopped with an error]",
}
#: How often the main thread looks at Ctrl+C between the controller's events.
PUMP_S = 0.05
#: After Ctrl+C, how long an answer gets to end as "[stopped]" (the engine aborts a decode
#: between graph nodes: a 9B model on 2 cores within about half a second) before the run
#: ends without waiting for it.
STOP_WAIT_S = 0.6
#: After Ctrl+C, how long the reader and then the engine each get to stop; one that does
#: not (llama.cpp loading a model cannot be interrupted) is left to the process exit.
INTERRUPTED_SHUTDOWN_S = 0.2


class TerminalView:
    """`ConversationView` on a terminal: the answer to stdout, the rest to `status`."""

    def __init__(self, args: argparse.Namespace, status: TextIO) -> None:
        self._args = args
        self._status = status
        self._header = ""
        self._warned: set[str] = set()
        #: What went wrong since the caller last looked: failed reads, a failed load…
        self.errors: list[str] = []
        self.max_answer_tokens = 0
        self.model: str | None = None

    # The conversation itself is not drawn: the terminal shows each answer as it streams.
    def show_messages(self, messages: Sequence[ShownMessage]) -> None: ...
    def add_user_message(self, text: str) -> None: ...
    def begin_answer(self) -> None: ...
    def mark_citations(self, found: dict) -> None: ...  # printed once the answer ends
    def set_busy(self, busy: bool) -> None: ...
    def show_draft(self, text: str) -> None: ...
    def clear_progress(self) -> None: ...
    def remove_card(self, key: str) -> None: ...
    def model_status(self, text: str) -> None: ...  # a failure also arrives as show_error
    def conversations_changed(self) -> None: ...
    def answer_stats(self, stats: dict, used_tokens: int) -> None: ...

    def append_answer(self, answer: str, reasoning: str) -> None:
        if reasoning and self._args.show_reasoning:
            sys.stderr.write(reasoning)
            sys.stderr.flush()
        if answer:
            sys.stdout.write(answer)
            sys.stdout.flush()

    def end_answer(self, stats: dict | None, finish_reason: str) -> None:
        sys.stdout.write("\n")
        sys.stdout.flush()
        notice = NOTICES.get(finish_reason)
        if notice:
            print(notice.format(limit=self.max_answer_tokens), file=sys.stderr)
        checked = (stats or {}).get("citations") or {}
        if checked.get("summary"):
            print(f"[citations: {checked['summary']}]", file=sys.stderr)
        if getattr(self._args, "stats", False) and stats is not None:
            print(json.dumps(stats | {"finish_reason": finish_reason}), file=sys.stderr,
                  flush=True)  # fmt: skip

    def show_progress(self, progress: PrefillProgress, label: str, unit: str) -> None:
        big = unit != "tokens" or progress.total > PROGRESS_MIN_TOKENS
        if not (big and sys.stderr.isatty()):
            return
        sys.stderr.write(
            f"\r{label.lower()} {progress.done:,}/{progress.total:,} {unit} · "
            f"{progress.tokens_per_s or 0:,.0f} {unit}/s · {progress.eta_s or 0:,.0f} s left   "
        )
        sys.stderr.write("\n" if progress.done == progress.total else "")
        sys.stderr.flush()

    def show_cards(self, cards: Sequence[DocumentCard]) -> None:
        for card in cards:
            self.update_card(card)

    def update_card(self, card: DocumentCard) -> None:
        if card.state is DocState.ERROR:
            self.errors.append(card.error)
        for warning in card.warnings:
            if (card.key, warning) not in self._warned:
                self._warned.add((card.key, warning))
                print(f"folio: {printable(card.name)}: {printable(warning)}", file=sys.stderr)

    def session_opened(self, opened: Opened) -> None:
        self.model = opened.model
        header = f"{opened.model} · {opened.placement} · {opened.n_ctx:,}-token context"
        if opened.n_threads:  # 0: a remote engine server answers
            header += f" · {opened.n_threads} threads"
        if header == self._header:
            return
        self._header = header
        print(header, file=self._status)
        if opened.context:
            print(f"Documents: {opened.context}", file=sys.stderr)
        if opened.model == DEMO_MODEL_LABEL:  # not when a remote engine server answers
            print("Note: the demo model is tiny and often wrong; use a Qwen3.5 GGUF for real "
                  "work (folio ask --model PATH).", file=self._status)  # fmt: skip

    def show_error(self, message: str) -> None:
        self.errors.append(message)

    def request_password(self, question: PasswordQuestion) -> None:
        """Asked at once: the terminal has nothing else to draw meanwhile."""
        if not sys.stdin.isatty():
            self.errors.append(f"{question.message} Pass it with --password.")
            question.answer(None)
            return
        print(f"folio: {question.message}", file=sys.stderr)
        question.answer(getpass.getpass(f"Password for {printable(Path(question.path).name)}: "))


def remote_options(args: argparse.Namespace, settings: Settings) -> Settings:
    """`--backend…` override the remote engine setting; `--model` alone means the model
    file runs in Folio, even when a remote engine is set."""
    if args.backend and args.model:
        raise FolioError("Pass either --model (the model runs in Folio) or --backend "
                         "(a server answers), not both.")  # fmt: skip
    if args.backend:
        return settings.replace(backend_url=args.backend, backend_key=args.backend_key or "",
                                backend_model=args.backend_model or "")  # fmt: skip
    if args.model:
        return settings.replace(backend_url="")
    return settings.replace(backend_key=args.backend_key or settings.backend_key,
                            backend_model=args.backend_model or settings.backend_model)  # fmt: skip


class TerminalChat:
    """A controller, its terminal view and the loop that pumps its events."""

    def __init__(self, args: argparse.Namespace, status: TextIO, ctrl_c: CtrlC) -> None:
        self._ctrl_c = ctrl_c
        settings = remote_options(args, settings_mod.load())
        if args.ctx:
            settings = settings.replace(n_ctx=args.ctx)
        model_path = model_to_load(args.model, settings)
        self.view = TerminalView(args, status)
        self.view.max_answer_tokens = settings.max_answer_tokens
        self._dispatcher = QueueDispatcher()
        self.controller = ChatController(
            Store(),
            SessionHost(model_path, settings),
            self.view,
            self._dispatcher,
            refuse_unreadable=True,
        )
        if args.thinking is not None:
            self.controller.thinking = args.thinking
        self.controller.new_conversation(args.files, args.password)
        try:
            self._wait(lambda: self.controller.reading)
            self.raise_errors()  # a file that cannot be read ends here, before the model loads
            self._wait(lambda: self.controller.preparing)
            self.raise_errors()
        except BaseException:
            self.close()
            raise

    def ask(self, question: str) -> None:
        """Stream the answer to `question`. Ctrl+C stops it (the partial answer is kept and
        its "[stopped]" printed), then raises KeyboardInterrupt for the caller."""
        self.controller.send(question)
        self._wait(lambda: self.controller.answering, on_interrupt=self.controller.stop)
        self.raise_errors()

    def new_conversation(self) -> None:
        """`/new`: forget the turns, keep the documents (already read: no re-reading)."""
        store, old = self.controller.store, self.controller.conversation_id or 0
        cid = store.create_conversation().id
        for d in store.documents(old):
            store.attach_document(cid, sha256=d.sha256, path=d.path, title=d.title,
                                  type=d.type, pages=d.pages, tokens=d.tokens,
                                  warnings=d.warnings)  # fmt: skip
        self.controller.open_conversation(cid)
        self._wait(lambda: self.controller.preparing)
        self.raise_errors()

    def export(self, path: Path) -> None:
        """The conversation's answers and their checked citations, as Markdown."""
        c = self.controller
        cid = c.conversation_id or 0
        documents = [Path(d.path).name for d in c.store.documents(cid)]
        markdown = export_markdown(
            turns(c.store.messages(cid)), documents=documents, model=self.view.model,
            when=datetime.now(),
        )  # fmt: skip
        try:
            atomic.write_bytes(path, markdown.encode("utf-8"))
        except OSError as exc:
            raise FolioError(f"Could not write {path}: {exc.strerror or exc}") from None
        print(f"Exported to {path}", file=sys.stderr)

    def raise_errors(self) -> None:
        errors, self.view.errors = self.view.errors, []
        if errors:
            raise FolioError(errors[0])

    def close(self) -> None:
        """End the controller: the reader's child killed, the engine's job stopped, the
        answer saved. After Ctrl+C nothing gets longer than about a second: an engine still
        inside a call that cannot be interrupted ends with the process (`exit_now`)."""
        if not self._ctrl_c.pressed:
            self.controller.shutdown()
        elif not self.controller.shutdown(INTERRUPTED_SHUTDOWN_S):
            exit_now(EXIT_INTERRUPTED)

    def _wait(
        self, busy: Callable[[], bool], on_interrupt: Callable[[], None] | None = None
    ) -> None:
        """Pump the controller's events while `busy`. Ctrl+C raises KeyboardInterrupt: at
        once, or with `on_interrupt` (Stop) once what it stopped has ended, at most
        `STOP_WAIT_S` later (a second Ctrl+C ends the process, see `CtrlC`).

        Ctrl+C only counts here, between events: raised inside an event's handler it could
        land mid-write (a history transaction left open, every later write refused)."""
        stopped_at: float | None = None
        while busy():
            if self._ctrl_c.pressed:
                if on_interrupt is None:
                    raise KeyboardInterrupt
                if stopped_at is None:
                    stopped_at = time.monotonic()
                    on_interrupt()
                elif time.monotonic() - stopped_at > STOP_WAIT_S:
                    raise KeyboardInterrupt
            self._dispatcher.pump(PUMP_S)
        if self._ctrl_c.pressed:
            raise KeyboardInterrupt


def cmd_ask(args: argparse.Namespace) -> int:
    questions = list(args.question)
    if not questions and not sys.stdin.isatty():
        text = sys.stdin.read().strip()
        questions = [text] if text else []
    if not questions:
        raise FolioError("No question: pass one or more -q QUESTION (or pipe one on stdin).")
    with CtrlC() as ctrl_c:
        chat = TerminalChat(args, sys.stderr, ctrl_c)
        try:
            for question in questions:
                chat.ask(question)
            if args.export:
                chat.export(Path(args.export))
        finally:
            chat.close()
    return 0


CHAT_HELP = "Type a question. Commands: /new (forget the conversation), /think on|off, /quit."


def cmd_chat(args: argparse.Namespace) -> int:
    ctrl_c = CtrlC()  # armed while Folio works; at the prompt Ctrl+C ends the chat
    with ctrl_c:
        chat = TerminalChat(args, sys.stdout, ctrl_c)
    print(CHAT_HELP)
    try:
        while True:
            try:
                line = input("\nyou> ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if not line:
                continue
            if line in ("/quit", "/exit"):
                return 0
            if line == "/new":
                with ctrl_c:
                    chat.new_conversation()
                print("(new conversation)")
                continue
            if line.startswith("/think"):
                chat.controller.thinking = line.split()[-1] != "off"
                print(f"(thinking {'on' if chat.controller.thinking else 'off'})")
                continue
            if line.startswith("/"):
                print(CHAT_HELP)
                continue
            print("folio> ", end="", flush=True)
            try:
                with ctrl_c:
                    chat.ask(line)
            except KeyboardInterrupt:  # the answer was stopped: back to the prompt
                continue
            except FolioError as exc:  # e.g. the context is full: say so, keep the chat
                print(f"\nfolio: {exc}", file=sys.stderr)
    finally:
        with ctrl_c:  # a Ctrl+C that stopped an earlier answer does not hurry this one
            chat.close()
