"""Top-K selection of salient patches over the sampled frames (codec.md §2.7, plus the documented extensions).

Units are single patches (``block=1``) or 2 x 2 blocks (``block=2``). The first sampled frame may be kept whole
(reference); padding cells (outside the content box) score just below zero, so they are taken only when content
runs out; frame slots that repeat an earlier frame id (clips shorter than ``frames``) are never selected again.
The rest comes from one global top-K (reference) or an equal share per contiguous time bucket. A static clip
(no motion evidence) falls back to uniformly spaced whole frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .settings import MAX_AUTO_RATIO, MIN_AUTO_RATIO, CodecSettings

PADDING_SCORE = -1e-4


@dataclass
class Selection:
    """Kept cells as (t, h, w) in selection order: mandatory first frame, fallback frames, then by falling score."""

    kept: np.ndarray  # int64 [K, 3], t = sampled-frame index
    budget: int  # K asked for (after resolving ratio / auto and block rounding)
    mandatory: int  # leading rows from the kept first frame
    fallback_frames: list[int] = field(default_factory=list)
    repeated_units: int = 0  # block=2 only: units repeated to complete the last mosaic


def unit_scores(scores: np.ndarray, valid: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and validity on the unit grid (sums over 2 x 2 blocks when ``block=2``)."""
    if block == 1:
        return scores, valid
    frames, cells, _ = scores.shape
    half = cells // 2
    summed = scores.reshape(frames, half, 2, half, 2).sum(axis=(2, 4))
    return summed, valid.reshape(half, 2, half, 2).all(axis=(1, 3))


def resolve_budget(settings: CodecSettings, candidate_scores: np.ndarray, mandatory: int) -> int:
    """K in patches: the fixed budget, or for ``"auto"`` the smallest K covering ``auto_mass`` of the saliency."""
    fixed = settings.fixed_budget()
    if fixed is not None:
        return fixed
    total = settings.total_cells
    low, high = math.ceil(MIN_AUTO_RATIO * total), math.floor(MAX_AUTO_RATIO * total)
    values = np.sort(np.clip(candidate_scores[np.isfinite(candidate_scores)], 0, None))[::-1]
    mass = float(values.sum())
    extra = 0
    if mass > 0:
        extra = int(np.searchsorted(np.cumsum(values), settings.auto_mass * mass) + 1)
    unit = settings.block**2
    k = int(np.clip(mandatory + extra * unit, low, high))
    return settings.round_to_blocks(k)


