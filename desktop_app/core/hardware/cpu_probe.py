"""Run one CPU backend module's kernels in a throw-away child process.

A CPU can report instruction sets it cannot execute (a VM here reported AMX; the code
died with SIGILL). ggml scores each CPU module by the reported features only, so the
best-scoring module can crash the app at the first token. Folio therefore runs a few
matrix products (f32, f16 and the quantized types of Q4/Q8 models) through the chosen module
in a child process first; if the child dies, the next module is tried (see backends.py).

The products run twice over: with the weights in the CPU backend's own buffer, and in each
of its *extra* buffer types (AMX tiles, repacked SIMD layouts), where llama.cpp puts a model's
weights whenever such a buffer supports the product. The AMX kernels live only there: a probe
without them passed on a VM that reports AMX, and the first real answer died of SIGILL.

This file is also the child's entry point, so it imports nothing but the standard library
and reaches ggml through ctypes: the child must start fast and must not load llama.cpp's
own Python bindings (or numpy) just to be killed.
"""

from __future__ import annotations

import ctypes
import math
import random
import sys
from pathlib import Path

# enum ggml_type (ggml/include/ggml.h)
_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 8, "q4_K": 12, "q6_K": 14}
_K = 256  # row length: a multiple of every block size above (k-quant blocks hold 256)
# Weight rows, activation columns: small, but the AMX kernels need rows in multiples of 32
# and a batch of at least one 16-row tile.
_M, _N = 32, 16


class _InitParams(ctypes.Structure):
    _fields_ = [
        ("mem_size", ctypes.c_size_t),
        ("mem_buffer", ctypes.c_void_p),
        ("no_alloc", ctypes.c_bool),
    ]


def _fn(libs: list[ctypes.CDLL], name: str, restype, *argtypes):
    """`name` from the first library exporting it (Windows looks in one DLL only)."""
    for lib in libs:
        function = getattr(lib, name, None)
        if function is not None:
            function.restype = restype
            function.argtypes = list(argtypes)
            return function
    raise AttributeError(f"{name} is not exported by {', '.join(lib._name for lib in libs)}")


def _extra_buffer_types(ggml: list[ctypes.CDLL], reg: int, dev: int) -> list[int]:
    """The CPU device's extra buffer types (null-terminated array behind a proc address)."""
    get_proc = _fn(ggml, "ggml_backend_reg_get_proc_address", ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.c_char_p)  # fmt: skip
    address = get_proc(reg, b"ggml_backend_dev_get_extra_bufts")
    if not address:
        return []
    listing = ctypes.CFUNCTYPE(ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)(address)(dev)
    found: list[int] = []
    while listing and listing[len(found)]:
        found.append(listing[len(found)])
    return found


