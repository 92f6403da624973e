"""Load llama.cpp's backend modules: the best CPU variant that really runs here, then GPUs.

Folio's llama.cpp is built with dynamic backends (`GGML_BACKEND_DL`, `GGML_CPU_ALL_VARIANTS`):
one CPU module per instruction-set level (`libggml-cpu-haswell.so`, `…-zen4.so`, …) and one
module per GPU API (`libggml-vulkan.so`), all in llama_cpp's `lib` folder (see
installers/common/repair_llama_wheel.py). llama-cpp-python never loads them, so a model load
fails with "no backends are loaded" until `ensure_loaded()` has run.

Folio picks the CPU module itself rather than calling `ggml_backend_load_all`: ggml scores the
modules by the features the CPU *reports*, and a CPU (or VM) may report features it cannot run,
which kills the process with SIGILL at the first token. So the best-scoring module is first run
in a child process (cpu_probe.py); one that dies is skipped for the next level, and the verdict
is remembered per CPU and module file. Every call goes through the single libggml that libllama
links, so the backends land in the registry llama.cpp reads.

Imports llama_cpp only inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import platform
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.hardware.ggml_devices import (
    _decode,
    _ggml_function,
    _ggml_libraries,
    _library_paths,
    llama_lib_dir,
)
from desktop_app.errors import FolioError

log = logging.getLogger(__name__)

#: Force one CPU variant (e.g. "haswell"): for benchmarks, and a way out if a probe lies.
VARIANT_ENV = "FOLIO_CPU_VARIANT"
#: First argument that makes the `folio` executable run cpu_probe (a frozen app has no -m).
PROBE_FLAG = "--folio-cpu-probe"
PROBE_TIMEOUT_S = 60
_VERDICTS_FILE = "cpu-backends.json"

_PREFIX = "" if sys.platform == "win32" else "lib"
_SUFFIX = ".dll" if sys.platform == "win32" else ".so"
_MODULE = re.compile(
    rf"^{_PREFIX}ggml-(?P<name>[a-z0-9_]+)(?:-(?P<tag>[A-Za-z0-9_.]+))?\{_SUFFIX}$"
)
#: Libraries of the core, not loadable backends.
_NOT_MODULES = frozenset({"base"})
_API_NAMES = {"vulkan": "Vulkan", "cuda": "CUDA", "metal": "Metal", "hip": "ROCm", "blas": "BLAS"}


@dataclass(frozen=True)
class CpuVariant:
    name: str  # "haswell", "zen4", … ("cpu" for a build with a single CPU module)
    path: Path
    score: int  # ggml's score for this CPU: 0 = not supported, higher = more features


@dataclass(frozen=True)
class BackendStatus:
    """What was loaded and what was not, with reasons: for `folio system` and placement."""

    dynamic: bool  # the build uses loadable backend modules
    lib_dir: str
    cpu_variant: str | None = None
    cpu_variants: tuple[CpuVariant, ...] = ()
    cpu_features: tuple[tuple[str, str], ...] = ()
    #: CPU variants passed over, with why (e.g. "crashed with SIGILL in the probe").
    rejected: tuple[tuple[str, str], ...] = ()
    #: GPU/accelerator backends loaded: (API name, number of devices).
    gpu_backends: tuple[tuple[str, int], ...] = ()
    #: Modules present but not usable: (API name, why).
    unavailable: tuple[tuple[str, str], ...] = ()

    def gpu_reason(self) -> str:
        """Why no GPU is used, in words, for the placement line."""
        if self.unavailable:
            return "; ".join(f"{api}: {why}" for api, why in self.unavailable)
        if not self.gpu_backends:
            return "this build has no GPU backend"
        return "no GPU device found"


_lock = threading.Lock()
_status: BackendStatus | None = None


def ensure_loaded() -> BackendStatus:
    """Load the backends once per process (idempotent, thread-safe); what was loaded.

    Raises FolioError when no CPU module of this build can run on this CPU.
    """
    global _status
    with _lock:
        if _status is None:
            _status = _load()
            log.info("llama.cpp backends: %s", describe(_status))
        return _status


def describe(status: BackendStatus) -> str:
    """One line: "CPU zen4 (dynamic); Vulkan: no device found"."""
    cpu = f"CPU {status.cpu_variant}" if status.dynamic else "CPU (built in)"
    parts = [cpu] + [f"{api} {n} device(s)" for api, n in status.gpu_backends if n]
    parts += [f"{api}: {why}" for api, why in status.unavailable]
    parts += [f"skipped {name}: {why}" for name, why in status.rejected]
    return "; ".join(parts)


def _load() -> BackendStatus:
    import llama_cpp  # noqa: F401  (loads libllama, and with it the one libggml)

    from desktop_app.core.llm.llama_log import route_llama_logs

    route_llama_logs()  # ggml's "loaded CPU backend" lines go to the log, not the terminal
    lib_dir = llama_lib_dir()
    libraries = _ggml_libraries()
    cpu_modules, gpu_modules = _modules(lib_dir)
    if not cpu_modules:
        return BackendStatus(dynamic=False, lib_dir=str(lib_dir))
    load = _ggml_function(libraries, "ggml_backend_load", ctypes.c_void_p, [ctypes.c_char_p])
    dev_count = _ggml_function(
        libraries, "ggml_backend_reg_dev_count", ctypes.c_size_t, [ctypes.c_void_p]
    )
    gpu_backends: list[tuple[str, int]] = []
    unavailable: list[tuple[str, str]] = []
    for name, path in gpu_modules:
        api = _API_NAMES.get(name, name)
        why = _unloadable(path)
        reg = None if why else load(str(path).encode())
        if why or not reg:
            # ggml's GPU modules decline to register when their API has no working driver
            # (for Vulkan: the loader found no ICD, or creating an instance failed).
            unavailable.append((api, why or "no driver for it responded"))
            continue
        count = int(dev_count(reg))
        gpu_backends.append((api, count))
        if count == 0:
            unavailable.append((api, "no device found (driver present, no usable GPU)"))

    variants = tuple(sorted(cpu_modules, key=lambda v: v.score, reverse=True))
    chosen, reg, rejected = _choose_cpu(variants, load, lib_dir)
    return BackendStatus(
        dynamic=True,
        lib_dir=str(lib_dir),
        cpu_variant=chosen.name,
        cpu_variants=variants,
        cpu_features=_features(libraries, reg),
        rejected=tuple(rejected),
        gpu_backends=tuple(gpu_backends),
        unavailable=tuple(unavailable),
    )


def _modules(lib_dir: Path) -> tuple[list[CpuVariant], list[tuple[str, Path]]]:
    cpu: list[CpuVariant] = []
    gpu: list[tuple[str, Path]] = []
    for path in sorted(lib_dir.iterdir()) if lib_dir.is_dir() else ():
        match = _MODULE.match(path.name)
        if not match or match["name"] in _NOT_MODULES:
            continue
        if match["name"] == "cpu":
            cpu.append(CpuVariant(match["tag"] or "cpu", path, _score(path)))
        elif match["tag"] is None:
            gpu.append((match["name"], path))
    return cpu, gpu


def _score(path: Path) -> int:
    """ggml's own score for a CPU module (0 = the CPU lacks a feature it was built for)."""
    try:
        library = ctypes.CDLL(str(path))
    except OSError:
        return 0
    try:
        score_fn = getattr(library, "ggml_backend_score", None)
        if score_fn is None:
            return 1  # a single, generic CPU module scores nothing: it always runs
        score_fn.restype = ctypes.c_int
        return int(score_fn())
    finally:
        _close(library)


