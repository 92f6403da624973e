"""`folio system [--json]`: the machine, the llama.cpp build and OCR, for bug reports."""

from __future__ import annotations

import argparse
import json


def add_system_command(sub: argparse._SubParsersAction) -> None:
    system = sub.add_parser(
        "system",
        help="CPU, CPU module, GPUs, RAM, backends and OCR languages (paste into a bug report)",
    )
    system.add_argument("--json", action="store_true", help="print one JSON object")
    system.set_defaults(handler=cmd_system)


def cmd_system(args: argparse.Namespace) -> int:
    from desktop_app.core.hardware.system_report import format_report, system_report

    report = system_report()
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
