"""desktop_app.core must be usable from the CLI and tests with no Qt at all."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import desktop_app.core

ROOT = Path(__file__).resolve().parents[2]


def test_core_imports_with_pyside6_unimportable():
    modules = [
        m.name for m in pkgutil.walk_packages(desktop_app.core.__path__, "desktop_app.core.")
    ]
    assert "desktop_app.core.llm.engine" in modules
    code = (
        "import sys, importlib\n"
        "sys.modules['PySide6'] = None\n"
        "sys.modules['shiboken6'] = None\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "import desktop_app.cli, desktop_app.app\n"
        "assert not any(m.startswith('PySide6.') for m in sys.modules)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
