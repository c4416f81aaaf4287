"""Per-frame saliency as the reference stage 1 computes it (codec.md §2.3-§2.6), on stock-PyAV signals.

Motion: L0 vectors in whole pixels (``src - dst``) on the 4 x 4 grid, minus the frame's median vector, magnitude,
divided by its P95 (floor 1e-6), nearest-neighbour upsampled. Residual: ``|Y - 128|`` of the (estimated) patched
picture divided by its P95 (floor 1). Fused as the weighted mean, resized (bilinear) onto the letterbox content box
and summed per patch.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import kernels
from .motion import compensate
from .residual import GRID, expand, paint_cells
from .saliency import CanvasGeometry

MV_FLOOR, RESIDUAL_FLOOR = 1e-6, 1.0  # the reference's normaliser floors


def whole_pel_grid(vectors: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """L0 vectors as the reference paints them: float32 [H/4, W/4, 2] of ``src - dst`` in whole pixels."""
    rows, cols = -(-height // GRID), -(-width // GRID)
    grid = np.zeros((rows, cols, 2), dtype=np.float32)
    if vectors is None or len(vectors) == 0:
        return grid
    motion = np.stack([vectors["src_x"] - vectors["dst_x"], vectors["src_y"] - vectors["dst_y"]], axis=1)
    paint_cells(grid, np.zeros((rows, cols), dtype=bool), vectors, motion.astype(np.float32), vectors["source"] <= 0)
    return grid


def level_percentile(levels: np.ndarray, percentile: float) -> float:
    """``np.percentile(levels, percentile)`` (linear method, float32 data) of uint8 levels, from their histogram
    instead of a partition of every pixel: the same order statistics and numpy's interpolation formula."""
    counts = kernels.histogram(levels)
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    virtual = (n - 1) * np.true_divide(percentile, 100)
    below = int(np.floor(virtual))
    if virtual >= n - 1:
        return float(np.searchsorted(cumulative, n - 1, side="right"))
    low, high = (np.float32(np.searchsorted(cumulative, rank, side="right")) for rank in (below, below + 1))
    gamma = float(virtual - below)
    diff = high - low
    if gamma >= 0.5:
        return float(high - diff * np.float32(1 - gamma))
    return float(low + diff * np.float32(gamma))


def residual_fused(
    motion: np.ndarray, levels: np.ndarray, percentile: float, floor: float, mv_weight: float, residual_weight: float
) -> np.ndarray:
    """`fused_map` of the motion map and the residual ``levels`` (uint8 ``|Y_res - 128|``) normalised by their
    percentile (floor ``floor``), in one pass: float32 [H, W]."""
    scale = max(level_percentile(levels, percentile), floor)
    return kernels.fuse_levels(levels, motion, scale, mv_weight, residual_weight)


def residual_resized(motion: np.ndarray, levels: np.ndarray, settings, height: int, width: int) -> np.ndarray:
    """`linear_resize` of `residual_fused` to ``height`` x ``width``, the fused map evaluated only where the resize
    reads it (the same float32 values): float32 [height, width]."""
    scale = max(level_percentile(levels, settings.residual_percentile), settings.residual_floor)
    xtaps = linear_taps(levels.shape[1], width)
    ytaps = linear_taps(levels.shape[0], height)
    return kernels.fused_resized(levels, motion, scale, settings.mv_weight, settings.residual_weight, xtaps, ytaps)


def motion_resized(motion: np.ndarray, settings, height: int, width: int) -> np.ndarray:
    """`linear_resize` of the motion-only `fused_map` to ``height`` x ``width``, evaluated only where the resize
    reads it (the same float32 values): `kernels.fused_resized` with every residual level 0, from a zero-strided
    view that takes no memory. float32 [height, width]."""
    rows, cols = motion.shape[0] * GRID, motion.shape[1] * GRID
    no_residual = np.broadcast_to(np.zeros((1, 1), dtype=np.uint8), (rows, cols))
    taps = linear_taps(cols, width), linear_taps(rows, height)
    return kernels.fused_resized(no_residual, motion, 1.0, settings.mv_weight, settings.residual_weight, *taps)


def normalise(values: np.ndarray, percentile: float, floor: float) -> np.ndarray:
    """``clip(values / max(P(values), floor), 0, 1)`` over one frame."""
    scale = max(float(np.percentile(values, percentile)), floor)
    return np.clip(values / scale, 0.0, 1.0).astype(np.float32)


def motion_energy(grid: np.ndarray, compensation: str, percentile: float, floor: float) -> np.ndarray:
    """Camera-compensated, normalised MV magnitude on the 4 x 4 grid: the median over all cells (reference), none,
    or a robust similarity / affine fit (`motion.compensate`)."""
    vx, vy = grid[..., 0], grid[..., 1]
    if compensation == "median":
        vx, vy = vx - np.median(vx), vy - np.median(vy)
    elif compensation != "none":
        flow = compensate(grid, np.ones(grid.shape[:2], dtype=bool), compensation)
        vx, vy = flow[..., 0], flow[..., 1]
    return normalise(np.sqrt(vx * vx + vy * vy), percentile, floor)


