"""GPU enumeration through ggml's backend device API, called via ctypes (see gpu_devices()).

Imports llama_cpp only inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# enum ggml_backend_dev_type (ggml/include/ggml-backend.h): CPU = 0, GPU = 1, IGPU = 2,
# ACCEL = 3, META = 4. CPU is not offload hardware and META only wraps other devices (it
# would count their memory twice), so neither is listed.
_GGML_DEVICE_KINDS: dict[int, str] = {1: "gpu", 2: "igpu", 3: "accel"}


@dataclass(frozen=True)
class GpuDevice:
    """A non-CPU ggml backend device, as the loaded llama.cpp build sees it."""

    name: str  # ggml's device name, e.g. "CUDA0"
    description: str  # e.g. "NVIDIA GeForce RTX 4060"
    kind: str  # "gpu" | "igpu" | "accel"
    free_bytes: int | None
    total_bytes: int | None


def _ggml_devices() -> tuple[GpuDevice, ...]:
    libraries = _ggml_libraries()
    dev_count = _ggml_function(libraries, "ggml_backend_dev_count", ctypes.c_size_t, [])
    dev_get = _ggml_function(libraries, "ggml_backend_dev_get", ctypes.c_void_p, [ctypes.c_size_t])
    dev_type = _ggml_function(libraries, "ggml_backend_dev_type", ctypes.c_int, [ctypes.c_void_p])
    dev_name = _ggml_function(
        libraries, "ggml_backend_dev_name", ctypes.c_char_p, [ctypes.c_void_p]
    )
    dev_description = _ggml_function(
        libraries, "ggml_backend_dev_description", ctypes.c_char_p, [ctypes.c_void_p]
    )
    size_p = ctypes.POINTER(ctypes.c_size_t)
    dev_memory = _ggml_function(
        libraries, "ggml_backend_dev_memory", None, [ctypes.c_void_p, size_p, size_p]
    )
    devices: list[GpuDevice] = []
    for index in range(dev_count()):
        device = dev_get(index)
        kind = _GGML_DEVICE_KINDS.get(dev_type(device)) if device else None
        if kind is None:
            continue
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        dev_memory(device, ctypes.byref(free), ctypes.byref(total))
        devices.append(
            GpuDevice(
                name=_decode(dev_name(device)),
                description=_decode(dev_description(device)),
                kind=kind,
                # Backends without a memory figure (BLAS) report 0 of 0.
                free_bytes=free.value if total.value else None,
                total_bytes=total.value or None,
            )
        )
    return tuple(devices)


def _ggml_libraries() -> list[ctypes.CDLL]:
    """The loaded libraries to look ggml's device API up in, opened from llama_cpp's lib folder.

    On Linux and macOS only libllama: dlsym on its handle also searches its dependencies, so
    it finds exactly the libggml llama.cpp linked and uses. Opening libggml by file name
    could map a second copy with its own, separate device registry, because wheels store
    the versioned names (libggml.so.0) as separate files rather than links. Windows looks
    no further than a DLL's own exports, and loads each DLL once, so there the ggml DLLs
    are opened directly. Importing llama_cpp first makes all of these already loaded.
    """
    lib_dir = llama_lib_dir()
    base_names = ("ggml", "ggml-base") if sys.platform == "win32" else ("llama",)
    libraries: list[ctypes.CDLL] = []
    for base_name in base_names:
        for path in _library_paths(lib_dir, base_name):
            if path.exists():
                libraries.append(ctypes.CDLL(str(path)))
                break
    if not libraries:
        raise FileNotFoundError(f"no llama.cpp library in {lib_dir}")
    return libraries


def llama_lib_dir() -> Path:
    """The folder llama_cpp loads its libraries (and Folio the backend modules) from."""
    import llama_cpp

    override = os.environ.get("LLAMA_CPP_LIB_PATH")
    if override:
        return Path(override)
    return Path(os.path.abspath(os.path.dirname(llama_cpp.__file__))) / "lib"


def _library_paths(lib_dir: Path, base_name: str) -> list[Path]:
    """Candidate file names, mirroring llama_cpp._ctypes_extensions.load_shared_library."""
    if sys.platform == "win32":
        return [lib_dir / f"{base_name}.dll", lib_dir / f"lib{base_name}.dll"]
    if sys.platform == "darwin":
        return [lib_dir / f"lib{base_name}.so", lib_dir / f"lib{base_name}.dylib"]
    return [lib_dir / f"lib{base_name}.so"]


def _ggml_function(
    libraries: Sequence[ctypes.CDLL], name: str, restype: Any, argtypes: list[Any]
) -> Any:
    """`name` from the first library exporting it, typed; AttributeError if none does.

    Each CDLL instance here is our own, so setting restype/argtypes cannot disturb
    llama_cpp's bindings.
    """
    for library in libraries:
        try:
            function = getattr(library, name)
        except AttributeError:
            continue
        function.restype = restype
        function.argtypes = argtypes
        return function
    raise AttributeError(f"{name} not exported by any ggml library")


def _decode(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", errors="replace")
