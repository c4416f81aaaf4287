"""Packing kept patches onto mosaics, with the (t, h, w) position of every token (codec.md §2.8).

Patches are sorted raster (t, then h, then w) and pasted row-major onto square canvases of the sampled frames' size,
``cells`` per mosaic; token k of the mosaics read mosaic-major, row-major has position ``positions[k]``. With the
first frame kept whole, mosaic 0 is exactly that frame. With ``block=2`` the 2 x 2 blocks are sorted raster by block
and each is pasted as a 2 x 2 group, so a 2 x 2 merge on the mosaic grid merges exactly one selected block.
A partly filled last mosaic (``block=1``) holds its patches first; the rest of it is black and has no position.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np


class PatchSource(Protocol):
    """Canvases to cut patches from (`ov_vlm.codec.letterbox.Letterboxes`), ``cells`` patches a side."""

    cells: int

    def paste(self, t: np.ndarray, h: np.ndarray, w: np.ndarray, mosaics: np.ndarray, targets: np.ndarray) -> None:
        """Cell (t[k], h[k], w[k]) (frame, cell row, cell column) into cell (targets[k, 1], targets[k, 2]) of
        mosaics[targets[k, 0]]."""
        ...


def raster_order(kept: np.ndarray, block: int) -> np.ndarray:
    """Rows of ``kept`` sorted by (t, h, w); with ``block=2`` by (t, block row, block col), blocks kept together."""
    if block == 1:
        return kept[np.lexsort((kept[:, 2], kept[:, 1], kept[:, 0]))]
    units = kept.reshape(-1, 4, 3)
    heads = units[:, 0]
    order = np.lexsort((heads[:, 2] // 2, heads[:, 1] // 2, heads[:, 0]))
    return units[order].reshape(-1, 3)


def pack(kept: np.ndarray, frames: np.ndarray | PatchSource, patch: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Mosaics uint8 [M, C, C, 3] and per-token cells int64 [K, 3] (t = sampled-frame index) in token order
    (``frames``: the canvases uint8 [T, C, C, 3], or a `PatchSource` of them)."""
    cells = frames.shape[1] // patch if isinstance(frames, np.ndarray) else frames.cells
    canvas = cells * patch
    per_mosaic = cells * cells
    ordered = raster_order(kept, block)
    count = len(ordered)
    mosaics = np.zeros((math.ceil(count / per_mosaic), canvas, canvas, 3), dtype=np.uint8)
    slot = np.arange(count)
    if block == 1:
        mosaic, cell = np.divmod(slot, per_mosaic)
        row, col = np.divmod(cell, cells)
        token_order = slot
    else:
        unit, within = np.divmod(slot, 4)
        mosaic, unit_cell = np.divmod(unit, per_mosaic // 4)
        unit_row, unit_col = np.divmod(unit_cell, cells // 2)
        row, col = unit_row * 2 + within // 2, unit_col * 2 + within % 2
        token_order = np.lexsort((col, row, mosaic))
    t, h, w = ordered[:, 0], ordered[:, 1], ordered[:, 2]
    targets = np.stack([mosaic, row, col], axis=1)
    if isinstance(frames, np.ndarray):
        paste_from_canvases(frames, t, h, w, mosaics, targets, patch)
    else:
        frames.paste(t, h, w, mosaics, targets)
    return mosaics, ordered[token_order]


def paste_from_canvases(
    frames: np.ndarray,
    t: np.ndarray,
    h: np.ndarray,
    w: np.ndarray,
    mosaics: np.ndarray,
    targets: np.ndarray,
    patch: int,
) -> None:
    """Cell (t[k], h[k], w[k]) of the canvases ``frames`` [T, C, C, 3] into cell (targets[k, 1], targets[k, 2]) of
    ``mosaics[targets[k, 0]]``: one gather [K, patch, patch, 3], one scatter."""
    cells = frames.shape[1] // patch
    patches = frames.reshape(frames.shape[0], cells, patch, cells, patch, 3)[t, h, :, w]
    mosaics.reshape(mosaics.shape[0], cells, patch, cells, patch, 3)[targets[:, 0], targets[:, 1], :, targets[:, 2]] = (
        patches
    )


def unpack(mosaics: np.ndarray, count: int, patch: int) -> np.ndarray:
    """The first ``count`` token patches of the mosaics in token order: uint8 [count, patch, patch, 3]."""
    canvas = mosaics.shape[1]
    cells = canvas // patch
    view = mosaics.reshape(mosaics.shape[0], cells, patch, cells, patch, 3).transpose(0, 1, 3, 2, 4, 5)
    return view.reshape(-1, patch, patch, 3)[:count]
