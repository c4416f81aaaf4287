"""Command-line options for loading a model folder (the loader itself is `ov_vlm.model.inference`)."""

from __future__ import annotations

from pathlib import Path

from ov_vlm.model.inference import ATTENTION, DTYPES, Loaded, ModelLoadError, check_model_dir, load_for_inference


def add_loading_arguments(parser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="model folder (from build-model or training)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="auto: bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--attn", default="sdpa", choices=ATTENTION, help="attention backend (default sdpa)")


__all__ = [
    "ATTENTION",
    "DTYPES",
    "Loaded",
    "ModelLoadError",
    "add_loading_arguments",
    "check_model_dir",
    "load_for_inference",
]
