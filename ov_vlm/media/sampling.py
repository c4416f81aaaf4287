"""Which frames of a video are read, and where they sit on the RoPE time grid: the one definition of both."""

from __future__ import annotations

import numpy as np

TIME_SLOTS = 64  # the reference's RoPE time grid (codec.md §2.8)


def sample_frame_ids(num_frames: int, count: int) -> np.ndarray:
    """``floor(linspace(0, N - 1, count))`` over the whole video; short videos repeat ids."""
    return np.floor(np.linspace(0, num_frames - 1, count)).astype(np.int64)


def time_slots(count: int, grid: int = TIME_SLOTS) -> np.ndarray:
    """Time slot of each of ``count`` sampled frames: ``floor(linspace(0, grid - 1, count))`` (the identity for
    ``count == grid``; a grid smaller than ``count`` grows to ``count`` so that frames never share a slot)."""
    return np.floor(np.linspace(0, max(grid, count) - 1, count)).astype(np.int64)