def select(
    scores: np.ndarray, valid: np.ndarray, distinct: np.ndarray, settings: CodecSettings, static: bool
) -> Selection:
    """Choose the kept cells. ``scores`` float [T, G, G]; ``valid`` bool [G, G]; ``distinct`` bool [T]."""
    block = settings.block
    unit = block * block
    units, valid_units = unit_scores(scores.astype(np.float64), valid, block)
    side = units.shape[1]
    per_frame = side * side

    # a fully salient cell sums to patch * patch; below min_saliency of that it is background noise
    noise = settings.min_saliency * settings.patch * settings.patch * unit
    candidates = np.where(valid_units[None], np.where(units >= noise, units, 0.0), PADDING_SCORE)
    candidates[~distinct] = -np.inf
    mandatory_units = np.empty((0, 3), dtype=np.int64)
    if settings.first_frame == "full":
        candidates[0] = -np.inf
        hh, ww = np.divmod(np.arange(per_frame), side)
        mandatory_units = np.stack([np.zeros(per_frame, dtype=np.int64), hh, ww], axis=1)

    budget = resolve_budget(settings, candidates, len(mandatory_units) * unit)
    budget_units = budget // unit
    remaining = budget_units - len(mandatory_units)
    if remaining < 0:
        raise ValueError(
            f"budget K={budget} is smaller than the kept first frame ({len(mandatory_units) * unit} patches); "
            "raise the budget or use first_frame='none'"
        )
    remaining = min(remaining, int(np.isfinite(candidates).sum()))

    chosen: list[np.ndarray] = [mandatory_units]
    fallback_frames: list[int] = []
    if static and settings.static_fallback and remaining >= per_frame:
        fallback_frames = _uniform_frames(candidates, remaining // per_frame)
        for t in fallback_frames:
            hh, ww = np.divmod(np.arange(per_frame), side)
            chosen.append(np.stack([np.full(per_frame, t), hh, ww], axis=1))
            candidates[t] = -np.inf
        remaining -= len(fallback_frames) * per_frame

    if remaining > 0:
        if settings.topk == "bucket":
            picked = _bucket_topk(candidates, remaining, _bucket_count(settings, fallback_frames))
        else:
            picked = _global_topk(candidates, remaining)
        chosen.append(np.stack(np.unravel_index(picked, candidates.shape), axis=1))

    kept_units = np.concatenate(chosen).astype(np.int64)
    repeated = 0
    if block == 2 and len(kept_units) % per_frame:
        repeated = per_frame - len(kept_units) % per_frame
        kept_units = np.concatenate([kept_units, np.repeat(kept_units[-1:], repeated, axis=0)])
    kept = _expand_units(kept_units, block)
    return Selection(
        kept=kept,
        budget=budget,
        mandatory=len(mandatory_units) * unit,
        fallback_frames=fallback_frames,
        repeated_units=repeated,
    )


def spread_ranks(count: int) -> np.ndarray:
    """Rank of each of ``count`` frames in bit-reversed order (0, mid, quarters, ...): any prefix is spread out."""
    bits = max(1, (count - 1).bit_length())
    reversed_ids = [int(format(i, f"0{bits}b")[::-1], 2) for i in range(1 << bits)]
    order = [i for i in reversed_ids if i < count]
    ranks = np.empty(count, dtype=np.int64)
    ranks[order] = np.arange(count)
    return ranks


def _order(values: np.ndarray, limit: int) -> np.ndarray:
    """Flat indices of the ``limit`` highest finite values (all, where fewer are finite), highest first.

    Ties (above all the many zero-saliency cells once motion runs out) are broken frame by frame in a spread-out
    frame order, raster within a frame: leftover budget becomes whole, evenly spaced frames of context instead of
    the first frames of the clip. Only the values at or above the ``limit``-th highest are sorted (the same
    prefix as sorting them all).
    """
    frames = values.shape[0]
    per_frame = values[0].size
    flat = values.ravel()
    finite = np.nonzero(np.isfinite(flat))[0]
    if limit <= 0:
        return finite[:0]
    if limit < len(finite):
        kept = flat[finite]
        finite = finite[kept >= np.partition(kept, len(kept) - limit)[len(kept) - limit]]
    frame_rank = spread_ranks(frames)[finite // per_frame]
    return finite[np.lexsort((finite % per_frame, frame_rank, -flat[finite]))][:limit]


def _global_topk(candidates: np.ndarray, count: int) -> np.ndarray:
    return _order(candidates, count)


def _bucket_count(settings: CodecSettings, fallback_frames: list[int]) -> int:
    if settings.buckets is not None:
        return settings.buckets
    budget = settings.fixed_budget() or settings.mosaics * settings.cells_per_frame
    mosaics = math.ceil(budget / settings.cells_per_frame)
    return max(1, mosaics - (1 if settings.first_frame == "full" else 0) - len(fallback_frames))


def _bucket_topk(candidates: np.ndarray, count: int, buckets: int) -> np.ndarray:
    """Equal shares for contiguous time buckets over the frames that still have candidates; leftovers go global."""
    frames_with = [t for t in range(candidates.shape[0]) if np.isfinite(candidates[t]).any()]
    buckets = max(1, min(buckets, len(frames_with)))
    groups = np.array_split(np.array(frames_with, dtype=np.int64), buckets)
    quotas = [count // buckets + (1 if i < count % buckets else 0) for i in range(buckets)]
    per_frame = candidates[0].size
    picked: list[np.ndarray] = []
    for group, quota in zip(groups, quotas, strict=True):
        order = _order(candidates[group], quota)
        t_local, rest = np.divmod(order, per_frame)
        picked.append(group[t_local] * per_frame + rest)
    taken = np.concatenate(picked) if picked else np.empty(0, dtype=np.int64)
    if len(taken) < count:
        leftover = candidates.copy().ravel()
        leftover[taken] = -np.inf
        taken = np.concatenate([taken, _order(leftover.reshape(candidates.shape), count - len(taken))])
    return taken


def _uniform_frames(candidates: np.ndarray, count: int) -> list[int]:
    """``count`` whole frames spread evenly over the clip (t = 21, 42, 63 after a kept t = 0 for 3 of 64), each
    snapped to the nearest frame that is still fully open (not kept already, not a repeated frame id)."""
    frames = candidates.shape[0]
    open_frames = [t for t in range(frames) if np.isfinite(candidates[t]).all()]
    if not open_frames or count <= 0:
        return []
    count = min(count, len(open_frames))
    first_taken = not np.isfinite(candidates[0]).all()
    targets = np.linspace(0, frames - 1, count + int(first_taken))[int(first_taken) :]
    chosen: list[int] = []
    for target in targets:
        free = [t for t in open_frames if t not in chosen]
        chosen.append(min(free, key=lambda t: (abs(t - target), t)))
    return sorted(chosen)


def _expand_units(units: np.ndarray, block: int) -> np.ndarray:
    """(t, bh, bw) units -> (t, h, w) patches; a 2 x 2 block expands to its 4 patches in raster order."""
    if block == 1:
        return units
    offsets = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    t = np.repeat(units[:, 0], 4)
    h = (units[:, 1:2] * 2 + offsets[None, :, 0]).ravel()
    w = (units[:, 2:3] * 2 + offsets[None, :, 1]).ravel()
    return np.stack([t, h, w], axis=1)
