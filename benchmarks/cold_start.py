"""Start to visible window: the installed app (PyInstaller bundle) against the venv.

Both start the same way a double-click does (no files, the configured model), in the same X
server, alternating, with one FOLIO_HOME that has seen one start already (so the CPU probe's
verdict and the first-run Models dialog are behind it, as on a user's second day). The time
is from spawning the process until X reports a visible window titled "Folio"; the process is
then stopped. Where /proc/sys/vm/drop_caches is writable the page cache is dropped before
each start (a cold start after boot); otherwise the report says the starts were warm.

    xvfb-run -a .venv/bin/python benchmarks/cold_start.py [--installed /usr/bin/folio] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.02
TIMEOUT_S = 120.0


def _drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _window_visible() -> bool:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "^Folio$"],
        capture_output=True, text=True,
    )  # fmt: skip
    return found.returncode == 0 and bool(found.stdout.strip())


def start_once(command: list[str], env: dict[str, str], cold: bool) -> float:
    """Seconds from spawn to a visible Folio window."""
    if cold:
        _drop_caches()
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not _window_visible():
            if proc.poll() is not None:
                raise SystemExit(f"{command[0]} exited {proc.returncode}: {proc.stderr.read()!r}")
            if time.perf_counter() - start > TIMEOUT_S:
                raise SystemExit(f"{command[0]}: no window after {TIMEOUT_S:.0f} s")
            time.sleep(POLL_S)
        return time.perf_counter() - start
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installed", default="/usr/bin/folio", help="the installed app")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") or not shutil.which("xdotool"):
        raise SystemExit("needs an X display and xdotool: run it under xvfb-run -a")
    if not Path(args.installed).exists():
        raise SystemExit(f"{args.installed} is not installed (installers/linux/build.sh, dpkg -i)")
    variants = {
        "venv": [sys.executable, "-m", "desktop_app"],
        "installed": [args.installed],
    }
    home = tempfile.mkdtemp(prefix="folio-cold-start-")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "FOLIO_HOME")}
    env.update(FOLIO_HOME=home, QT_QPA_PLATFORM="xcb")
    try:
        first = {name: start_once(cmd, env, cold=True) for name, cmd in variants.items()}
        cold = _drop_caches()
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.runs):
            for name, cmd in variants.items():
                times[name].append(start_once(cmd, env, cold))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"page cache dropped before each start: {'yes' if cold else 'no (warm starts)'}")
    print(f"first start in a new home: venv {first['venv']:.2f} s, "
          f"installed {first['installed']:.2f} s")  # fmt: skip
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        runs = " ".join(f"{v:.2f}" for v in values)
        print(f"{name:>9}: median {medians[name]:.2f} s over {args.runs} ({runs})")
    print(f"installed / venv: {medians['installed'] / medians['venv']:.2f}x")


if __name__ == "__main__":
    main()
