"""Writing RGB frames as a real encoded video (synthetic data, the demo world and the tests all use this)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def encode_frames(
    path: str | Path,
    frames: list[np.ndarray],
    encoder: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict | None = None,
    fps: int = 24,
    container_options: dict | None = None,
) -> Path:
    """Encode RGB uint8 frames [H, W, 3] with any PyAV encoder and pixel format (the container's own time base)."""
    if not frames:
        raise ValueError(f"{path}: no frames to encode")
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w", options=dict(container_options or {})) as container:
        stream = container.add_stream(encoder, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = dict(options or {})
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)
