"""Time to first token for follow-up questions on a long document, hybrid model.

A random-weight Qwen3.5-0.8B-shaped qwen35 GGUF (24 layers, 3 Gated DeltaNet :
1 attention, hidden 1024, Q4_0, SmolLM2's tokenizer) and a ≥4,000-token
document. In one run:
  (a) llama-cpp-python `create_chat_completion`: Q1, then Q2 in the same chat;
  (b) Folio: Q1, Q2, regenerate Q2, and Q3 asked by a fresh `folio ask` process
      (the document state comes from disk).
Prints each TTFT and its ratio to the same side's Q1.

    .venv/bin/python benchmarks/followup.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import llama_cpp  # noqa: E402

from desktop_app.core.hardware.backends import ensure_loaded  # noqa: E402

ensure_loaded()  # the build's CPU/GPU modules, as the app loads them

from desktop_app import settings as settings_mod  # noqa: E402
from desktop_app.core.chat.conversation import Attachment, document_block  # noqa: E402
from desktop_app.core.chat.session import ChatSession  # noqa: E402
from desktop_app.core.documents.library import DocumentLibrary  # noqa: E402
from desktop_app.core.llm.events import Done  # noqa: E402
from tests.fixtures.gguf_factory import QWEN35_0_8B_SHAPE, write_tiny_qwen35  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
N_CTX = 8192
ANSWER_TOKENS = 8
QUESTIONS = ["What is the fee for item 17?", "And the payment period for item 40?",
             "Which clause covers item 63?"]  # fmt: skip


def model_path() -> Path:
    path = CACHE / "qwen35-0.8b-shaped-q4_0.gguf"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        write_tiny_qwen35(tmp, **QWEN35_0_8B_SHAPE, weight_type="q4_0")
        tmp.rename(path)
    return path


def document_text() -> str:
    return "\n\n".join(
        f"Clause {n}. The fee for item {n} is {n * 7} euros, payable within {n + 10} days "
        f"of the invoice; late payment of item {n} carries interest of {n % 9 + 1} percent."
        for n in range(1, 90)
    )


def baseline(path: Path, doc: Path, system: str) -> list[float]:
    llm = llama_cpp.Llama(str(path), n_ctx=N_CTX, verbose=False)
    messages = [{"role": "system", "content": system}]
    times = []
    for question in QUESTIONS[:2]:
        messages.append({"role": "user", "content": question})
        start = time.perf_counter()
        first = None
        answer = []
        for chunk in llm.create_chat_completion(messages, max_tokens=ANSWER_TOKENS, stream=True,
                                                temperature=0):  # fmt: skip
            delta = chunk["choices"][0]["delta"].get("content")
            if delta and first is None:
                first = time.perf_counter() - start
            answer.append(delta or "")
        times.append(first if first is not None else time.perf_counter() - start)
        messages.append({"role": "assistant", "content": "".join(answer)})
    llm.close()
    return times


def folio(path: Path, doc: Path) -> tuple[list[float], int]:
    settings = settings_mod.load()
    session = ChatSession.open(path, settings, [DocumentLibrary().read(doc)], n_ctx=N_CTX)
    ttft = []
    try:
        assert session.plan.mode == "whole", session.plan.summary()
        for events in (session.ask(QUESTIONS[0]), session.ask(QUESTIONS[1]), session.regenerate()):
            done = [e for e in events if isinstance(e, Done)][-1]
            ttft.append(done.stats.ttft_s)
        return ttft, session.plan.document_tokens[0]
    finally:
        session.close()


def fresh_process(path: Path, doc: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "desktop_app", "ask", str(doc), "--model", str(path),
         "--ctx", str(N_CTX), "-q", QUESTIONS[2], "--stats"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stderr.strip().splitlines()[-1])


def main() -> None:
    path = model_path()
    with tempfile.TemporaryDirectory() as home:
        os.environ["FOLIO_HOME"] = home
        settings_mod.save(settings_mod.Settings(max_answer_tokens=ANSWER_TOKENS,
                                                sampling={"temperature": 0.0}))  # fmt: skip
        doc = Path(home) / "contract.txt"
        doc.write_text(document_text(), encoding="utf-8")
        system = (
            settings_mod.load().system_prompt
            + "\n\n"
            + document_block([Attachment(doc.name, DocumentLibrary().read(doc).model_text())])
        )
        base = baseline(path, doc, system)
        ours, doc_tokens = folio(path, doc)
        disk = fresh_process(path, doc)
    print(f"qwen35 0.8B-shaped Q4_0, {doc_tokens:,}-token document, n_ctx {N_CTX}, "
          f"{os.cpu_count()} CPUs; time to first token (s) and ratio to Q1")  # fmt: skip
    rows = [
        ("llama-cpp-python Q1", base[0], base[0]),
        ("llama-cpp-python Q2", base[1], base[0]),
        ("Folio Q1", ours[0], ours[0]),
        ("Folio Q2 (same chat)", ours[1], ours[0]),
        ("Folio regenerate Q2", ours[2], ours[0]),
        (f"Folio Q3, new process ({disk['cache']})", disk["ttft_s"], ours[0]),
    ]
    for label, seconds, ref in rows:
        print(f"  {label:<34}{seconds:>9.3f}{seconds / ref:>9.1%}")


if __name__ == "__main__":
    main()
