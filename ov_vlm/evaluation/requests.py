"""Requests, torch-free: an ``ov-vlm eval`` run (`EvalRequest`) and lmms-eval's per-sample requests -> ov-vlm chat
messages and generation settings (pure functions, no model).

`EvalRequest`'s fields are also the flags of ``ov-vlm eval run`` (generated, `ov_vlm.cli.fields`). A "simple"
lmms-eval model receives, per request, the task's prompt text (``context``), its ``generation_kwargs`` and a
``doc_to_visual`` callable that gives PIL images (image tasks) or file paths (video tasks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ov_vlm.utils.options import Attention, Dtype, VideoMode
from ov_vlm.utils.text import cut_at_stops
from ov_vlm.utils.typed import flag

from .suite import Suite

__all__ = [
    "EvalRequest",
    "cut_at_stops",
    "describe_visuals",
    "flatten_visuals",
    "generation_settings",
    "to_messages",
    "visual_part",
]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
IMAGE_TAG = "<image>"
DEFAULT_MAX_NEW_TOKENS = 1024  # the reference wrapper's default when a task sets none


@dataclass
class EvalRequest:
    """One ``ov-vlm eval`` run: a model folder, a suite and how to run it (`ov_vlm.evaluation.runner.run_eval`)."""

    model: Path = field(metadata=flag("model folder"))
    suite: Suite
    output: Path = field(
        metadata=flag("run folder (default: runs/eval/<model>-<suite>-<video mode>)", required=False, default=None)
    )
    limit: int | None = field(
        default=None, metadata=flag("samples per task (smoke runs; not comparable to published numbers)")
    )
    batch_size: int = field(default=1, metadata=flag(None))
    video_mode: VideoMode | None = field(default=None, metadata=flag("default: the model's"))
    frames: int | None = field(default=None, metadata=flag("frames in frames mode"))
    budget: str | None = field(default=None, metadata=flag("codec budget: K (10368), a ratio (0.125) or auto"))
    device: str = field(default="auto", metadata=flag(None))
    dtype: Dtype = field(default="auto", metadata=flag(None))
    attn_implementation: Attention = field(default="sdpa", metadata=flag(None, flag="--attn"))
    max_new_tokens: int | None = field(
        default=None, metadata=flag(f"used when a task sets none (default {DEFAULT_MAX_NEW_TOKENS})")
    )
    cache_dir: Path | None = field(default=None, metadata=flag("codec selection cache (default ~/.cache/ov-vlm/codec)"))
    nproc: int = field(default=1, metadata=flag("processes (GPUs) through accelerate launch"))
    threads: int | None = field(
        default=None, metadata=flag("CPU threads of each evaluation process (OMP_NUM_THREADS; default: torch's)")
    )
    reference: str | None = field(
        default=None, metadata=flag("published column to compute deltas against (default: by encoder/mode)")
    )
    quiet: bool = field(default=False, metadata=flag("do not echo lmms-eval's output (it is still logged)"))
    extra_args: list[str] = field(default_factory=list)


def flatten_visuals(visuals: Any) -> list[Any]:
    """``doc_to_visual`` output (None, one item, or nested lists) -> a flat list."""
    if visuals is None:
        return []
    if not isinstance(visuals, list | tuple):
        return [visuals]
    flat: list[Any] = []
    for item in visuals:
        flat.extend(flatten_visuals(item))
    return flat


def visual_part(visual: Any, video_mode: str | None = None) -> dict[str, Any]:
    """One visual as a chat content part: PIL images and image files are images, other paths are videos."""
    if isinstance(visual, str | Path):
        if Path(visual).suffix.lower() in IMAGE_SUFFIXES:
            return {"type": "image", "image": str(visual)}
        part = {"type": "video", "video": str(visual)}
        if video_mode:
            part["mode"] = video_mode
        return part
    if hasattr(visual, "convert") and hasattr(visual, "size"):  # a PIL image
        return {"type": "image", "image": visual}
    raise ValueError(f"unsupported visual of type {type(visual).__name__} (ov_vlm takes images and video files)")


def to_messages(context: str, visuals: list[Any], video_mode: str | None = None) -> list[dict[str, Any]]:
    """One user turn: the visuals first (as in training, LLaVA-style), then the task's prompt text.

    ``<image>`` tags in the prompt are dropped: their visuals are placed before the text.
    """
    parts = [visual_part(v, video_mode) for v in visuals]
    text = context.replace(IMAGE_TAG, "").strip()
    parts.append({"type": "text", "text": text})
    return [{"role": "user", "content": parts}]


def generation_settings(gen_kwargs: dict[str, Any], default_max_new_tokens: int) -> tuple[dict[str, Any], list[str]]:
    """The task's ``generation_kwargs`` -> (``generate`` keyword arguments, stop strings).

    temperature 0 (or unset) and ``do_sample`` false mean greedy; ``max_new_tokens`` comes from the task, else the
    model's default. Beam search is refused: lmms-eval's paper tasks all use one beam.
    """
    kwargs = dict(gen_kwargs or {})
    until = kwargs.pop("until", None) or []
    if isinstance(until, str):
        until = [until]
    if not isinstance(until, list) or not all(isinstance(s, str) for s in until):
        raise ValueError(f"generation_kwargs 'until' must be a string or a list of strings, got {until!r}")
    beams = int(kwargs.pop("num_beams", 1) or 1)
    if beams != 1:
        raise ValueError(f"num_beams={beams} is not supported by ov_vlm (visual inputs are per sample); use 1")
    temperature = float(kwargs.pop("temperature", 0) or 0)
    do_sample = bool(kwargs.pop("do_sample", False)) and temperature > 0
    settings: dict[str, Any] = {
        "max_new_tokens": int(kwargs.pop("max_new_tokens", None) or default_max_new_tokens),
        "do_sample": do_sample,
    }
    top_p = kwargs.pop("top_p", None)
    if do_sample:
        settings["temperature"] = temperature
        if top_p is not None:
            settings["top_p"] = float(top_p)
    return settings, [s for s in until if s]


def describe_visuals(visuals: list[Any]) -> str:
    """A short, loggable description of a request's visuals (file paths as they are; images by size)."""
    names = []
    for visual in visuals:
        if isinstance(visual, str | Path):
            names.append(str(visual))
        elif hasattr(visual, "size"):
            names.append(f"<image {visual.size[0]}x{visual.size[1]}>")
        else:
            names.append(f"<{type(visual).__name__}>")
    return ", ".join(names) or "<no visual>"
