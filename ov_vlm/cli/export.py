"""``ov-vlm export --merge-lora``: fold trained LoRA adapters into a plain model folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="write a merged model folder from LoRA adapters")
    parser.add_argument("--merge-lora", required=True, type=Path, metavar="ADAPTER_DIR", help="a LoRA run's output")
    parser.add_argument("--out", required=True, type=Path, help="model folder to write")
    parser.add_argument("--base", type=Path, help="base model folder (default: the one recorded in the adapters)")
    parser.set_defaults(run=run, user_errors=(OSError, ValueError))


def run(args: argparse.Namespace) -> int:
    from ov_vlm.train.lora import merge_lora

    out = merge_lora(args.merge_lora, args.out, args.base)
    print(f"wrote {out} (LoRA merged)")
    return 0
