"""Per-frame motion signals of the ``robust`` profile: the motion-vector grid, camera-motion compensation and a
residual proxy (the default ``reference`` profile uses `reference` and `residual`;
it shares `compensate` for similarity / affine camera models).

The motion-vector grid has one cell per 8 x 8 pixels (the reference uses 4 x 4; 8 x 8 halves the analysis cost and
is still finer than a 16-px canvas patch): each exported vector covers the cells of its block with ``src - dst``
in pixels (``motion / motion_scale``, so sub-pel precision is kept). The reference uses L0 (past) vectors only;
here blocks that B-frames predict from the future alone (L1) keep their motion too. Intra blocks export nothing.

**The residual is an approximation.** Stock FFmpeg exposes no transform residual, so the proxy is the
motion-compensated difference ``|Y_t - Y_ref(x + mv)|`` with whole-pel shifts, sampled every 4 pixels. The vectors
do not say which reference frame they use, so every candidate (recent frames and anchors) is tried and each cell
keeps its best match; blocks without a past vector are shifted by the camera motion (the median vector). It misses
sub-pel interpolation, bi-prediction and intra residuals (codec.md §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CELL = 8  # pixels per motion-grid cell side
MOVING_MV = 0.5  # px: a compensated vector at least this long counts as motion (static detection)
MOVING_RESIDUAL = 8.0  # grey levels: a residual cell mean at least this high counts as change (static detection)


def grid_shape(height: int, width: int) -> tuple[int, int]:
    return -(-height // CELL), -(-width // CELL)


def _pick(vectors: np.ndarray | None, direction: str) -> np.ndarray | None:
    if vectors is None or len(vectors) == 0:
        return None
    picked = vectors[vectors["source"] < 0] if direction == "past" else vectors[vectors["source"] > 0]
    return picked if len(picked) else None


def _paint(vectors: np.ndarray | None, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flow, covered, median vector weighted by block area) of one set of vectors."""
    rows, cols = grid_shape(height, width)
    flow = np.zeros((rows * cols, 2), dtype=np.float32)
    covered = np.zeros(rows * cols, dtype=bool)
    if vectors is None:
        return flow.reshape(rows, cols, 2), covered.reshape(rows, cols), np.zeros(2, dtype=np.float32)
    scale = np.maximum(vectors["motion_scale"].astype(np.float32), 1.0)
    motion = np.stack([vectors["motion_x"] / scale, vectors["motion_y"] / scale], axis=1).astype(np.float32)
    widths = vectors["w"].astype(np.int64)
    heights = vectors["h"].astype(np.int64)
    left = (vectors["dst_x"].astype(np.int64) - widths // 2) // CELL
    top = (vectors["dst_y"].astype(np.int64) - heights // 2) // CELL
    for size in np.unique(widths * 256 + heights).tolist():
        block_w, block_h = divmod(size, 256)
        pick = widths * 256 + heights == size
        span_y = np.arange(max(1, block_h // CELL))[None, :, None]
        span_x = np.arange(max(1, block_w // CELL))[None, None, :]
        ys = np.clip(top[pick][:, None, None] + span_y, 0, rows - 1)
        xs = np.clip(left[pick][:, None, None] + span_x, 0, cols - 1)
        cells = (ys * cols + xs).reshape(len(ys), -1)
        flow[cells] = motion[pick][:, None, :]
        covered[cells] = True
    area = (np.maximum(widths, CELL) * np.maximum(heights, CELL)).astype(np.float64)
    median = np.array([_weighted_median(motion[:, 0], area), _weighted_median(motion[:, 1], area)], np.float32)
    return flow.reshape(rows, cols, 2), covered.reshape(rows, cols), median


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def camera_motion(flow: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """The frame's median vector over covered cells (zero without any): float32 [2]."""
    if not covered.any():
        return np.zeros(2, dtype=np.float32)
    return np.median(flow[covered], axis=0).astype(np.float32)


@dataclass
class MotionField:
    """One frame's motion: past (L0) and future (L1) vectors, camera-compensated magnitude, prediction shifts."""

    magnitude: np.ndarray  # float32 [Hg, Wg]: compensated |MV|, L0 where present, else L1, else 0
    prediction: np.ndarray  # float32 [Hg, Wg, 2]: shift into the past reference used by the residual proxy
    covered: np.ndarray  # bool [Hg, Wg]: any vector
    entering: np.ndarray  # bool [Hg, Wg]: border cells whose content the camera motion brings into view
    camera: np.ndarray  # float32 [2]: the frame's camera motion (area-weighted median L0 vector)
    along_camera: np.ndarray  # bool [Hg, Wg]: L0 vector = camera motion x 1/4..4 (maybe just another reference)


def motion_field(vectors: np.ndarray | None, height: int, width: int, compensation: str) -> MotionField:
    """Combine L0 and L1 vectors: L1-only blocks (B-frames) still show motion, and blocks without an L0 vector are
    predicted from the past reference at the camera motion rather than co-located."""
    past, past_covered, camera = _paint(_pick(vectors, "past"), height, width)
    future, future_covered, future_median = _paint(_pick(vectors, "future"), height, width)
    past_comp = compensate(past, past_covered, compensation, median=camera)
    future_comp = compensate(future, future_covered, compensation, median=future_median)
    magnitude = np.where(
        past_covered,
        np.hypot(past_comp[..., 0], past_comp[..., 1]),
        np.where(future_covered, np.hypot(future_comp[..., 0], future_comp[..., 1]), 0.0),
    ).astype(np.float32)
    prediction = np.where(past_covered[..., None], past, camera).astype(np.float32)
    return MotionField(
        magnitude=magnitude,
        prediction=prediction,
        covered=past_covered | future_covered,
        entering=entering_cells(camera, height, width),
        camera=camera,
        along_camera=along_camera(past, past_covered, camera),
    )


def along_camera(flow: np.ndarray, covered: np.ndarray, camera: np.ndarray, tolerance: float = 0.5) -> np.ndarray:
    """Covered cells whose vector is the camera motion scaled by 1/4 to 4 (what another reference frame of a
    panning camera produces), within ``tolerance`` px; none when the camera is still."""
    norm2 = float(camera @ camera)
    if norm2 < 0.25:
        return np.zeros(covered.shape, dtype=bool)
    scale = (flow @ camera) / norm2
    off_axis = np.linalg.norm(flow - scale[..., None] * camera, axis=-1)
    return covered & (off_axis <= tolerance) & (scale >= 0.25) & (scale <= 4.0)


def entering_cells(camera: np.ndarray, height: int, width: int, macroblock: int = 16) -> np.ndarray:
    """Cells of the macroblocks whose pixels, moved by the camera motion, would come from outside the reference.

    Their vectors and residuals describe content entering the view during a pan (encoders give such blocks
    arbitrary vectors, one per 16 x 16 macroblock), not salient motion, so the saliency ignores them.
    """
    rows, cols = grid_shape(height, width)
    dx, dy = float(camera[0]), float(camera[1])
    if dx == 0 and dy == 0:
        return np.zeros((rows, cols), dtype=bool)
    left = np.arange(0, width, macroblock)
    top = np.arange(0, height, macroblock)
    cols_out = (left + dx < 0) | (np.minimum(left + macroblock, width) - 1 + dx >= width)
    rows_out = (top + dy < 0) | (np.minimum(top + macroblock, height) - 1 + dy >= height)
    per_block = macroblock // CELL
    cols_out = np.repeat(cols_out, per_block)[:cols]
    rows_out = np.repeat(rows_out, per_block)[:rows]
    return rows_out[:, None] | cols_out[None, :]


def compensate(flow: np.ndarray, covered: np.ndarray, mode: str, median: np.ndarray | None = None) -> np.ndarray:
    """Remove camera motion from the covered vectors: ``median``, ``similarity``, ``affine`` or ``none``.

    Similarity and affine models are fitted robustly (least squares, refitted on the 70 % best-fitting cells);
    with fewer than 64 covered cells they fall back to the median. ``median`` may be passed in if known.
    """
    if mode == "none" or not covered.any():
        return flow
    if mode == "median" or covered.sum() < 64:
        shift = median if median is not None else camera_motion(flow, covered)
        return (flow - shift) * covered[..., None]
    points = flow[covered].astype(np.float64)
    rows, cols = covered.shape
    yy, xx = np.nonzero(covered)
    x = (xx + 0.5) / cols * 2 - 1
    y = (yy + 0.5) / rows * 2 - 1
    model = _robust_fit(x, y, points, mode)
    ys_all, xs_all = np.mgrid[0:rows, 0:cols]
    camera = model(((xs_all + 0.5) / cols * 2 - 1).ravel(), ((ys_all + 0.5) / rows * 2 - 1).ravel())
    camera = camera.reshape(rows, cols, 2).astype(np.float32)
    return np.where(covered[..., None], flow - camera, 0.0).astype(np.float32)


def _design(x: np.ndarray, y: np.ndarray, mode: str) -> np.ndarray:
    """Rows of the least-squares system for stacked (dx..., dy...) observations."""
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    if mode == "similarity":  # dx = tx + a x - b y ; dy = ty + b x + a y
        top = np.stack([ones, zeros, x, -y], axis=1)
        bottom = np.stack([zeros, ones, y, x], axis=1)
    else:  # affine: dx = a0 + a1 x + a2 y ; dy = b0 + b1 x + b2 y
        top = np.stack([ones, x, y, zeros, zeros, zeros], axis=1)
        bottom = np.stack([zeros, zeros, zeros, ones, x, y], axis=1)
    return np.concatenate([top, bottom], axis=0)


def _robust_fit(x: np.ndarray, y: np.ndarray, points: np.ndarray, mode: str, keep: float = 0.7, rounds: int = 2):
    """Least squares on up to 5000 points, refitted on the ``keep`` share with the smallest residuals."""
    if len(x) > 5000:
        step = -(-len(x) // 5000)
        x, y, points = x[::step], y[::step], points[::step]
    inliers = np.ones(len(x), dtype=bool)
    params = None
    for _ in range(rounds + 1):
        design = _design(x[inliers], y[inliers], mode)
        target = np.concatenate([points[inliers, 0], points[inliers, 1]])
        params, *_ = np.linalg.lstsq(design, target, rcond=None)
        predicted = (_design(x, y, mode) @ params).reshape(2, -1).T
        error = np.linalg.norm(points - predicted, axis=1)
        inliers = error <= np.quantile(error, keep)

    def model(xq: np.ndarray, yq: np.ndarray) -> np.ndarray:
        return (_design(xq, yq, mode) @ params).reshape(2, -1).T

    return model


def residual_proxy(luma: np.ndarray, references: list[np.ndarray], shift: np.ndarray, stride: int = 4) -> np.ndarray:
    """Mean ``|Y - Y_ref(x + shift)|`` per 8 x 8 cell (float32 [Hg, Wg]), the smallest over candidate references.

    The exported vectors do not say which frame they point to (B-frames, multi-reference streams), so every
    candidate (recent frames and anchors) is tried and each cell keeps its best match, as the encoder did.
    Pixels are sampled every ``stride`` pixels. Pixels whose prediction would come from outside the reference frame
    (content entering the view during a pan) are left out. Zeros without any reference.
    """
    height, width = luma.shape
    rows, cols = grid_shape(height, width)
    references = [ref for ref in references if ref is not None and ref.shape == luma.shape]
    if not references:
        return np.zeros((rows, cols), dtype=np.float32)
    whole = np.rint(shift).astype(np.int32)
    sub = CELL // stride
    shift_x = np.repeat(np.repeat(whole[..., 0], sub, axis=0), sub, axis=1)
    shift_y = np.repeat(np.repeat(whole[..., 1], sub, axis=0), sub, axis=1)
    base_y, base_x = _sample_grid(height, width, stride)
    shift_x, shift_y = shift_x[: base_y.shape[0], : base_y.shape[1]], shift_y[: base_y.shape[0], : base_y.shape[1]]
    src_y = base_y + shift_y
    src_x = base_x + shift_x
    inside = (src_y >= 0) & (src_y < height) & (src_x >= 0) & (src_x < width)
    flat = np.clip(src_y, 0, height - 1) * width + np.clip(src_x, 0, width - 1)
    outside = ~inside
    current = luma[base_y, base_x]
    best = None
    for reference in references:
        predicted = reference.ravel().take(flat)
        diff = np.maximum(current, predicted) - np.minimum(current, predicted)  # |a - b| without widening
        diff[outside] = 0
        cells = block_mean(diff, sub)
        best = cells if best is None else np.minimum(best, cells)
    return best[:rows, :cols]


@lru_cache(maxsize=8)
def _sample_grid(height: int, width: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates sampled every ``stride`` pixels: int32 [ceil(H/s), ceil(W/s)] each."""
    return np.mgrid[0:height:stride, 0:width:stride].astype(np.int32)


def block_mean(values: np.ndarray, cell: int) -> np.ndarray:
    """Mean over ``cell`` x ``cell`` blocks (float32); partial border blocks average only their real pixels."""
    height, width = values.shape
    rows, cols = -(-height // cell), -(-width // cell)
    if rows * cell != height or cols * cell != width:
        padded = np.zeros((rows * cell, cols * cell), dtype=values.dtype)
        padded[:height, :width] = values
        values = padded
    sums = values.reshape(rows, cell, cols * cell).sum(axis=1, dtype=np.float32)
    sums = sums.reshape(rows, cols, cell).sum(axis=2)
    return sums / _block_counts(height, width, cell)


@lru_cache(maxsize=16)
def _block_counts(height: int, width: int, cell: int) -> np.ndarray:
    rows, cols = -(-height // cell), -(-width // cell)
    count_y = np.minimum(cell, height - np.arange(rows) * cell).astype(np.float32)
    count_x = np.minimum(cell, width - np.arange(cols) * cell).astype(np.float32)
    return np.outer(count_y, count_x)
