"""Uniform frame sampling from a video with PyAV (frames mode): streaming decode, only the sampled frames are
converted (unsampled non-reference B-pictures, and what an IDR period holds after its last sample, are not decoded at
all)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import VideoError
from .sampling import sample_frame_ids
from .sparse import SparseDecodeError
from .video import VideoSource


def read_frames(path: str | Path, count: int, threads: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` RGB frames (uint8 [H, W, 3]) at `sample_frame_ids` over the whole video, and those ids.

    Short videos repeat frames. Raises `VideoError` with one line naming the file and the reason.
    """
    with VideoSource(path, threads=threads, transcode=False) as source:
        frame_ids = sample_frame_ids(source.info.num_frames, count)
        wanted = {int(i) for i in frame_ids}
        try:  # sparse: unsampled non-reference B-pictures and IDR periods past their last sample are not decoded
            decoded = _decode_wanted(source, wanted, wanted.__contains__)
        except SparseDecodeError:  # timestamps that cannot vouch for it: decode every frame
            decoded = _decode_wanted(source, wanted, None)
    if not decoded:
        raise VideoError(path, "no decodable video frames")
    available = sorted(decoded)
    # a stream shorter than its index promised: the missing slots reuse the nearest earlier decoded frame
    frames = [decoded[max((i for i in available if i <= fid), default=available[0])] for fid in frame_ids.tolist()]
    return frames, frame_ids


def _decode_wanted(
    source: VideoSource, wanted: set[int], needed: Callable[[int], bool] | None
) -> dict[int, np.ndarray]:
    """The ``wanted`` frames that decode, by index, up to the last of them (`VideoSource.indexed_frames`)."""
    last_wanted = max(wanted)
    decoded: dict[int, np.ndarray] = {}
    for index, frame in source.indexed_frames(needed, export_mvs=False, wanted=wanted):
        if index in wanted:
            decoded[index] = frame.to_ndarray(format="rgb24")
        if index >= last_wanted:
            break
    return decoded
