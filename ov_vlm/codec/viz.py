"""A picture of a codec selection: sampled frames with the kept patches lit, the saliency heat map, and how many
patches each sampled frame gave (PIL only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .result import CodecSelection

# a perceptually ordered dark-to-bright ramp (black, purple, red, orange, yellow)
_RAMP = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32)
BACKGROUND, INK, ACCENT = (24, 24, 28), (230, 230, 230), (80, 200, 255)


def heat_colors(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 along the ramp."""
    position = np.clip(values, 0, 1) * (len(_RAMP) - 1)
    low = np.floor(position).astype(int).clip(0, len(_RAMP) - 2)
    frac = (position - low)[..., None]
    return (_RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac).astype(np.uint8)


def render(selection: CodecSelection, panels: int = 8, thumb: int = 192, title: str | None = None) -> Image.Image:
    """Top row: sampled frames, kept patches bright, the rest dimmed. Middle: saliency. Bottom: kept per frame."""
    if selection.frames is None or selection.scores is None:
        raise ValueError("rendering needs an in-memory selection (frames and scores), not one loaded from disk")
    meta = selection.meta
    frames, scores = selection.frames, selection.scores
    count, canvas = frames.shape[0], frames.shape[1]
    cells = scores.shape[1]
    patch = canvas // cells
    slots = np.asarray(meta["t_slots"])
    slot_to_t = {int(s): t for t, s in enumerate(slots)}
    kept_t = np.array([slot_to_t[int(s)] for s in selection.positions[:, 0]])
    kept = np.zeros((count, cells, cells), dtype=bool)
    kept[kept_t, selection.positions[:, 1], selection.positions[:, 2]] = True

    shown = np.unique(np.round(np.linspace(0, count - 1, min(panels, count))).astype(int))
    margin, label_h, chart_h = 8, 18, 90
    width = margin + len(shown) * (thumb + margin)
    height = 28 + 2 * (thumb + label_h + margin) + chart_h + 2 * margin
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    video = Path(meta["video"]["path"]).name
    draw.text(
        (margin, 8),
        title
        or f"{video}: K={meta['K']} of {meta['settings']['frames'] * cells * cells} patches ({meta['ratio']:.1%}), "
        f"{meta['num_mosaics']} mosaics"
        + (", static clip: uniform frames" if meta.get("fallback_frames") else ""),
        fill=INK,
    )
    peak = float(scores.max()) or 1.0
    for column, t in enumerate(shown):
        x = margin + column * (thumb + margin)
        mask = np.kron(kept[t], np.ones((patch, patch), dtype=bool))[..., None]
        lit = np.where(mask, frames[t], (frames[t] * 0.25).astype(np.uint8))
        image.paste(Image.fromarray(lit).resize((thumb, thumb), Image.Resampling.BILINEAR), (x, 28))
        draw.text(
            (x, 28 + thumb + 2), f"t={int(slots[t])} frame {meta['frame_ids'][t]} kept {int(kept[t].sum())}", fill=INK
        )
        heat = heat_colors(scores[t] / peak)
        grey = frames[t].mean(axis=2, keepdims=True).astype(np.float32)
        heat_full = np.kron(heat, np.ones((patch, patch, 1), dtype=np.uint8)).astype(np.float32)
        blended = (0.35 * grey + 0.65 * heat_full).astype(np.uint8)
        y = 28 + thumb + label_h + margin
        image.paste(Image.fromarray(blended).resize((thumb, thumb), Image.Resampling.BILINEAR), (x, y))
        draw.text((x, y + thumb + 2), "saliency", fill=INK)

    # kept patches per sampled frame
    top = height - chart_h - margin
    per_frame = kept.reshape(count, -1).sum(axis=1)
    bar_w = (width - 2 * margin) / count
    scale = (chart_h - 14) / max(1, int(per_frame.max()))
    for t, value in enumerate(per_frame):
        x0 = margin + t * bar_w
        draw.rectangle([x0, top + chart_h - value * scale, x0 + max(1.0, bar_w - 1), top + chart_h], fill=ACCENT)
    draw.text((margin, top - 2), "kept patches per sampled frame (t = 0 ... last)", fill=INK)
    return image


def save_visualization(selection: CodecSelection, path: str | Path, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render(selection, **kwargs).save(path, format="PNG")
    return path
