"""Download speed: Folio's resumable, hashed download vs `huggingface_hub.hf_hub_download`.

Both fetch the same N MB file from a local stand-in for the hub (tests/fixtures/hub_server,
in a process of its own: the hub answers with LFS metadata and redirects to a second "CDN"
origin), each into its own empty hub cache, alternating, in the same run. Prints MB/s and
the ratio against huggingface_hub, which does not hash what it downloads; Folio computes
the sha256 while the bytes arrive, and a second baseline adds that check after
hf_hub_download. A last row times resuming a download paused half-way in a new call (what
a restarted app does): the half on disk is hashed once, then only the rest is fetched.

    .venv/bin/python benchmarks/download.py --mb 512 --rounds 5
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.hub_server import FILE, REPO, HubState, serve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    # The hub runs in its own process: in this one it would compete for the GIL with the
    # client being measured, and the per-chunk Python work of each client would decide.
    urls: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    hub = multiprocessing.Process(target=_serve, args=(args.mb, urls, stop), daemon=True)
    hub.start()
    hub_url = urls.get(timeout=60)
    try:
        _measure(args, hub_url)
    finally:
        stop.set()
        hub.join(5)


def _serve(mb: int, urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    data = os.urandom(mb << 20)
    state = HubState(data=data, sha256=hashlib.sha256(data).hexdigest())
    with ExitStack() as stack:
        state.cdn_url = stack.enter_context(serve(state))
        state.hub_url = stack.enter_context(serve(state))
        urls.put(state.hub_url)
        stop.wait()


def _measure(args: argparse.Namespace, hub_url: str) -> None:
    # huggingface_hub bakes HF_ENDPOINT into its URL template at import.
    os.environ["HF_ENDPOINT"] = hub_url
    from huggingface_hub import hf_hub_download

    from desktop_app.core.models.downloads import DownloadPaused, download

    def hub_lib(cache: Path) -> None:
        hf_hub_download(REPO, FILE, cache_dir=cache)

    def hub_lib_verified(cache: Path) -> None:
        """What verifying with huggingface_hub costs: the file is read again afterwards."""
        path = hf_hub_download(REPO, FILE, cache_dir=cache)
        with open(path, "rb") as f:
            hashlib.file_digest(f, "sha256")

    def folio(cache: Path) -> None:
        download(REPO, FILE, cache_dir=cache, endpoint=hub_url)

    def folio_resume(cache: Path) -> float:
        pause = threading.Event()

        def halfway(p) -> None:
            if p.done >= p.total // 2:
                pause.set()

        try:
            download(REPO, FILE, cache_dir=cache, endpoint=hub_url,
                     pause=pause, progress=halfway)  # fmt: skip
        except DownloadPaused:
            pass
        start = time.perf_counter()
        download(REPO, FILE, cache_dir=cache, endpoint=hub_url)
        return time.perf_counter() - start

    times: dict[str, list[float]] = {"huggingface_hub": [], "verified": [], "folio": [],
                                     "resume": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, fn in (
                ("huggingface_hub", hub_lib),
                ("verified", hub_lib_verified),
                ("folio", folio),
            ):
                cache = Path(tmp) / f"{name}-{r}"
                start = time.perf_counter()
                fn(cache)
                times[name].append(time.perf_counter() - start)
            times["resume"].append(folio_resume(Path(tmp) / f"resume-{r}"))

    base = statistics.median(times["huggingface_hub"])
    print(f"{args.mb} MB from a local hub, median of {args.rounds} alternating rounds")
    print(f"{'':<40} {'seconds':>8} {'MB/s':>8} {'vs hf_hub':>10}")
    for label, key in (
        ("huggingface_hub.hf_hub_download", "huggingface_hub"),
        ("hf_hub_download, then sha256 of the file", "verified"),
        ("Folio download (sha256 while fetching)", "folio"),
        ("Folio resume of a half-done part", "resume"),
    ):
        t = statistics.median(times[key])
        print(f"{label:<40} {t:8.3f} {args.mb / t:8.1f} {t / base:9.2f}x")


if __name__ == "__main__":
    main()
