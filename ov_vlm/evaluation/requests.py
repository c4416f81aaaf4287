"""lmms-eval requests -> ov-vlm chat messages and generation settings (pure functions, no model).

A "simple" lmms-eval model receives, per request, the task's prompt text (``context``), its ``generation_kwargs``
and a ``doc_to_visual`` callable that gives PIL images (image tasks) or file paths (video tasks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ov_vlm.utils.text import cut_at_stops

__all__ = ["cut_at_stops", "describe_visuals", "flatten_visuals", "generation_settings", "to_messages", "visual_part"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
IMAGE_TAG = "<image>"
DEFAULT_MAX_NEW_TOKENS = 1024  # the reference wrapper's default when a task sets none


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