def fused_map(motion: np.ndarray, residual: np.ndarray | None, mv_weight: float, residual_weight: float):
    """Weighted mean of the normalised maps at full frame size (``residual`` may be None: motion only)."""
    height, width = residual.shape if residual is not None else (motion.shape[0] * GRID, motion.shape[1] * GRID)
    up = expand(motion, GRID, height, width)
    if residual is None:
        return np.clip(up * mv_weight / (mv_weight + residual_weight), 0.0, 1.0).astype(np.float32)
    fused = (mv_weight * up + residual_weight * residual) / (mv_weight + residual_weight)
    return np.clip(fused, 0.0, 1.0).astype(np.float32)


def _clamped_taps(position: np.ndarray, source: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's edge rule for source positions of linear taps: first and second index, float32 fraction (0 where
    the position falls outside the source)."""
    first = np.floor(position).astype(np.int64)
    fraction = (position - first.astype(position.dtype)).astype(np.float32)
    fraction[(first < 0) | (first >= source - 1)] = 0.0
    first = np.clip(first, 0, source - 1)
    return first, np.minimum(first + 1, source - 1), fraction


@lru_cache(maxsize=32)
def linear_taps(source: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV ``INTER_LINEAR`` taps from ``source`` to ``target`` samples (pixel centres aligned, no antialiasing
    when shrinking, edges clamped): first and second source index, and their float32 weights. Positions in double
    precision: the score maps reproduce the reference's to 3e-5 so (`fixed_linear_taps`' single precision moves
    some picks)."""
    first, second, fraction = _clamped_taps((np.arange(target) + 0.5) * (source / target) - 0.5, source)
    return first, second, np.float32(1.0) - fraction, fraction


RESIZE_COEF_SCALE = 2048  # OpenCV's INTER_RESIZE_COEF_SCALE: 11-bit fixed-point weights of 8-bit resizing


@lru_cache(maxsize=32)
def fixed_linear_taps(source: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's ``INTER_LINEAR`` taps of 8-bit images, as ``cv2.resize`` computes them: single-precision source
    positions, edges clamped, each weight rounded to 1/2048 on its own (first and second source index, int32
    weights)."""
    position = ((np.arange(target) + 0.5) * (1.0 / (target / source)) - 0.5).astype(np.float32)
    first, second, fraction = _clamped_taps(position, source)
    one = np.float32(RESIZE_COEF_SCALE)
    weights = [np.rint(w * one).astype(np.int32) for w in (np.float32(1.0) - fraction, fraction)]
    return first, second, weights[0], weights[1]


@lru_cache(maxsize=32)
def interleaved_taps(source: int, target: int, channels: int) -> tuple[np.ndarray, ...]:
    """`fixed_linear_taps` per output value of rows with ``channels`` interleaved channels."""
    first, second, w0, w1 = fixed_linear_taps(source, target)
    lane = np.arange(channels)
    index = [(i[:, None] * channels + lane).ravel() for i in (first, second)]
    return index[0], index[1], np.repeat(w0, channels), np.repeat(w1, channels)


def letterbox_rgb(rgb: np.ndarray, geometry: CanvasGeometry, out: np.ndarray) -> np.ndarray:
    """``rgb`` (uint8 [H, W, 3], rows may be strided) resized with OpenCV's ``INTER_LINEAR`` onto the content box
    of ``out`` (a black [C, C, 3] canvas), as the reference letterboxes the frames of its mosaics."""
    height, width = geometry.content_height, geometry.content_width
    source_h, source_w, channels = rgb.shape
    box = out[geometry.pad_top : geometry.pad_top + height, geometry.pad_left : geometry.pad_left + width]
    target = box.reshape(height, width * channels)
    if not np.may_share_memory(target, out):
        raise ValueError("letterbox_rgb: out must be a C-contiguous [C, C, 3] canvas")
    y0, y1, b0, b1 = fixed_linear_taps(source_h, height)
    kernels.linear_resize_u8(
        rgb.reshape(source_h, source_w * channels),
        target,
        *interleaved_taps(source_w, width, channels),
        y0,
        y1,
        b0,
        b1,
    )
    return out


def linear_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)`` of a float32 map (what the
    reference's stage 1 uses; PIL's bilinear filter widens when shrinking): float32 [height, width]."""
    x0, x1, wx0, wx1 = linear_taps(image.shape[1], width)
    y0, y1, wy0, wy1 = linear_taps(image.shape[0], height)
    rows = image[:, x0] * wx0 + image[:, x1] * wx1
    return rows[y0] * wy0[:, None] + rows[y1] * wy1[:, None]


def padded_sums(resized: np.ndarray, geometry: CanvasGeometry) -> np.ndarray:
    """A map on the content box, zero padded onto the canvas and summed per patch: float32 [G, G] (numpy's sums,
    computed in one compiled pass where `kernels.patch_sums` reproduces them)."""
    height, width = resized.shape
    cells, patch = geometry.cells, geometry.patch
    if patch <= kernels.PAIRWISE_BLOCK:
        out = np.empty((cells, cells), dtype=np.float32)
        image = np.asarray(resized, dtype=np.float32)
        return kernels.patch_sums(image, geometry.pad_top, geometry.pad_left, patch, out)
    canvas = np.zeros((geometry.canvas, geometry.canvas), dtype=np.float32)
    canvas[geometry.pad_top : geometry.pad_top + height, geometry.pad_left : geometry.pad_left + width] = resized
    return canvas.reshape(cells, patch, cells, patch).sum(axis=(1, 3))
