"""Command-line options for loading a model folder (the loader itself is `ov_vlm.model.inference`).

Building a parser must not import torch: the loader is imported when a command runs.
"""

from __future__ import annotations

from pathlib import Path

from ov_vlm.utils.options import ATTENTION, DTYPES


def add_loading_arguments(parser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="model folder (from build-model or training)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="auto: bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--attn", default="sdpa", choices=ATTENTION, help="attention backend (default sdpa)")