def run_probe(ggml_paths: list[Path], module_path: Path) -> tuple[float, list[str]]:
    """Multiply random matrices through the module; returns the worst relative error and
    the buffer types whose kernels ran ("CPU" for the backend's own).

    Raises RuntimeError when ggml refuses the module or a product is wrong. A module
    the CPU cannot run does not return at all: the process dies of SIGILL.
    """
    vp, sz, i64 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64
    ggml = [ctypes.CDLL(str(path)) for path in ggml_paths]
    reg_dev_get = _fn(ggml, "ggml_backend_reg_dev_get", vp, vp, sz)
    dev_init = _fn(ggml, "ggml_backend_dev_init", vp, vp, ctypes.c_char_p)
    ggml_init = _fn(ggml, "ggml_init", vp, _InitParams)
    new_tensor_2d = _fn(ggml, "ggml_new_tensor_2d", vp, vp, ctypes.c_int, i64, i64)
    mul_mat = _fn(ggml, "ggml_mul_mat", vp, vp, vp, vp)
    new_graph = _fn(ggml, "ggml_new_graph", vp, vp)
    build_forward = _fn(ggml, "ggml_build_forward_expand", None, vp, vp)
    overhead = _fn(ggml, "ggml_tensor_overhead", sz)
    graph_overhead = _fn(ggml, "ggml_graph_overhead", sz)
    alloc_tensors = _fn(ggml, "ggml_backend_alloc_ctx_tensors", vp, vp, vp)
    tensor_set = _fn(ggml, "ggml_backend_tensor_set", None, vp, vp, sz, sz)
    tensor_get = _fn(ggml, "ggml_backend_tensor_get", None, vp, vp, sz, sz)
    compute = _fn(ggml, "ggml_backend_graph_compute", ctypes.c_int, vp, vp)
    quantize = _fn(ggml, "ggml_quantize_chunk", sz, ctypes.c_int, vp, vp, i64, i64, i64, vp)
    row_size = _fn(ggml, "ggml_row_size", sz, ctypes.c_int, i64)
    fp32_to_fp16_row = _fn(ggml, "ggml_fp32_to_fp16_row", None, vp, vp, i64)
    alloc_from_buft = _fn(ggml, "ggml_backend_alloc_ctx_tensors_from_buft", vp, vp, vp)
    supports_op = _fn(ggml, "ggml_backend_dev_supports_op", ctypes.c_bool, vp, vp)
    buft_name = _fn(ggml, "ggml_backend_buft_name", ctypes.c_char_p, vp)

    # The module's own init, as ggml_backend_load calls it once the score says the CPU has
    # the features: the probe is about CPUs whose reported features are wrong, so it does
    # not ask the score again.
    module = ctypes.CDLL(str(module_path))
    reg = _fn([module], "ggml_backend_init", vp)()
    if not reg:
        raise RuntimeError("the module did not initialise")
    backend = dev_init(reg_dev_get(reg, 0), None)
    if not backend:
        raise RuntimeError("the module's CPU device did not start")

    dev = reg_dev_get(reg, 0)
    buffers: list[int | None] = [None, *_extra_buffer_types(ggml, reg, dev)]

    rng = random.Random(1234)
    weights = [rng.gauss(0.0, 1.0) for _ in range(_M * _K)]
    acts = [rng.gauss(0.0, 1.0) for _ in range(_N * _K)]
    expected = [
        sum(weights[m * _K + k] * acts[n * _K + k] for k in range(_K))
        for n in range(_N)
        for m in range(_M)
    ]
    scale = math.sqrt(sum(v * v for v in expected) / len(expected))
    f32_weights = (ctypes.c_float * len(weights))(*weights)
    f32_acts = (ctypes.c_float * len(acts))(*acts)
    worst = 0.0
    used: list[str] = []
    for buffer in buffers:
        for name, ggml_type in _TYPES.items():
            weight_ctx = ggml_init(_InitParams(overhead() * 2, None, True))
            ctx = ggml_init(_InitParams(overhead() * 8 + graph_overhead(), None, True))
            a = new_tensor_2d(weight_ctx, ggml_type, _K, _M)
            b = new_tensor_2d(ctx, _TYPES["f32"], _K, _N)
            out = mul_mat(ctx, a, b)
            graph = new_graph(ctx)
            build_forward(graph, out)
            placed = (
                alloc_from_buft(weight_ctx, buffer)
                if buffer
                else alloc_tensors(weight_ctx, backend)
            )
            if not placed or not alloc_tensors(ctx, backend):
                raise RuntimeError("could not allocate the probe's tensors")
            if buffer and not supports_op(dev, out):
                continue  # llama.cpp would not put these weights there either
            size = row_size(ggml_type, _K) * _M
            packed = ctypes.create_string_buffer(size)
            if ggml_type == _TYPES["f32"]:
                ctypes.memmove(packed, f32_weights, size)
            elif ggml_type == _TYPES["f16"]:
                fp32_to_fp16_row(f32_weights, packed, len(weights))
            else:
                quantize(ggml_type, f32_weights, packed, 0, _M, _K, None)
            tensor_set(a, packed, 0, size)  # an extra buffer repacks the weights here
            tensor_set(b, f32_acts, 0, 4 * len(acts))
            where = f"{name} product in {buft_name(buffer).decode()}" if buffer else name
            if compute(backend, graph) != 0:
                raise RuntimeError(f"computing the {where} product failed")
            result = (ctypes.c_float * (_M * _N))()
            tensor_get(out, result, 0, 4 * _M * _N)
            error = max(abs(r - e) for r, e in zip(result, expected, strict=True)) / scale
            # 4-bit weights on random data: errors near 0.3 of the typical magnitude are
            # normal; a broken kernel gives garbage (errors of order 1 or NaN).
            if not error < 0.6:
                raise RuntimeError(f"the {where} is wrong (relative error {error:.3g})")
            worst = max(worst, error)
            label = buft_name(buffer).decode() if buffer else "CPU"
            if label not in used:
                used.append(label)
    return worst, used


def main(argv: list[str]) -> int:
    """`cpu_probe MODULE GGML_LIBRARY...`: exit 0 and print the error and the buffer types
    used when the kernels ran."""
    try:
        worst, used = run_probe([Path(a) for a in argv[1:]], Path(argv[0]))
    except (OSError, RuntimeError, AttributeError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 3
    sys.stdout.write(f"ok {worst:.4f} in {', '.join(used)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