def _close(library: ctypes.CDLL) -> None:
    """Unmap a module opened only to be asked something (ggml does the same when scoring)."""
    import _ctypes

    close = getattr(_ctypes, "FreeLibrary" if sys.platform == "win32" else "dlclose")
    close(library._handle)


def _unloadable(path: Path) -> str | None:
    """Why a GPU module cannot be opened (its driver library is missing), or None."""
    try:
        ctypes.CDLL(str(path))
    except OSError as exc:
        missing = re.search(r"([\w.+-]+\.(?:so[.\d]*|dll|dylib))[^/]*cannot open", str(exc))
        if missing:
            return f"{missing.group(1)} is not installed (no driver for this GPU API)"
        return f"cannot be opened ({exc})"
    return None


def _choose_cpu(variants, load, lib_dir: Path):
    forced = os.environ.get(VARIANT_ENV)
    if forced:
        candidates = [v for v in variants if v.name == forced]
        if not candidates:
            names = ", ".join(v.name for v in variants)
            raise FolioError(f"{VARIANT_ENV}={forced} is not in this build (it has {names})")
    else:
        candidates = [v for v in variants if v.score > 0]
    verdicts = _Verdicts(lib_dir)
    rejected: list[tuple[str, str]] = []
    for variant in candidates:
        ok, detail = verdicts.get(variant)
        if ok is None:
            ok, detail = probe(variant.path, lib_dir)
            verdicts.put(variant, ok, detail)
        reg = load(str(variant.path).encode()) if ok else None
        if reg:
            return variant, reg, rejected
        rejected.append((variant.name, detail if not ok else "ggml refused the module"))
        # Expected on such CPUs, and shown by `folio system`: not a warning for every CLI run.
        log.info("CPU backend %s not used: %s", variant.name, rejected[-1][1])
    tried = "; ".join(f"{name}: {why}" for name, why in rejected) or "none is supported"
    raise FolioError(f"No CPU backend of this llama.cpp build runs on this CPU ({tried}).")


