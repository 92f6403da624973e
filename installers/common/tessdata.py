"""The OCR language data every Folio bundle carries, found, fetched and checked at build time.

tesserocr's wheels carry libtesseract and leptonica but no language data. Each bundle ships
`tessdata/` with one model per language in BUNDLED_LANGUAGES (desktop_app/core/documents/ocr.py)
plus `osd` (Tesseract's page-orientation model): tessdata_fast models, Apache-2.0, about 28 MB.

    python installers/common/tessdata.py DEST [--from DIR]

copies them into DEST from DIR (a Tesseract install's tessdata, or a folder of tessdata_fast
files), or, without --from, downloads them from the tessdata_fast repository at the commit
Debian packages (tesseract-lang 1:4.1.0) and checks each file against its pinned sha256.
folio.spec calls `check()` on the folder it bundles: every language must load in the
tesserocr being bundled, or the build stops naming the file and where to get it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The languages a bundle must carry; folio.spec imports ocr.py when it can (the source of
#: truth) and this copy keeps the fetch step free of Folio's dependencies.
LANGUAGES = ("eng", "fra", "deu", "spa", "ita", "nld")
EXTRA_MODELS = ("osd",)
#: Debian's tesseract-ocr-* 1:4.1.0 packages are tessdata_fast at this commit (see their
#: changelog); the hashes are those files'.
TESSDATA_FAST_COMMIT = "65727574dfcd264acbb0c3e07860e4e9e9b22185"
URL = "https://raw.githubusercontent.com/tesseract-ocr/tessdata_fast/{commit}/{name}"
SHA256 = {
    "eng": "7d4322bd2a7749724879683fc3912cb542f19906c83bcc1a52132556427170b2",
    "fra": "ced037562e8c80c13122dece28dd477d399af80911a28791a66a63ac1e3445ca",
    "deu": "19d219bbb6672c869d20a9636c6816a81eb9a71796cb93ebe0cb1530e2cdb22d",
    "spa": "6f2e04d02774a18f01bed44b1111f2cd7f3ba7ac9dc4373cd3f898a40ea6b464",
    "ita": "b8f89e1e785118dac4d51ae042c029a64edb5c3ee42ef73027a6d412748d8827",
    "nld": "ced0e5e046a84c908a6aa7accbef9a232c4a5d9a8276691b81c6ee64d02963f6",
    "osd": "9cf5d576fcc47564f11265841e5ca839001e7e6f38ff7f7aacf46d15a96b00ff",
}
#: Where a build host's tessdata usually is, when FOLIO_TESSDATA_SRC does not say.
DEBIAN_DIR = Path("/usr/share/tesseract-ocr/5/tessdata")
HOW_TO_GET = (
    "Debian/Ubuntu: apt install tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-deu "
    "tesseract-ocr-spa tesseract-ocr-ita tesseract-ocr-nld tesseract-ocr-osd; elsewhere run "
    "`python installers/common/tessdata.py build/tessdata` (downloads tessdata_fast) and set "
    "FOLIO_TESSDATA_SRC=build/tessdata"
)


class TessdataError(Exception):
    """A build input is missing or broken; the message says which file and what to do."""


def models(languages: tuple[str, ...] = LANGUAGES) -> tuple[str, ...]:
    return (*languages, *EXTRA_MODELS)


def source_dir() -> Path:
    """$FOLIO_TESSDATA_SRC, else Debian's tessdata folder."""
    given = os.environ.get("FOLIO_TESSDATA_SRC")
    return Path(given).expanduser().resolve() if given else DEBIAN_DIR


def check(folder: Path, languages: tuple[str, ...] = LANGUAGES) -> list[Path]:
    """The model files to bundle from `folder`, each loaded once by tesserocr's Tesseract.

    Raises TessdataError naming every file that is missing or does not load.
    """
    files = [folder / f"{name}.traineddata" for name in models(languages)]
    absent = [f.name for f in files if not f.is_file()]
    if absent:
        raise TessdataError(
            f"{folder} lacks {', '.join(absent)} (OCR language data every Folio bundle "
            f"carries). {HOW_TO_GET}"
        )
    try:
        import tesserocr
    except ImportError as exc:
        raise TessdataError(f"tesserocr does not import ({exc}): pip install tesserocr") from exc
    broken = []
    for name in models(languages):
        # osd loads through the legacy engine (OEM 0); the languages through LSTM (OEM 1).
        oem = tesserocr.OEM.TESSERACT_ONLY if name == "osd" else tesserocr.OEM.LSTM_ONLY
        try:
            with tesserocr.PyTessBaseAPI(path=str(folder), lang=name, oem=oem):
                pass
        except RuntimeError as exc:
            broken.append(f"{name}.traineddata ({exc})")
    if broken:
        raise TessdataError(
            f"{folder}: Tesseract {tesserocr.tesseract_version().split()[1]} cannot load "
            f"{'; '.join(broken)}. {HOW_TO_GET}"
        )
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(dest: Path) -> None:
    """Downloads the pinned tessdata_fast models into `dest` (kept: a rerun downloads none)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in models():
        target = dest / f"{name}.traineddata"
        if target.is_file() and _sha256(target) == SHA256[name]:
            continue
        url = URL.format(commit=TESSDATA_FAST_COMMIT, name=target.name)
        print(f"tessdata: downloading {url}", file=sys.stderr)
        with tempfile.NamedTemporaryFile(dir=dest, delete=False) as part:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    shutil.copyfileobj(response, part)
            except OSError as exc:
                os.unlink(part.name)
                raise TessdataError(
                    f"cannot download {url}: {exc}. Copy the files from a Tesseract install or "
                    f"from https://github.com/tesseract-ocr/tessdata_fast instead: --from DIR "
                    f"(the build scripts' TESSDATA_SRC)"
                ) from exc
        got = _sha256(Path(part.name))
        if got != SHA256[name]:
            os.unlink(part.name)
            raise TessdataError(f"{url}: sha256 {got}, expected {SHA256[name]}")
        os.replace(part.name, target)


def copy_from(source: Path, dest: Path) -> None:
    """Copies the models from a Tesseract install's (or any) tessdata folder into `dest`."""
    absent = [n for n in models() if not (source / f"{n}.traineddata").is_file()]
    if absent:
        raise TessdataError(
            f"{source} lacks {', '.join(f'{n}.traineddata' for n in absent)}. {HOW_TO_GET}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    for name in models():
        shutil.copyfile(source / f"{name}.traineddata", dest / f"{name}.traineddata")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder to fill (e.g. build/tessdata)")
    parser.add_argument("--from", dest="source", type=Path,
                        help="copy from this tessdata folder instead of downloading")  # fmt: skip
    parser.add_argument("--no-check", action="store_true",
                        help="skip loading each model with tesserocr")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.source:
            copy_from(args.source.expanduser().resolve(), args.dest)
        else:
            fetch(args.dest)
        if not args.no_check:
            check(args.dest)
    except TessdataError as exc:
        print(f"tessdata: {exc}", file=sys.stderr)
        return 1
    print(f"tessdata: {', '.join(models())} in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
