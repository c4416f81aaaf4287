"""From motion signals to per-patch saliency on the square letterbox canvas (codec.md §2.3-§2.6).

Per frame: MV magnitude and residual are each normalised by their own percentile (P95, with floors), fused as a
weighted mean, resized (bilinear) onto the letterboxed content box of the canvas, and summed per patch cell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from .motion import CELL


@dataclass(frozen=True)
class CanvasGeometry:
    """Where a frame of ``height`` x ``width`` lands on the ``canvas`` x ``canvas`` letterbox, in pixels and cells."""

    height: int
    width: int
    canvas: int
    patch: int
    scale: float
    content_height: int
    content_width: int
    pad_top: int
    pad_left: int

    @classmethod
    def fit(cls, height: int, width: int, canvas: int, patch: int) -> CanvasGeometry:
        """Longer side scaled to ``canvas``, centred with zero padding (reference rounding)."""
        scale = canvas / max(height, width)
        content_h = min(canvas, max(1, round(height * scale)))
        content_w = min(canvas, max(1, round(width * scale)))
        return cls(
            height=height,
            width=width,
            canvas=canvas,
            patch=patch,
            scale=scale,
            content_height=content_h,
            content_width=content_w,
            pad_top=(canvas - content_h) // 2,
            pad_left=(canvas - content_w) // 2,
        )

    @property
    def cells(self) -> int:
        return self.canvas // self.patch

    def valid_cells(self) -> np.ndarray:
        """bool [G, G]: cells lying fully inside the content box ("valid"; the rest count as padding)."""
        edges = np.arange(self.cells) * self.patch
        rows = (edges >= self.pad_top) & (edges + self.patch <= self.pad_top + self.content_height)
        cols = (edges >= self.pad_left) & (edges + self.patch <= self.pad_left + self.content_width)
        return rows[:, None] & cols[None, :]

    def to_dict(self) -> dict:
        valid = self.valid_cells()
        rows, cols = np.nonzero(valid.any(axis=1))[0], np.nonzero(valid.any(axis=0))[0]
        return {
            **asdict(self),
            "cells_per_side": self.cells,
            "valid_cells": int(valid.sum()),
            "valid_rows": [int(rows.min()), int(rows.max()) + 1] if len(rows) else [0, 0],
            "valid_cols": [int(cols.min()), int(cols.max()) + 1] if len(cols) else [0, 0],
        }


def normalise(values: np.ndarray, percentile: float, floor: float) -> np.ndarray:
    """``clip(values / max(P(values), floor), 0, 1)`` with the percentile taken over this frame."""
    scale = max(float(np.percentile(values, percentile)), floor)
    return np.clip(values / scale, 0.0, 1.0).astype(np.float32)


def fuse(motion: np.ndarray, residual: np.ndarray, motion_weight: float, residual_weight: float) -> np.ndarray:
    """Weighted mean of the two normalised maps, clipped to [0, 1]."""
    fused = (motion_weight * motion + residual_weight * residual) / (motion_weight + residual_weight)
    return np.clip(fused, 0.0, 1.0).astype(np.float32)


def patch_scores(grid_map: np.ndarray, geometry: CanvasGeometry, step: int = 2) -> np.ndarray:
    """Sum of an 8 x 8-cell map (``motion.CELL``) over each canvas patch after letterboxing: float32 [G, G].

    Works on a canvas sampled every ``step`` pixels (offsets rounded to ``step``), where the sum over a patch's
    values times ``step**2`` equals the full-resolution sum.
    """
    if geometry.patch % step:
        raise ValueError(f"patch size {geometry.patch} must be a multiple of {step}")
    rows, cols = grid_map.shape
    side = geometry.canvas // step
    content_h = max(1, round(geometry.content_height / step))
    content_w = max(1, round(geometry.content_width / step))
    # the grid covers rows*8 x cols*8 pixels (a little beyond the frame when its size is not a multiple of 8)
    target_h = max(1, round(content_h * rows * CELL / geometry.height))
    target_w = max(1, round(content_w * cols * CELL / geometry.width))
    image = Image.fromarray(np.ascontiguousarray(grid_map, dtype=np.float32), mode="F")
    resized = np.asarray(image.resize((target_w, target_h), Image.Resampling.BILINEAR), dtype=np.float32)
    canvas = np.zeros((side, side), dtype=np.float32)
    top = min(round(geometry.pad_top / step), side - content_h)
    left = min(round(geometry.pad_left / step), side - content_w)
    canvas[top : top + content_h, left : left + content_w] = resized[:content_h, :content_w]
    cells, per_patch = geometry.cells, geometry.patch // step
    return canvas.reshape(cells, per_patch, cells, per_patch).sum(axis=(1, 3)) * float(step * step)
