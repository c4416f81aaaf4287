"""Tiny synthetic media made by the tests themselves: real encoded videos (PyAV encoders) with known ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ov_vlm.media import encode_frames

ENCODERS = {
    "h264": ("libx264", {"preset": "veryfast"}),
    "h264_nob": ("libx264", {"preset": "veryfast", "bf": "0", "x264-params": "ref=1"}),
    "mpeg4": ("mpeg4", {"qscale": "3", "bf": "2"}),
    "mpeg4_nob": ("mpeg4", {"qscale": "3", "bf": "0"}),
    "hevc": ("libx265", {"preset": "veryfast", "x265-params": "bframes=2:log-level=error"}),
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8"}),
}


def texture(height: int, width: int, seed: int = 0, block: int = 4) -> np.ndarray:
    """A static, blocky colour texture (gives the encoder something to match)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 200, (-(-height // block), -(-width // block), 3), dtype=np.uint8)
    return np.ascontiguousarray(coarse.repeat(block, 0).repeat(block, 1)[:height, :width])


def write_video(path: Path, frames: list[np.ndarray], codec: str = "h264", fps: int = 16, faststart: bool = False):
    """Encode RGB uint8 frames [H, W, 3] to ``path`` with one of `ENCODERS`."""
    name, options = ENCODERS[codec]
    container_options = {"movflags": "faststart"} if faststart else {}
    return encode_frames(path, frames, name, "yuv420p", options, fps=fps, container_options=container_options)


@dataclass
class Clip:
    path: Path
    boxes: list[tuple[int, int, int, int]]  # object (x0, y0, x1, y1) per frame, frame coordinates
    frames: list[np.ndarray]


def moving_object_clip(
    path: Path,
    codec: str = "h264",
    count: int = 64,
    size: tuple[int, int] = (224, 224),
    side: int = 32,
    start: tuple[int, int] = (24, 40),
    velocity: tuple[int, int] = (2, 1),
    pan: tuple[int, int] = (0, 0),
    seed: int = 0,
) -> Clip:
    """A bright square with a pattern moving over a static (or panning) textured background."""
    height, width = size
    margin_x, margin_y = abs(pan[0]) * count + 1, abs(pan[1]) * count + 1
    background = texture(height + margin_y, width + margin_x, seed)
    sprite = np.full((side, side, 3), 250, dtype=np.uint8)
    sprite[side // 4 : side // 2, side // 4 : 3 * side // 4] = (250, 40, 40)
    frames, boxes = [], []
    for i in range(count):
        ox = margin_x // 2 + pan[0] * i - (margin_x // 2 if pan[0] > 0 else 0)
        oy = margin_y // 2 + pan[1] * i - (margin_y // 2 if pan[1] > 0 else 0)
        frame = background[oy : oy + height, ox : ox + width].copy()
        x0, y0 = start[0] + velocity[0] * i, start[1] + velocity[1] * i
        frame[y0 : y0 + side, x0 : x0 + side] = sprite
        frames.append(frame)
        boxes.append((x0, y0, x0 + side, y0 + side))
    write_video(path, frames, codec)
    return Clip(path, boxes, frames)


def static_clip(path: Path, count: int = 64, size: tuple[int, int] = (224, 224), codec: str = "h264") -> Clip:
    frame = texture(*size, seed=3)
    frames = [frame] * count
    write_video(path, frames, codec)
    return Clip(path, [], frames)


def cells_touching(box: tuple[int, int, int, int], patch: int, cells: int) -> set[tuple[int, int]]:
    """Canvas cells (h, w) that a box (canvas pixels, identity letterbox) overlaps."""
    x0, y0, x1, y1 = box
    rows = range(max(0, y0 // patch), min(cells, -(-y1 // patch)))
    cols = range(max(0, x0 // patch), min(cells, -(-x1 // patch)))
    return {(r, c) for r in rows for c in cols}


def audio_only(path: Path) -> Path:
    """An MP4 with one AAC audio stream and no video."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for _ in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
