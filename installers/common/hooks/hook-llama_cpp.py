"""PyInstaller hook for llama_cpp: its libraries are opened at run time, never imported.

llama_cpp opens `lib/libllama.so` with ctypes and Folio loads the backend modules
(`libggml-cpu-*.so`, `libggml-vulkan.so`) from the same folder, so PyInstaller's import scan
sees none of them. They are collected as they lie, into `llama_cpp/lib`, where the code looks.
The GPU driver stack (libvulkan.so.1, libcuda) stays the system's: bundling a loader or driver
breaks machines whose driver differs from the build machine's.
"""

from pathlib import Path

from PyInstaller.utils.hooks import collect_data_files, get_package_paths

_, package_dir = get_package_paths("llama_cpp")
lib_dir = Path(package_dir) / "lib"
_LIBRARY_SUFFIXES = (".so", ".dll", ".dylib")

binaries = [
    (str(path), "llama_cpp/lib")
    for path in sorted(lib_dir.iterdir())
    if path.is_file() and path.suffix in _LIBRARY_SUFFIXES
]
# Jinja chat-format templates and the like; no Python server (Folio has its own).
datas = collect_data_files("llama_cpp", excludes=["lib/**", "server/**"])
excludedimports = ["llama_cpp.server"]
