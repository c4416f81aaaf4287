"""Inference: loading a model folder (device, dtype and attention chosen sensibly, overridable) and `generate`.

The one path from encoded conversations to answers, shared by the CLI (``chat`` streams, ``infer`` batches) and
the lmms-eval plugin: left-padded collate, the batch moved to the model's device (floating visual inputs in the
model's dtype), ``model.generate`` with ov-vlm's pad and end-of-turn ids, decode, cut at stop strings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ov_vlm.errors import OVVLMError, one_line
from ov_vlm.utils.model_folder import PROCESSOR_FILE, processor_file
from ov_vlm.utils.options import ATTENTION, DTYPES
from ov_vlm.utils.text import cut_at_stops

__all__ = [
    "ATTENTION",
    "DTYPES",
    "Loaded",
    "ModelLoadError",
    "check_model_dir",
    "cut_at_stops",
    "eos_token_ids",
    "generate",
    "load_for_inference",
    "to_device",
]


class ModelLoadError(OVVLMError, RuntimeError):
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
        raise ModelLoadError(f"{path}: cannot load the model ({one_line(error)})") from None
    return Loaded(model.to(device).eval(), processor, device, dtype)


def to_device(batch: dict[str, Any], device: Any, dtype: Any = None) -> dict[str, Any]:
    """A collated batch on ``device``; the visual lists' floating tensors also cast to ``dtype`` (if given)."""
    moved = {}
    for key, value in batch.items():
        if isinstance(value, list):
            moved[key] = [
                None if v is None else v.to(device, dtype=dtype if v.is_floating_point() else None) for v in value
            ]
        else:
            moved[key] = value.to(device)
    return moved


def eos_token_ids(tokenizer) -> list[int]:
    """The ids that end an answer: ``<|im_end|>`` and the tokenizer's EOS."""
    ids = {tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id}
    return sorted(i for i in ids if i is not None and i >= 0)


def generate(
    model,
    processor,
    items: list[Any],
    settings: dict[str, Any] | None = None,
    stops: list[str] | tuple[str, ...] = (),
    streamer=None,
) -> list[str]:
    """Answers to encoded conversations (`OVVLMProcessor.encode(..., add_generation_prompt=True)`), batched.

    ``settings``: ``generate`` keyword arguments (``max_new_tokens``, ``do_sample``, ...); ``stops``: strings the
    answers are cut at; ``streamer``: a transformers streamer (one conversation at a time).
    """
    import torch

    tokenizer = processor.tokenizer
    batch = processor.collate(items, padding_side="left", with_labels=False)
    batch = to_device(batch, model.device, model.dtype)
    with torch.inference_mode():
        generated = model.generate(
            **batch,
            **(settings or {}),
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos_token_ids(tokenizer),
            streamer=streamer,
        )
    prompt_length = batch["input_ids"].shape[1]
    return [cut_at_stops(processor.decode(row[prompt_length:]), stops) for row in generated]