#: Bump when the probe exercises more kernels (2: the extra buffer types, AMX among them).
PROBE_VERSION = 2


def probe(module: Path, lib_dir: Path) -> tuple[bool, str]:
    """Run cpu_probe on `module` in a child process: (ran fine, what happened)."""
    ggml = [
        str(p)
        for base in ("ggml", "ggml-base")
        for p in _library_paths(lib_dir, base)[:1]
        if p.exists()
    ]
    if getattr(sys, "frozen", False):
        command = [sys.executable, PROBE_FLAG, str(module), *ggml]
    else:
        command = [sys.executable, "-m", "desktop_app.core.hardware.cpu_probe", str(module), *ggml]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return False, f"the probe did not finish in {PROBE_TIMEOUT_S} s"
    except OSError as exc:
        return False, f"the probe could not start ({exc})"
    if done.returncode == 0:
        return True, done.stdout.strip()
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return False, f"crashed with {name} in the probe (the CPU cannot run its instructions)"
    return False, (done.stderr.strip().splitlines() or ["the probe failed"])[-1]


class _Verdicts:
    """Probe results per CPU and module file, so each is probed once, not at every start."""

    def __init__(self, lib_dir: Path) -> None:
        from desktop_app import paths

        self._path = paths.cache_dir() / _VERDICTS_FILE
        self._cpu = _cpu_identity()
        try:
            self._data = json.loads(self._path.read_text(encoding="utf-8"))
            if not isinstance(self._data, dict):
                self._data = {}
        except (OSError, ValueError):
            self._data = {}

    def _key(self, variant: CpuVariant) -> str:
        stat = variant.path.stat()
        # PROBE_VERSION: a verdict from an older, weaker probe is no verdict at all.
        text = f"{self._cpu}|{variant.path.name}|{stat.st_size}|{stat.st_mtime_ns}|{PROBE_VERSION}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def get(self, variant: CpuVariant) -> tuple[bool | None, str]:
        entry = self._data.get(self._key(variant))
        if not isinstance(entry, dict):
            return None, ""
        return bool(entry.get("ok")), str(entry.get("detail", ""))

    def put(self, variant: CpuVariant, ok: bool, detail: str) -> None:
        from desktop_app.atomic import write_json

        self._data[self._key(variant)] = {"variant": variant.name, "ok": ok, "detail": detail}
        try:
            write_json(self._path, self._data, fsync=False)
        except OSError:
            log.warning("could not remember the CPU probe result in %s", self._path)


def _cpu_identity() -> str:
    """What distinguishes one CPU from another for the probe: model and reported features."""
    text = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return text
    for key in ("model name", "flags", "Features"):
        match = re.search(rf"^{key}\s*:\s*(.*)$", info, re.M)
        if match:
            text += "|" + match.group(1).strip()
    return text


class _Feature(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_char_p)]


def _features(libraries, reg) -> tuple[tuple[str, str], ...]:
    """The CPU features the loaded module uses, as ggml lists them (`AVX2: 1`, …)."""
    proc = _ggml_function(
        libraries,
        "ggml_backend_reg_get_proc_address",
        ctypes.c_void_p,
        [ctypes.c_void_p, ctypes.c_char_p],
    )
    address = proc(reg, b"ggml_backend_get_features")
    if not address:
        return ()
    get = ctypes.CFUNCTYPE(ctypes.POINTER(_Feature), ctypes.c_void_p)(address)
    array = get(reg)
    features: list[tuple[str, str]] = []
    index = 0
    while array and array[index].name:
        features.append((_decode(array[index].name), _decode(array[index].value)))
        index += 1
    return tuple(features)
