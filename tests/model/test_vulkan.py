"""The Vulkan GPU module: offload on a real Vulkan device, and the CPU fallback with its reason.

The device here is lavapipe (Mesa's software Vulkan driver). ggml skips CPU-type Vulkan
devices unless GGML_VK_VISIBLE_DEVICES names them, which makes lavapipe both the GPU of the
first test and, hidden, the "driver present, no usable GPU" case of the second. Each answer is
a separate `folio ask` process: a process loads its backends once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app import settings
from desktop_app.core.hardware.ggml_devices import llama_lib_dir
from tests.support import run_folio

pytestmark = pytest.mark.model

LAVAPIPE_ICD = Path("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json")
QUESTION = "Name three primary colors."

if not (llama_lib_dir() / "libggml-vulkan.so").exists():
    pytest.skip("this build has no Vulkan module (built without glslc)", allow_module_level=True)


def _ask(home: Path, monkeypatch: pytest.MonkeyPatch, gpu_layers: int | None, **env: str):
    """(answer, stats) of one greedy answer in a fresh process with `env`."""
    for name in ("GGML_VK_VISIBLE_DEVICES", "VK_ICD_FILENAMES", "VK_DRIVER_FILES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings.save(
        settings.Settings(
            gpu_layers=gpu_layers, sampling={"temperature": 0.0}, max_answer_tokens=24
        )
    )
    out = run_folio("ask", "-q", QUESTION, "--stats", home=home)
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stderr.strip().splitlines()[-1])
    return out.stdout.strip(), stats


@pytest.mark.skipif(not LAVAPIPE_ICD.exists(), reason="mesa-vulkan-drivers (lavapipe) missing")
def test_answer_runs_on_a_vulkan_device_and_matches_the_cpu(folio_home, monkeypatch):
    cpu_answer, cpu_stats = _ask(folio_home, monkeypatch, 0, GGML_VK_VISIBLE_DEVICES="0")
    assert cpu_stats["placement"].startswith("CPU")
    answer, stats = _ask(folio_home, monkeypatch, None, GGML_VK_VISIBLE_DEVICES="0")
    layers = stats["placement"]
    assert layers.startswith("GPU "), layers
    done, total = layers.split()[1].split("/")
    assert done == total, f"not every layer went to the Vulkan device: {layers}"
    assert stats["decode_tokens"] > 0 and answer
    assert answer.split()[:4] == cpu_answer.split()[:4], (answer, cpu_answer)


def test_no_vulkan_device_falls_back_to_the_cpu_and_says_why(folio_home, monkeypatch):
    # Without GGML_VK_VISIBLE_DEVICES ggml passes lavapipe over, as it would any CPU device.
    _, stats = _ask(folio_home, monkeypatch, None)
    assert stats["placement"].startswith("CPU (no GPU: "), stats["placement"]
    assert "Vulkan: no device found" in stats["placement"]
    assert stats["decode_tokens"] > 0


def test_no_vulkan_driver_at_all_falls_back_to_the_cpu(folio_home, monkeypatch):
    missing = str(folio_home / "no-such-icd.json")
    no_driver = {"VK_ICD_FILENAMES": missing, "VK_DRIVER_FILES": missing}
    _, stats = _ask(folio_home, monkeypatch, None, **no_driver)
    assert stats["placement"].startswith("CPU (no GPU: "), stats["placement"]
    assert "Vulkan: no driver for it responded" in stats["placement"]
    assert stats["decode_tokens"] > 0


def _system(home: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name in ("GGML_VK_VISIBLE_DEVICES", "VK_ICD_FILENAMES", "VK_DRIVER_FILES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = run_folio("system", "--json", home=home)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(not LAVAPIPE_ICD.exists(), reason="mesa-vulkan-drivers (lavapipe) missing")
def test_gpu_offload_and_devices_follow_what_the_machine_has(folio_home, monkeypatch):
    """Against a known machine: lavapipe visible, hidden, and no driver at all."""
    visible = _system(folio_home, monkeypatch, GGML_VK_VISIBLE_DEVICES="0")
    assert visible["gpu_offload"] is True and visible["gpu_note"] is None
    [gpu] = visible["gpus"]
    assert gpu["name"] == "Vulkan0" and "llvmpipe" in gpu["description"]
    assert gpu["total_bytes"] > 0
    hidden = _system(folio_home, monkeypatch)
    assert hidden["gpu_offload"] is False and hidden["gpus"] == []
    assert "Vulkan: no device found" in hidden["gpu_note"]
