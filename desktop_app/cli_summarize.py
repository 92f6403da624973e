"""`folio summarize DIR_OR_FILES... [--out DIR]`: a summary per document, in one run.

Each file is read as the app reads it (a child process per file, with limits), summarized
whole or in parts (core/chat/summarize.py, which says which), and written to stdout or to
`--out/NAME.md`. A file that fails is reported and the batch goes on (exit 1 at the end).
With `--out`, a re-run skips files whose content, prompt and model are unchanged (sha256 in
`--out/.folio-summaries.json`). Ctrl+C stops the file being summarized within about a
second; finished summaries stay. The batch runs on a worker thread: the main thread only
waits and counts Ctrl+C (cli_interrupt.py), since a SIGINT handler cannot run while the
main thread is inside a llama.cpp decode.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from desktop_app.cli_interrupt import EXIT_INTERRUPTED, CtrlC, exit_now
from desktop_app.errors import FolioError, printable

SUFFIXES = frozenset({".pdf", ".docx", ".txt", ".md", ".markdown", ".csv", ".html", ".htm",
                      ".png", ".jpg", ".jpeg", ".tif", ".tiff"})  # fmt: skip
MANIFEST = ".folio-summaries.json"
#: After Ctrl+C, how long the file being summarized gets to stop (a decode is aborted between
#: graph nodes; a model load cannot be) before the run ends without it.
STOP_WAIT_S = 0.8


def add_summarize_command(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("summarize", help="a summary of each document (PDF, DOCX, text)")
    cmd.add_argument("paths", nargs="+", help="files, or folders of documents")
    cmd.add_argument("--out", help="write NAME.md per document here (else to stdout)")
    cmd.add_argument("--prompt", help="what to ask for each document")
    cmd.add_argument("--model", help="GGUF model file (default: the configured one)")
    cmd.add_argument("--ctx", type=int, help="context length in tokens (default: sized to fit)")
    cmd.set_defaults(handler=cmd_summarize)


def collect(paths: list[str]) -> list[Path]:
    """The documents named, folders expanded (sorted, hidden files skipped)."""
    found: list[Path] = []
    for name in paths:
        path = Path(name).expanduser()
        if path.is_dir():
            found += sorted(
                p for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
            )  # fmt: skip
        else:
            found.append(path)
    return found


def cmd_summarize(args: argparse.Namespace) -> int:
    from desktop_app import settings as settings_mod
    from desktop_app.atomic import write_bytes
    from desktop_app.core.chat.summarize import PROMPT, Summarizer
    from desktop_app.core.documents.isolated import Cancelled
    from desktop_app.core.documents.library import DocumentLibrary, NeedsPassword
    from desktop_app.core.models.locator import resolve_model

    files = collect(args.paths)
    if not files:
        raise FolioError("No documents found (PDF, DOCX, text files or scans).")
    settings = settings_mod.load()
    if args.ctx:
        settings = settings.replace(n_ctx=args.ctx)
    model_path = resolve_model(args.model, settings.model_path)
    prompt = args.prompt or PROMPT
    out = Path(args.out).expanduser() if args.out else None
    manifest = _read_manifest(out)
    summarizer = Summarizer(model_path, settings, prompt)
    library = DocumentLibrary(settings.max_document_bytes, settings.ocr_languages)
    cancel = threading.Event()
    counts = {"done": 0, "skipped": 0, "failed": 0}
    crashed: list[BaseException] = []  # a bug on the worker, raised again here
    started = time.monotonic()

    def batch() -> None:
        try:
            for i, path in enumerate(files, 1):
                if cancel.is_set():
                    break
                label = f"[{i}/{len(files)}] {printable(path.name)}"
                key = {"prompt": prompt, "model": model_path.name}
                target = out / f"{path.stem}.md" if out else None
                try:
                    doc = library.read(path, cancel=cancel)  # a cache hit when summarized before
                    if isinstance(doc, NeedsPassword):
                        raise FolioError(f"{doc.message} (summarize reads no encrypted files)")
                    record = {**key, "sha256": doc.sha256}
                    if target and target.exists() and manifest.get(path.name) == record:
                        counts["skipped"] += 1
                        print(f"{label}: unchanged, skipped", file=sys.stderr)
                        continue
                    summary = summarizer.summarize(doc, _progress(label, started, i, len(files)),
                                                   cancel)  # fmt: skip
                except (FolioError, Cancelled) as exc:
                    if cancel.is_set():
                        break
                    counts["failed"] += 1
                    print(f"\n{label}: failed: {exc}" if sys.stderr.isatty() else
                          f"{label}: failed: {exc}", file=sys.stderr)  # fmt: skip
                    continue
                if summary.finish_reason == "cancelled":
                    break
                how = f"_Summarized {summary.method}._\n\n" if summary.method else ""
                text = f"# {path.name}\n\n{how}{summary.text}\n"
                if target is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    write_bytes(target, text.encode("utf-8"))
                    manifest[path.name] = record
                    write_bytes(out / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
                else:
                    sys.stdout.write(text + "\n")
                    sys.stdout.flush()
                counts["done"] += 1
                _clear_line()
                print(f"{label}: done" + (f" ({summary.method})" if summary.method else ""),
                      file=sys.stderr)  # fmt: skip
        except BaseException as exc:
            crashed.append(exc)
        finally:
            ended.set()  # every summary is written; what follows only frees the model
            summarizer.close()

    ended = threading.Event()
    worker = threading.Thread(target=batch, name="folio-summarize", daemon=True)
    with CtrlC() as ctrl_c:  # the first press stops the file being summarized; a second, all
        worker.start()
        stopping_since: float | None = None
        while not ended.wait(0.05):
            if ctrl_c.pressed and stopping_since is None:
                stopping_since = time.monotonic()
                cancel.set()
            elif stopping_since is not None and time.monotonic() - stopping_since > STOP_WAIT_S:
                break  # inside a call that cannot be stopped (a model load): leave it
    stopped = " (stopped)" if cancel.is_set() else ""
    _clear_line()
    print(f"{counts['done']} summarized, {counts['skipped']} unchanged, {counts['failed']} failed"
          f"{stopped}", file=sys.stderr)  # fmt: skip
    if cancel.is_set():  # the process exit frees the model at once (freeing a 9B: 0.5 s)
        exit_now(EXIT_INTERRUPTED)
    worker.join()
    if crashed:
        raise crashed[0]
    return 1 if counts["failed"] else 0


def _progress(label: str, started: float, index: int, total: int):
    """A `\\r` line on a terminal: this file's reading, and the batch's ETA from its pace."""

    def show(p) -> None:
        if not sys.stderr.isatty() or not p.total:
            return
        left = f" · {p.eta_s:,.0f} s left" if p.eta_s else ""
        per_file = (time.monotonic() - started) / max(index - 1, 1) if index > 1 else None
        overall = f" · batch ~{per_file * (total - index + 1) / 60:,.0f} min" if per_file else ""
        sys.stderr.write(f"\r{label}: reading {p.done:,}/{p.total:,} tokens{left}{overall}   ")
        sys.stderr.flush()

    return show


def _clear_line() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")


def _read_manifest(out: Path | None) -> dict:
    if out is None:
        return {}
    try:
        value = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
