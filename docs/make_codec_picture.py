"""Regenerate docs/images/codec_selection.png: a synthetic clip (textured scene, slow pan, two moving objects)
through ``ov-vlm codec --viz``.

    python docs/make_codec_picture.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np

OUT = Path(__file__).parent / "images" / "codec_selection.png"


def make_clip(path: Path, frames: int = 160, width: int = 640, height: int = 360) -> None:
    rng = np.random.default_rng(7)
    scene = rng.integers(60, 200, (height // 10 + 2, (width + frames) // 10 + 2, 3), dtype=np.uint8)
    scene = scene.repeat(10, 0).repeat(10, 1)
    yy, xx = np.mgrid[0:40, 0:40]
    ball = (yy - 20) ** 2 + (xx - 20) ** 2 < 400
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = scene[:height, i // 2 : i // 2 + width].copy()  # slow pan
            x, y = 40 + 3 * i, 100 + int(70 * np.sin(i / 15))  # a bouncing red ball
            frame[y : y + 40, x : x + 40][ball] = (230, 40, 40)
            frame[250:290, width - 60 - 2 * i : width - 2 * i] = (250, 250, 250)  # a white box moving left
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "demo_clip.mp4"
        make_clip(clip)
        out = Path(tmp) / "codec_out"
        command = [sys.executable, "-m", "ov_vlm.cli.main", "codec", str(clip), "--out", str(out), "--viz", "--quiet"]
        subprocess.run(command, check=True)
        picture = next(out.glob("*/selection.png"))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(picture, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
