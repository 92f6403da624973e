"""Folio's headless face: `folio info`, `folio extract`, and the parsers of every command.

`folio ask` and `folio chat` live in cli_chat.py (a terminal view of the same controller as
the window), `folio models` in cli_models.py, `folio system` in cli_system.py.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app import settings as settings_mod
from desktop_app.cli_models import add_models_command
from desktop_app.cli_serve import add_serve_command
from desktop_app.cli_summarize import add_summarize_command
from desktop_app.cli_system import add_system_command
from desktop_app.errors import FolioError, printable

if TYPE_CHECKING:
    from desktop_app.core.documents import Document
    from desktop_app.settings import Settings

GiB = 1024**3


def add_subcommands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser("info", help="describe a GGUF model file without loading it")
    info.add_argument("model", help="path to a .gguf file")
    info.add_argument("--ctx", type=int, help="context length for the memory estimate")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(handler=cmd_info)

    ask = sub.add_parser("ask", help="ask questions about files; answers stream to stdout")
    ask.add_argument("files", nargs="*", help="documents to attach (PDF, DOCX, text)")
    ask.add_argument(
        "-q",
        "--question",
        action="append",
        default=[],
        help="a question; repeat to ask several in the same conversation",
    )
    _model_options(ask)
    ask.add_argument(
        "--stats",
        action="store_true",
        help="after each answer, print its stats as one JSON line to stderr",
    )
    ask.add_argument(
        "--export",
        metavar="FILE.md",
        help="also write the questions, answers and their checked citations as Markdown",
    )
    ask.set_defaults(handler=cmd_ask)

    chat = sub.add_parser("chat", help="interactive chat in the terminal")
    chat.add_argument("files", nargs="*", help="documents to attach (PDF, DOCX, text)")
    _model_options(chat)
    chat.set_defaults(handler=cmd_chat)

    extract = sub.add_parser("extract", help="print exactly the text the model would see")
    extract.add_argument("file", help="a PDF, DOCX or text file")
    extract.add_argument("--password", help="password of an encrypted PDF")
    extract.add_argument("--model", help="count tokens with this GGUF's tokenizer")
    extract.add_argument("--json", action="store_true", help="print one JSON object")
    extract.set_defaults(handler=cmd_extract)

    add_models_command(sub)
    add_system_command(sub)
    add_serve_command(sub)
    add_summarize_command(sub)


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="GGUF model file (default: the configured one, else the demo)")
    p.add_argument("--ctx", type=int, help="context length in tokens (default: sized to fit)")
    think = p.add_mutually_exclusive_group()
    think.add_argument(
        "--think",
        dest="thinking",
        action="store_true",
        default=None,
        help="let reasoning models think first",
    )
    think.add_argument("--no-think", dest="thinking", action="store_false")
    p.add_argument(
        "--show-reasoning",
        action="store_true",
        help="print the model's reasoning to stderr as it streams",
    )
    p.add_argument("--password", help="password for encrypted PDFs among the files")
    remote = p.add_argument_group("remote engine (instead of the model in Folio)")
    remote.add_argument(
        "--backend",
        metavar="URL",
        help="an OpenAI-compatible server to answer, e.g. http://gpu-box:8080/v1 "
        "(llama-server, vLLM, SGLang, Ollama, folio serve)",
    )
    remote.add_argument("--backend-key", metavar="KEY", help="the server's API key")
    remote.add_argument(
        "--backend-model", metavar="NAME", help="the model to ask for (default: the first listed)"
    )


# ------------------------------------------------------------------ info
def cmd_info(args: argparse.Namespace) -> int:
    from desktop_app.core import hardware
    from desktop_app.core.llm.placement import max_context
    from desktop_app.core.models.gguf_header import read_model_info

    info = read_model_info(args.model)
    hw = hardware.detect()
    ctx = args.ctx or info.n_ctx_train
    data = {
        "file": str(info.path),
        "file_size": info.file_size,
        "architecture": info.architecture,
        "name": info.name,
        "size_label": info.size_label,
        "n_params": info.n_params,
        "quantization": info.quantization,
        "n_ctx_train": info.n_ctx_train,
        "n_layer": info.n_layer,
        "n_attention_layers": info.n_attention_layers,
        "n_recurrent_layers": info.n_recurrent_layers,
        "hybrid": info.is_hybrid,
        "kv_bytes_per_token": info.kv_bytes_per_token,
        "recurrent_state_bytes": info.recurrent_state_bytes,
        "bos_token_id": info.bos_token_id,
        "eos_token_id": info.eos_token_id,
        "has_chat_template": info.chat_template is not None,
        "memory_estimate": {
            "n_ctx": ctx,
            "cache_bytes": info.cache_bytes(ctx),
            "total_bytes": info.memory_estimate(ctx),
        },
        "max_context_on_this_machine": max_context(info, hw, "f16"),
        "hardware": hw.summary(),
    }
    if args.json:
        print(json.dumps(data))
        return 0
    kind = (
        "hybrid (attention + recurrent)"
        if info.is_hybrid
        else ("recurrent" if info.is_recurrent else "attention")
    )
    lines = [
        f"{info.path.name}",
        f"  model         {info.name or '-'} ({info.size_label or '?'}, "
        f"{info.n_params / 1e9:.2f}B params)",
        f"  architecture  {info.architecture}, {kind}",
        f"  layers        {info.n_layer} ({info.n_attention_layers} attention, "
        f"{info.n_recurrent_layers} recurrent)",
        f"  quantization  {info.quantization or '-'}, file {info.file_size / GiB:.2f} GiB",
        f"  context       trained for {info.n_ctx_train:,} tokens",
        f"  cache         {info.kv_bytes_per_token:,} bytes/token (f16 KV)"
        f" + {info.recurrent_state_bytes:,} bytes recurrent state",
        f"  memory        ~{info.memory_estimate(ctx) / GiB:.2f} GiB at {ctx:,} tokens of context",
        f"  this machine  holds up to {data['max_context_on_this_machine']:,} tokens of context"
        f" ({hw.summary()})",
        f"  chat template {'yes' if info.chat_template else 'none (ChatML fallback)'}",
    ]
    print("\n".join(lines))
    return 0


# ------------------------------------------------------------------ extract
def load_document(path: str, password: str | None, settings: Settings) -> Document:
    """Read a document as the window does (parsed in the reader child, with its limits and
    OCR), asking for its password on a terminal when it has one."""
    from desktop_app.core.documents.library import DocumentLibrary, NeedsPassword

    library = DocumentLibrary(settings.max_document_bytes, settings.ocr_languages)
    while True:
        found = library.read(path, password, _extract_progress)
        if not isinstance(found, NeedsPassword):
            _extract_progress(0, 0, "")
            return found
        if not sys.stdin.isatty():
            raise FolioError(f"{found.message} Pass it with --password.")
        if password:
            print(f"folio: {found.message}", file=sys.stderr)
        password = getpass.getpass(f"Password for {printable(Path(path).name)}: ")


def _extract_progress(done: int, total: int, stage: str) -> None:
    """OCR takes seconds a page: say which page on a terminal (cleared when done)."""
    if not sys.stderr.isatty():
        return
    line = f"reading page {done} of {total} by OCR…" if stage == "ocr" else ""
    sys.stderr.write(f"\r{line:<60}\r" if line else f"\r{'':<60}\r")
    sys.stderr.flush()


def cmd_extract(args: argparse.Namespace) -> int:
    settings = settings_mod.load()
    doc = load_document(args.file, args.password, settings)
    model = args.model or settings.model_path
    tokens = None
    if model:
        from desktop_app.core.llm.tokenizer import VocabOnly
        from desktop_app.core.models.locator import resolve_model

        with VocabOnly(resolve_model(model, None)) as vocab:
            tokens = vocab.count(doc.model_text())
    if args.json:
        record = {
            "file": str(doc.path),
            "sha256": doc.sha256,
            "type": doc.type,
            "units": [u.as_dict() for u in doc.units],
            "warnings": list(doc.warnings),
            "tokens": tokens,
        }
        print(json.dumps(record, ensure_ascii=False))
        return 0
    for warning in doc.warnings:
        print(f"folio: {warning}", file=sys.stderr)
    print(doc.model_text())
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from desktop_app.cli_chat import cmd_ask as ask  # the engine's imports only when asked

    return ask(args)


def cmd_chat(args: argparse.Namespace) -> int:
    from desktop_app.cli_chat import cmd_chat as chat

    return chat(args)
