"""Tesseract OCR of one page image: straightened, read, words with boxes on the original.

Runs only in the document reader child (isolated.py, scanned.py): the image is untrusted,
so this module never imports Qt, and tesserocr is imported lazily, so that importing it
never fails on an install without the engine (`engine_info` then says what is missing).

`OcrReader.read`, with costs measured on a 2-core x86 (CPU s, A4 page at 300 dpi; accuracy
and speed against the tesseract CLI: benchmarks/ocr.py):
1. Size: above `MAX_PIXELS` the image is scaled down (boxes are fractions, so they do not
   change); above `REFUSE_PIXELS` it is refused before Pillow decodes more than the header.
2. Orientation: Tesseract's OSD (`DetectOrientationScript` with osd.traineddata; the
   tesserocr 2.13 wheel has the legacy classifier it needs), ~0.25 s at full resolution: at
   half, 200-dpi scans fooled it. Right on 96/96 pages (3 languages, clean and noisy, full and
   4-line pages, 4 turns), confidence 4.7-20. Where OSD is missing, fails (too few letters) or
   is unsure, `_orientation_by_reading` decides (~0.9 s): also right on those 96 pages.
3. Skew: a projection-profile search (±5°, on a binarised copy 1000 px high, ~0.04 s),
   exact to 0.1° on generated pages. Deskewing is worth its ~0.15 s: Tesseract reads a page
   skewed -2° (clockwise) at 72-85% word accuracy and at -3° at 15%, +2° at 99-100%;
   straightened, all read at 99.4-100%. So pages are turned back from `DESKEW_MIN_DEG` on.
4. Recognition (~0.6-0.8 s): PSM 3 (automatic layout), the grey image handed over raw (no
   PNG round trip), the image's dpi when it has a plausible one. The text is built from the
   word iterator, so every `OcrWord.start/end` slices `OcrPage.text` exactly.
5. Boxes go back through the deskew and the turn into fractions of the ORIGINAL image,
   which is what a viewer showing the scan as stored needs to highlight a word.

Threads: the wheel's libtesseract is built without OpenMP, so OMP_THREAD_LIMIT changes
nothing (1.24 CPU s/page with 1 and with 2); a page uses one core, which leaves the other to
the language model. A libtesseract built with OpenMP (the Debian CLI's: 2 threads cost it
2-20x the CPU of 1 here) should get OMP_THREAD_LIMIT=1 in the reader child's environment;
this module leaves os.environ alone (llama.cpp's OpenMP reads the same variable).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The document model's word: its box is a fraction of the image as given (the page as shown).
from desktop_app.core.documents.model import OcrWord

if TYPE_CHECKING:
    from PIL import Image

TESSDATA_ENV = "FOLIO_TESSDATA"
#: The languages a European contract user needs; installers ship these.
BUNDLED_LANGUAGES = ("eng", "fra", "deu", "spa", "ita", "nld")
#: Above this the page is read scaled down: an A4 page at 600 dpi has 35 M pixels, and
#: Tesseract needs several bytes a pixel (grey, binary, line images, layout).
MAX_PIXELS = 60_000_000
#: Above this the image is refused before it is decoded (a decompression bomb).
REFUSE_PIXELS = 4 * MAX_PIXELS
#: Skew corrected from this many degrees on (see 3. above).
DESKEW_MIN_DEG = 0.5
#: Largest skew searched, degrees: a scanner's feed skews a few degrees, not more.
MAX_SKEW_DEG = 5.0
#: OSD's confidence below which its answer is checked by reading (the CLI's own threshold
#: for acting on OSD is about 1-2; real pages of text score 10-40).
OSD_MIN_CONFIDENCE = 2.0

_SYSTEM_TESSDATA = (
    "/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata", "/opt/homebrew/share/tessdata", "/usr/local/share/tessdata",
    "C:\\Program Files\\Tesseract-OCR\\tessdata",
)  # fmt: skip


class OcrUnavailable(Exception):
    """OCR cannot run here: the engine or a language is missing. str() is for the user."""


@dataclass(frozen=True)
class EngineInfo:
    """What OCR can do on this machine, for the settings dialog and `folio system`."""

    name: str
    version: str
    tessdata: Path | None
    languages: tuple[str, ...]
    problem: str = ""

    def missing(self, wanted: str) -> tuple[str, ...]:
        """The languages of `wanted` ("eng+fra") that are not installed, in its order."""
        codes = [code for code in wanted.split("+") if code]
        return tuple(dict.fromkeys(c for c in codes if c not in self.languages))

    def how_to_add(self, language: str) -> str:
        """One sentence telling the user how to install `language` where Folio looks for it:
        the bundle's (or $FOLIO_TESSDATA's) folder takes a file, a system install a package."""
        file = f"{language}.traineddata"
        own = getattr(sys, "frozen", False) or os.environ.get(TESSDATA_ENV)
        if own and self.tessdata is not None:
            return f"To read {language}, copy {file} (tessdata_fast) into {self.tessdata}."
        if sys.platform.startswith("linux") and Path("/usr/bin/apt-get").exists():
            return (f"To read {language}, install the package tesseract-ocr-{language} "
                    f"(sudo apt install tesseract-ocr-{language}).")  # fmt: skip
        if sys.platform == "darwin":
            return f"To read {language}, run: brew install tesseract-lang."
        where = self.tessdata or f"a folder named in the {TESSDATA_ENV} environment variable"
        return (f"To read {language}, copy {file} (from github.com/tesseract-ocr/tessdata_fast) "
                f"into {where}.")  # fmt: skip


def _has_traineddata(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(folder.glob("*.traineddata"))
    except OSError:
        return False


def tessdata_dir() -> Path | None:
    """First existing folder holding *.traineddata: $FOLIO_TESSDATA, the bundle's own
    (sys._MEIPASS/'tessdata' or beside sys.executable when frozen), $TESSDATA_PREFIX (and its
    tessdata/), then the usual system folders of Debian, Homebrew, /usr/local and Windows."""
    candidates: list[Path] = []
    if os.environ.get(TESSDATA_ENV):
        candidates.append(Path(os.environ[TESSDATA_ENV]))
    if getattr(sys, "frozen", False):
        if hasattr(sys, "_MEIPASS"):
            candidates.append(Path(sys._MEIPASS) / "tessdata")
        candidates.append(Path(sys.executable).resolve().parent / "tessdata")
    if os.environ.get("TESSDATA_PREFIX"):
        prefix = Path(os.environ["TESSDATA_PREFIX"])
        candidates += [prefix, prefix / "tessdata"]
    candidates += [Path(p) for p in _SYSTEM_TESSDATA]
    return next((c for c in candidates if _has_traineddata(c)), None)


def engine_info() -> EngineInfo:
    """The engine's version, tessdata folder and languages; never raises (a broken install
    is a `problem`, which the UI shows)."""
    try:
        import tesserocr

        version = tesserocr.tesseract_version().split()[1]
    except Exception as exc:  # ImportError, or a wheel whose shared library fails to load
        return EngineInfo("Tesseract", "", None, (), f"the OCR engine is not installed ({exc})")
    folder = tessdata_dir()
    if folder is None:
        return EngineInfo("Tesseract", version, None, (), "no Tesseract language data found")
    try:
        names = sorted(p.name.removesuffix(".traineddata") for p in folder.glob("*.traineddata"))
    except OSError as exc:
        return EngineInfo("Tesseract", version, folder, (), f"cannot read {folder}: {exc}")
    languages = tuple(n for n in names if n != "osd")
    problem = "" if languages else f"no language data in {folder}"
    return EngineInfo("Tesseract", version, folder, languages, problem)


@dataclass(frozen=True)
class OcrPage:
    """One page read by OCR."""

    text: str
    words: tuple[OcrWord, ...]
    #: Clockwise degrees the image was turned to read it upright (0/90/180/270).
    rotation: int
    #: Degrees of deskew applied (counter-clockwise, as PIL's rotate); 0.0 if none.
    skew: float
    #: Mean word confidence, 0..100 (0 when no words).
    confidence: float


def _turn(image: Image.Image, clockwise: int) -> Image.Image:
    """`image` turned `clockwise` degrees (a multiple of 90), losslessly."""
    from PIL import Image

    transpose = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
                 270: Image.Transpose.ROTATE_90}  # fmt: skip
    return image.transpose(transpose[clockwise]) if clockwise % 360 else image


def _unturn(x: float, y: float, clockwise: int) -> tuple[float, float]:
    """A point (fractions) of the image turned `clockwise` back on the unturned image."""
    for _ in range((clockwise % 360) // 90):  # undo one quarter turn: (u, v) -> (v, 1 - u)
        x, y = y, 1.0 - x
    return x, y


def _ink(gray: Image.Image, longest: int = 1000) -> Image.Image:
    """A small binary copy of `gray` (ink 255, paper 0) for the profile searches."""
    import numpy as np
    from PIL import Image

    scale = min(1.0, longest / max(gray.size))
    size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    pixels = np.asarray(gray.resize(size, Image.Resampling.BOX), dtype=np.uint8)
    threshold = min(160, int(pixels.mean()) - 20)
    return Image.fromarray(((pixels < threshold) * 255).astype(np.uint8), "L")


def _sharpness(profile: Any) -> float:
    """How abruptly a projection profile changes: high where lines and gaps alternate."""
    import numpy as np

    mean = float(profile.mean())
    return float(np.square(np.diff(profile)).mean()) / (mean * mean) if mean else 0.0


def _level(ink: Image.Image) -> tuple[float, float]:
    """(sharpness, angle): the rotation within ±MAX_SKEW_DEG (degrees, PIL's counter-clockwise
    sense) under which the row profile of `ink` is sharpest, i.e. its text lines are level."""
    import numpy as np
    from PIL import Image

    def sharpness(angle: float) -> float:
        turned = np.asarray(ink.rotate(angle, resample=Image.Resampling.NEAREST), np.float32)
        return _sharpness(turned.sum(axis=1))

    coarse = [a / 2 for a in range(int(-MAX_SKEW_DEG * 2), int(MAX_SKEW_DEG * 2) + 1)]
    best = max(coarse, key=sharpness)
    angle = max((best + a / 10 for a in range(-5, 6)), key=sharpness)
    return sharpness(angle), round(angle, 1)


def _skew_angle(gray: Image.Image) -> float:
    """The rotation (degrees, counter-clockwise) that makes the text lines of `gray` level.

    Projection profile: on a small binarised copy, the angle whose row sums change most
    sharply between rows is the one where lines, and the gaps between them, are horizontal.
    """
    ink = _ink(gray)
    return _level(ink)[1] if ink.getbbox() else 0.0


def _densest_band(gray: Image.Image, fraction: float = 0.25) -> tuple[int, int]:
    """Top and bottom rows of the band (`fraction` of the height) holding the most ink."""
    import numpy as np

    ink = _ink(gray)
    rows = np.asarray(ink, np.float32).sum(axis=1)
    span = max(1, int(len(rows) * fraction))
    sums = np.convolve(rows, np.ones(span), mode="valid")
    top = int(sums.argmax()) if len(sums) else 0
    scale = gray.height / ink.height
    return int(top * scale), min(gray.height, int((top + span) * scale))


class OcrReader:
    """One per child process: holds the Tesseract API (initialising costs ~0.1-0.5 s)."""

    def __init__(self, languages: str = "eng") -> None:
        """Raises `OcrUnavailable` (a message for the user) if the engine or a language of
        `languages` ("eng" or "fra+eng") is missing."""
        info = engine_info()
        if not info.version or info.tessdata is None:
            raise OcrUnavailable(f"OCR is not available: {info.problem}")
        if missing := info.missing(languages):
            names = ", ".join(missing)
            how = " ".join(info.how_to_add(language) for language in missing)
            raise OcrUnavailable(f"the OCR language data for {names} is not installed. {how}")
        import tesserocr

        if hasattr(tesserocr, "set_leptonica_log_level"):  # "Error in boxClipToRectangle"
            tesserocr.set_leptonica_log_level(tesserocr.LeptLogLevel.NONE)  # noise from OSD
        self._tesserocr = tesserocr
        path, PSM = str(info.tessdata) + os.sep, tesserocr.PSM  # noqa: N806
        try:
            self._api = tesserocr.PyTessBaseAPI(path=path, lang=languages, psm=PSM.AUTO)
        except RuntimeError as exc:
            raise OcrUnavailable(f"the OCR engine could not start ({exc})") from None
        self._osd: Any = None  # None: `_orientation_by_reading` decides alone
        if (info.tessdata / "osd.traineddata").is_file():
            with contextlib.suppress(RuntimeError):
                self._osd = tesserocr.PyTessBaseAPI(path=path, lang="osd", psm=PSM.OSD_ONLY)

    def close(self) -> None:
        """Free the engines (about 50 MB); reading afterwards raises RuntimeError."""
        for api in (self._api, self._osd):
            if api is not None:
                api.End()
        self._api = self._osd = None

    def read(self, image: Image.Image) -> OcrPage:
        """The text of `image` (any mode), with word boxes on the image as given. Raises
        ValueError for an image above `REFUSE_PIXELS`."""
        if self._api is None:
            raise RuntimeError("the OCR reader is closed")
        width = image.width  # before _prepare, which may shrink a JPEG as it decodes
        gray = _prepare(image)
        dpi = _dpi(image, gray.width / width)
        rotation = self._orientation(gray)
        upright = _turn(gray, rotation)
        angle = _skew_angle(upright)
        skew = angle if abs(angle) >= DESKEW_MIN_DEG else 0.0
        straight = upright
        if skew:
            from PIL import Image

            straight = upright.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True,
                                      fillcolor=255)  # fmt: skip
        text, words = self._recognise(straight, dpi)

        def to_original(x: float, y: float) -> tuple[float, float]:
            if skew:  # back through the deskew rotation, about the centre (PIL's expand)
                dx, dy = x - straight.width / 2, y - straight.height / 2
                r = math.radians(skew)
                x = upright.width / 2 + dx * math.cos(r) - dy * math.sin(r)
                y = upright.height / 2 + dx * math.sin(r) + dy * math.cos(r)
            return _unturn(x / upright.width, y / upright.height, rotation)

        placed = []
        for start, end, (left, top, right, bottom), confidence in words:
            corners = [to_original(x, y) for x in (left, right) for y in (top, bottom)]
            xs, ys = [c[0] for c in corners], [c[1] for c in corners]
            box = (max(0.0, min(xs)), max(0.0, min(ys)), min(1.0, max(xs)), min(1.0, max(ys)))
            placed.append(OcrWord(start, end, box, confidence))
        mean = sum(w.confidence for w in placed) / len(placed) if placed else 0.0
        return OcrPage(text, tuple(placed), rotation, skew, mean)

    def _set_image(self, api: Any, gray: Image.Image, dpi: int | None = None) -> None:
        """Hand `gray` over as raw 8-bit rows: tesserocr's SetImage would encode a PNG."""
        api.SetImageBytes(gray.tobytes(), gray.width, gray.height, 1, gray.width)
        if dpi:
            api.SetSourceResolution(dpi)

    def _orientation(self, gray: Image.Image) -> int:
        """Clockwise degrees that turn `gray` upright: OSD, checked by reading if unsure."""
        if self._osd is not None:  # full resolution: at half, 200-dpi scans fool it
            factor = max(1, min(gray.size) // 2400)  # but a 600-dpi page at 300 suffices
            self._set_image(self._osd, gray.reduce(factor) if factor > 1 else gray)
            try:
                found = self._osd.DetectOrientationScript()
            except RuntimeError:  # too few characters for OSD
                found = None
            if found and found["orient_conf"] >= OSD_MIN_CONFIDENCE:
                return (360 - int(found["orient_deg"])) % 360
        return self._orientation_by_reading(gray)

    def _orientation_by_reading(self, gray: Image.Image) -> int:
        """The fallback: the line direction from projection profiles (each at its best skew),
        then, of the two turns that level the lines, the one under which the densest band of
        the page reads more confidently. Reading alone cannot tell 0 from 90 (in PSM 3
        Tesseract reads vertical text blocks too), so the band is read as one block (PSM 6),
        where upside-down text yields only low-confidence garbage."""
        from PIL import Image

        ink = _ink(gray)
        if not ink.getbbox():
            return 0
        across, angle = _level(ink)
        down, angle_down = _level(_turn(ink, 90))
        turns, angle = ((0, 180), angle) if across >= down else ((90, 270), angle_down)
        api, psm = self._api, self._tesserocr.PSM
        api.SetPageSegMode(psm.SINGLE_BLOCK)
        try:
            scores = []
            for turn in turns:  # a half turn keeps the skew angle: rotations commute
                upright = _turn(gray, turn)
                if abs(angle) >= DESKEW_MIN_DEG:
                    upright = upright.rotate(angle, resample=Image.Resampling.BILINEAR,
                                             fillcolor=255)  # fmt: skip
                top, bottom = _densest_band(upright)
                self._set_image(api, upright.crop((0, top, upright.width, bottom)))
                api.Recognize()
                confidences = api.AllWordConfidences()
                scores.append(sum(confidences) / len(confidences) if confidences else 0.0)
        finally:
            api.SetPageSegMode(psm.AUTO)
        return turns[1] if scores[1] > scores[0] else turns[0]

    def _recognise(
        self, gray: Image.Image, dpi: int | None
    ) -> tuple[str, list[tuple[int, int, tuple[int, int, int, int], float]]]:
        """Text built from Tesseract's word iterator, and (start, end, pixel box, conf)."""
        RIL = self._tesserocr.RIL  # noqa: N806
        api = self._api
        self._set_image(api, gray, dpi)
        api.Recognize()
        parts: list[str] = []
        words = []
        end = 0
        iterator = api.GetIterator()
        while iterator is not None:
            empty = iterator.Empty(RIL.WORD)
            word = "" if empty else (iterator.GetUTF8Text(RIL.WORD) or "").strip()
            if word:
                starts = iterator.IsAtBeginningOf
                gap = "\n\n" if starts(RIL.PARA) else "\n" if starts(RIL.TEXTLINE) else " "
                parts += [gap if parts else "", word]
                end += len(parts[-2]) + len(word)
                box = iterator.BoundingBox(RIL.WORD)
                words.append((end - len(word), end, box, float(iterator.Confidence(RIL.WORD))))
            if not iterator.Next(RIL.WORD):
                break
        return "".join(parts), words


def _prepare(image: Image.Image) -> Image.Image:
    """`image` as 8-bit grey, scaled down to at most `MAX_PIXELS`; refuses a pixel bomb
    before decoding it (Image.open only reads the header)."""
    from PIL import Image

    pixels = image.width * image.height
    if pixels > REFUSE_PIXELS:
        raise ValueError(f"the image is too large to read ({image.width} × {image.height})")
    if pixels > MAX_PIXELS:
        image.draft("L", (image.width // 2, image.height // 2))  # JPEG decodes at half size
        factor = math.sqrt(MAX_PIXELS / (image.width * image.height))
        if factor < 1:
            size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
            image = image.convert("L").resize(size, Image.Resampling.BOX)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):  # 16-bit scans: L would clip
        import numpy as np

        pixels = np.asarray(image, dtype=np.float32)
        pixels *= 255.0 / max(255.0, float(pixels.max()))
        image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "L")
    return image.convert("L") if image.mode != "L" else image


def _dpi(image: Image.Image, scale: float) -> int | None:
    """The image's own resolution (times `scale`, the reduction `_prepare` applied) when
    plausible; None lets Tesseract estimate it from the text's x-height."""
    try:
        dpi = round(float(image.info.get("dpi", (0, 0))[0]) * scale)
    except (TypeError, ValueError, IndexError):
        return None
    return dpi if 70 <= dpi <= 2400 else None
