"""What `folio system` prints: the facts a bug report about speed or a crash needs.

CPU model and features, the CPU module llama.cpp runs on (and those passed over), every GPU
each backend sees, RAM, the build's backend modules, and why a GPU would not be used; the OCR
engine with its languages, and how to add one the user's OCR setting names but that is missing.
"""

from __future__ import annotations

import platform
import re
import sys
from pathlib import Path
from typing import Any

from desktop_app import __version__
from desktop_app.core import hardware
from desktop_app.core.hardware.backends import ensure_loaded

#: Instruction sets that decide which CPU module runs; the rest of /proc/cpuinfo is noise here.
_RELEVANT_FLAGS = re.compile(
    r"^(sse4_2|avx|avx2|fma|f16c|bmi2|avx_vnni|avx512\w*|amx\w*|neon|asimd\w*|sve\w*|sme|sme2\w*)$"
)


def _cpu_model() -> tuple[str, list[str]]:
    """The CPU's name and the instruction sets it reports (Linux; elsewhere the name only)."""
    name = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return name, []
    model = re.search(r"^model name\s*:\s*(.*)$", info, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.*)$", info, re.M)
    relevant = sorted(
        f for f in (flags.group(1).split() if flags else ()) if _RELEVANT_FLAGS.match(f)
    )
    return (model.group(1).strip() if model else name), relevant


def ocr_report(wanted: str) -> dict[str, Any]:
    """The OCR engine, its languages, and what `wanted` ("fra+eng") lacks with how to add it."""
    from desktop_app.core.documents.ocr import engine_info

    info = engine_info()
    missing = info.missing(wanted) if info.version else ()
    return {
        "engine": info.name,
        "version": info.version,
        "tessdata": str(info.tessdata) if info.tessdata else None,
        "languages": sorted(info.languages),
        "problem": info.problem,
        "wanted": wanted,
        "missing": {language: info.how_to_add(language) for language in missing},
    }


def system_report(ocr_languages: str | None = None) -> dict[str, Any]:
    """Everything as one JSON-ready dict (loads the backends if nothing has yet).

    `ocr_languages`: the OCR setting to check the installed languages against; None reads
    the user's settings.
    """
    import llama_cpp

    if ocr_languages is None:
        from desktop_app import settings

        ocr_languages = settings.load().ocr_languages

    status = ensure_loaded()
    hw = hardware.detect()
    model, flags = _cpu_model()
    devices = [
        {
            "name": gpu.name,
            "description": gpu.description,
            "kind": gpu.kind,
            "free_bytes": gpu.free_bytes,
            "total_bytes": gpu.total_bytes,
        }
        for gpu in hw.gpus
    ]
    return {
        "folio": __version__,
        "llama_cpp_python": llama_cpp.__version__,
        "python": platform.python_version(),
        "os": platform.platform(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "cpu": {
            "model": model,
            "flags": flags,
            "physical_cores": hw.physical_cores,
            "logical_cores": hw.logical_cores,
            "variant": status.cpu_variant,
            "variant_features": dict(status.cpu_features),
            "variants": {v.name: v.score for v in status.cpu_variants},
            "skipped": dict(status.rejected),
        },
        "ram_total_bytes": hw.ram_total_bytes,
        "ram_available_bytes": hw.ram_available_bytes,
        "backends": {
            "dynamic": status.dynamic,
            "dir": status.lib_dir,
            "gpu": {api: count for api, count in status.gpu_backends},
            "unavailable": dict(status.unavailable),
        },
        "gpu_offload": hw.gpu_offload,
        "gpus": devices,
        "gpu_note": None if hw.gpu_offload else status.gpu_reason(),
        "ocr": ocr_report(ocr_languages),
    }


def format_ocr(ocr: dict[str, Any]) -> list[str]:
    """ "OCR: Tesseract 5.5.4, languages: deu, eng, … (tessdata: …)", then what is missing."""
    if not ocr["version"]:
        return [f"OCR: not available: {ocr['problem'] or 'no OCR engine in this build'}"]
    languages = ", ".join(ocr["languages"]) or "none"
    lines = [
        f"OCR: {ocr['engine']} {ocr['version']}, languages: {languages} "
        f"(tessdata: {ocr['tessdata'] or 'not found'})"
    ]
    if ocr["problem"]:
        lines.append(f"  {ocr['problem']}")
    lines += [
        f"  {language} is not installed (OCR setting: {ocr['wanted']}). {how}"
        for language, how in ocr["missing"].items()
    ]
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The same facts as lines a person reads (and pastes into an issue)."""
    gib = 1024**3
    cpu = report["cpu"]
    backends = report["backends"]
    lines = [
        f"Folio {report['folio']} (llama-cpp-python {report['llama_cpp_python']}, "
        f"Python {report['python']}{', bundled' if report['frozen'] else ''})",
        f"OS: {report['os']}",
        f"CPU: {cpu['model']}, {cpu['physical_cores']} cores / {cpu['logical_cores']} threads",
        f"CPU features: {' '.join(cpu['flags']) or 'unknown'}",
    ]
    if backends["dynamic"]:
        runnable = [name for name, score in cpu["variants"].items() if score > 0]
        lines.append(
            f"CPU module: {cpu['variant']} (of {', '.join(runnable)} that this CPU supports)"
        )
        lines += [f"  skipped {name}: {why}" for name, why in cpu["skipped"].items()]
    else:
        lines.append("CPU module: built into llama.cpp (not a dynamic-backend build)")
    if report["ram_total_bytes"]:
        lines.append(
            f"RAM: {report['ram_total_bytes'] / gib:.1f} GiB "
            f"({report['ram_available_bytes'] / gib:.1f} GiB available)"
        )
    else:
        lines.append("RAM: unknown")
    gpu_apis = ", ".join(f"{api} ({n} device(s))" for api, n in backends["gpu"].items())
    lines.append(f"GPU backends: {gpu_apis or 'none in this build'}")
    lines += [f"  {api}: {why}" for api, why in backends["unavailable"].items()]
    for gpu in report["gpus"]:
        memory = (
            f", {gpu['free_bytes'] / gib:.1f} of {gpu['total_bytes'] / gib:.1f} GiB free"
            if gpu["total_bytes"] and gpu["free_bytes"] is not None
            else ""
        )
        lines.append(f"GPU: {gpu['name']}: {gpu['description']} ({gpu['kind']}{memory})")
    lines.append(
        "GPU offload: yes" if report["gpu_offload"] else f"GPU offload: no ({report['gpu_note']})"
    )
    lines.append(f"Backend modules: {backends['dir']}")
    lines += format_ocr(report["ocr"])
    return "\n".join(lines)
