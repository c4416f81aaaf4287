"""Loading a model folder for inference: device, dtype and attention backend chosen sensibly, overridable.

Shared by the CLI (chat, infer) and the lmms-eval plugin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ov_vlm.utils.model_folder import PROCESSOR_FILE, processor_file
from ov_vlm.utils.options import ATTENTION, DTYPES

__all__ = ["ATTENTION", "DTYPES", "Loaded", "ModelLoadError", "check_model_dir", "load_for_inference"]


class ModelLoadError(RuntimeError):
    """A model folder is missing, incomplete or does not load (one line)."""


@dataclass
class Loaded:
    model: Any
    processor: Any
    device: str
    dtype: str


def check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelLoadError(f"{path}: no such model folder")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path}: no config.json; not a model folder")
    if not list(path.glob("*.safetensors")):
        raise ModelLoadError(f"{path}: no weights (*.safetensors); build one with `ov-vlm build-model`")
    if processor_file(path) is None:
        raise ModelLoadError(f"{path}: no {PROCESSOR_FILE}; not an ov-vlm model folder")


def load_for_inference(path: Path, device: str = "auto", dtype: str = "auto", attn: str = "sdpa") -> Loaded:
    """Model (eval mode) and processor from ``path``; every failure is a one-line `ModelLoadError`."""
    import torch

    from ov_vlm.model import OVVLMForConditionalGeneration
    from ov_vlm.processing import OVVLMProcessor

    check_model_dir(path)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
    try:
        model = OVVLMForConditionalGeneration.from_pretrained(
            str(path), dtype=getattr(torch, dtype), attn_implementation=attn
        )
        processor = OVVLMProcessor.from_pretrained(path)
    except (OSError, ValueError, ImportError) as error:
        raise ModelLoadError(f"{path}: cannot load the model ({' '.join(str(error).split())})") from None
    return Loaded(model.to(device).eval(), processor, device, dtype)
