"""``ov-vlm``: one command, one subcommand per capability (``ov-vlm --help`` lists them).

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and, through ``set_defaults(run=...)``,
the function that runs it. Heavy imports happen inside those functions, not at parse time.

Errors: `main` is the one handler. Any `ov_vlm.errors.OVVLMError` (and the built-in exceptions a command lists in
``set_defaults(user_errors=(...))``, e.g. ``OSError`` from a model download) is printed as one line,
``ov-vlm COMMAND: message``, and the exit status is 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ov_vlm import __version__
from ov_vlm.errors import OVVLMError, one_line

# name -> module; order is the order shown by --help.
COMMANDS = {
    "env": "ov_vlm.cli.env",
    "codec": "ov_vlm.cli.codec",
    "build-model": "ov_vlm.cli.build_model",
    "chat": "ov_vlm.cli.chat",
    "infer": "ov_vlm.cli.infer",
    "data-check": "ov_vlm.cli.data_check",
    "train": "ov_vlm.cli.train",
    "export": "ov_vlm.cli.export",
    "eval": "ov_vlm.cli.eval",
    "demo": "ov_vlm.cli.demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ov-vlm",
        description="Codec-sparse video-language models: OneVision-Encoder + projector + Qwen LLM.",
    )
    parser.add_argument("--version", action="version", version=f"ov-vlm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


# Commands whose first subcommand is optional: ``ov-vlm eval --model ...`` means ``ov-vlm eval run --model ...``.
DEFAULT_SUBCOMMANDS = {"eval": ("run", ("run", "compare", "prefetch", "tasks", "-h", "--help"))}


def with_default_subcommand(argv: list[str]) -> list[str]:
    if len(argv) >= 2 and argv[0] in DEFAULT_SUBCOMMANDS:
        default, known = DEFAULT_SUBCOMMANDS[argv[0]]
        if argv[1] not in known:
            return [argv[0], default, *argv[1:]]
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(with_default_subcommand(list(sys.argv[1:] if argv is None else argv)))
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    user_errors = (OVVLMError, *getattr(args, "user_errors", ()))
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except user_errors as error:
        print(f"ov-vlm {args.command}: {one_line(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
