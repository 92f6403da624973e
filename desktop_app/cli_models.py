"""`folio models list | download NAME | use PATH|NAME`: what to run, and getting it.

`list` shows the recommended Qwen3.5 GGUFs with a verdict for this machine
(before anything is downloaded) and the GGUFs already on disk (Hugging Face
cache, LM Studio, Ollama, Folio's folder, Downloads). `download` fetches a
catalog entry into the shared Hugging Face cache with progress, resume and
checksum; `use` makes a file (or a downloaded catalog entry) the configured model.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from desktop_app import settings as settings_mod
from desktop_app.errors import FolioError

GiB = 1024**3


def add_models_command(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="recommended models, models on disk, downloads")
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="catalog with fit verdicts, and GGUFs found on disk")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=cmd_list)
    download = actions.add_parser("download", help="download a catalog model (resumable)")
    download.add_argument("name", help="e.g. Qwen3.5-9B (see folio models list)")
    download.add_argument(
        "--token",
        help="Hugging Face access token for gated or private repositories "
        "(default: HF_TOKEN or your `hf auth login`)",
    )
    download.set_defaults(handler=cmd_download)
    use = actions.add_parser(
        "use", help="make a GGUF file or a downloaded catalog model the default"
    )
    use.add_argument("model", help="path to a .gguf file, or a catalog name")
    use.set_defaults(handler=cmd_use)


def _entry(name: str):
    from desktop_app.core.models.catalog import CATALOG

    for entry in CATALOG:
        if entry.name.lower() == name.lower():
            return entry
    names = ", ".join(e.name for e in CATALOG)
    raise FolioError(f"Unknown model {name!r}; choose one of: {names}.")


def _state(entry) -> tuple[str | None, int | None]:
    """(downloaded path, bytes of an unfinished download) of a catalog entry."""
    from desktop_app.core.models.pending_downloads import pending

    path = entry.local_path()
    left = None if path is not None else pending(entry.repo_id, entry.filename)
    return (str(path) if path else None), (left.done if left else None)


def cmd_list(args: argparse.Namespace) -> int:
    from desktop_app.core import hardware
    from desktop_app.core.models.catalog import recommend
    from desktop_app.core.models.discovery import discover

    hw = hardware.detect()
    pick, fits = recommend(hw)
    found = discover()
    states = {f.entry.name: _state(f.entry) for f in fits}
    if args.json:
        record = {
            "hardware": hw.summary(),
            "recommended": pick.entry.name,
            "catalog": [
                {"name": f.entry.name, "repo_id": f.entry.repo_id, "filename": f.entry.filename,
                 "size_bytes": f.entry.size_bytes, "where": f.where, "gpu_layers": f.gpu_layers,
                 "max_context": f.max_context, "reason": f.reason,
                 "downloaded": states[f.entry.name][0], "partial_bytes": states[f.entry.name][1]}
                for f in fits
            ],
            "discovered": [asdict(d) | {"path": str(d.path)} for d in found],
        }  # fmt: skip
        print(json.dumps(record))
        return 0
    print(f"This machine: {hw.summary()}")
    print("\nRecommended Qwen3.5 models (Q4_K_M):")
    for f in fits:
        star = "*" if f is pick else " "
        path, partial = states[f.entry.name]
        state = ""
        if path:
            state = "  [downloaded]"
        elif partial:
            state = f"  [{partial / f.entry.size_bytes:.0%} downloaded, paused]"
        print(f" {star} {f.entry.name:<12} {f.entry.size_bytes / GiB:5.1f} GiB  {f.reason}{state}")
    print("\nModels found on this computer:" if found else "\nNo GGUF models found on disk.")
    for d in found:
        state = "" if d.usable else f"  (cannot be used: {d.problem})"
        print(f"   {d.name}  [{d.source}, {d.architecture or '?'}, "
              f"{d.size_bytes / GiB:.1f} GiB]{state}")  # fmt: skip
    print("\nfolio models download NAME  ·  folio models use PATH|NAME")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from desktop_app.core.models.downloads import DownloadProgress, download

    entry = _entry(args.name)

    def progress(p: DownloadProgress) -> None:
        if p.phase == "checking":
            sys.stderr.write(f"Checking the {p.done / GiB:.2f} GiB already downloaded…\n")
            return
        rate = f" · {p.bytes_per_s / 1024**2:.1f} MB/s" if p.bytes_per_s else ""
        eta = f" · {p.eta_s:.0f} s left" if p.eta_s is not None else ""
        sys.stderr.write(f"\r{p.done / GiB:.2f} / {p.total / GiB:.2f} GiB{rate}{eta}   ")
        sys.stderr.flush()

    try:
        path = download(entry.repo_id, entry.filename, token=args.token, progress=progress)
    except KeyboardInterrupt:  # the .part file stays: the next run resumes it
        print("\nfolio: download paused; run the same command again to resume.", file=sys.stderr)
        return 130
    print(f"\n{path}")
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    from desktop_app.core.models.gguf_header import read_model_info

    candidate = Path(args.model).expanduser()
    if not candidate.exists() and not args.model.lower().endswith(".gguf"):
        found = _entry(args.model).local_path()
        if found is None:
            raise FolioError(
                f"{args.model} is not downloaded yet: folio models download {args.model}"
            )
        candidate = found
    info = read_model_info(candidate)  # refuses files llama.cpp cannot load, with the reason
    settings = settings_mod.load()
    settings_mod.save(settings.replace(model_path=str(candidate.absolute())))
    print(f"Folio now uses {candidate.name} ({info.architecture}, {info.size_label or '?'}).")
    return 0
