"""``ov-vlm demo``: the end-to-end CPU demo (codec -> training -> lmms-eval -> chat)."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the end-to-end CPU demo (what `make demo` runs)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("demo not built yet: the end-to-end demo arrives with issue #7. The environment is ready (`ov-vlm env`).")
    return 0
