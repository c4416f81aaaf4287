"""Codec selection cost, measured side by side in one run on clips generated here (H.264, libx264 veryfast).

(a) bare PyAV decode of the whole video, (b) full selection (decode + MVs + residual proxy + scores + top-K, i.e.
``select_patches`` minus packing), (c) packing (mosaics + positions + writing the folder); all on 1 thread.
Then the peak RSS of (b) on a long clip, and the batch CLI's videos/s with 1 and 2 workers.

    python benchmarks/codec_speed.py                 # 20/60/180 s 576p clips, a 10 min 720p clip, batch (~12 min)
    python benchmarks/codec_speed.py --quick         # 20 s clip, 2 min RSS clip, small batch
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from ov_vlm.codec import CodecSettings, select_patches
from ov_vlm.codec.batch import run_batch
from ov_vlm.codec.packing import pack


def natural_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Multi-scale colour noise (blobs, details and grain), closer to real footage than flat blocks."""
    from PIL import Image

    layers = np.zeros((height, width, 3), dtype=np.float32)
    for scale, weight in ((96, 0.4), (24, 0.25), (6, 0.15), (2, 0.1), (1, 0.1)):
        small = rng.uniform(0, 255, (max(2, height // scale), max(2, width // scale), 3)).astype(np.uint8)
        layers += weight * np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC))
    return layers.clip(0, 255).astype(np.uint8)


def make_clip(
    path: Path, seconds: float, fps: int, width: int, height: int, seed: int = 0, keyint: int | None = None
) -> Path:
    """A slowly panning natural-looking scene with three moving textured objects and sensor noise, encoded with
    libx264 veryfast (B-frames on), so that its bitrate and decode speed are in the range of real footage;
    ``keyint``: frames between IDR pictures (x264's default 250 without)."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * fps)
    world = natural_texture(rng, height, width + frames)  # pans by 1 px per frame
    sprites = [natural_texture(rng, 90, 90) for _ in range(3)]
    grain = rng.integers(0, 14, (8, height, width, 1), dtype=np.uint8)  # a small bank of sensor-noise frames
    objects = [
        (rng.integers(0, width - 90), rng.integers(0, height - 90), rng.integers(-4, 5), rng.integers(-3, 4))
        for _ in range(3)
    ]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", **({"g": str(keyint)} if keyint else {})}
        for i in range(frames):
            frame = world[:, i : i + width].copy()
            for (x, y, vx, vy), sprite in zip(objects, sprites, strict=True):
                px = int((x + vx * i) % (width - 90))
                py = int((y + vy * i) % (height - 90))
                frame[py : py + 90, px : px + 90] = sprite
            frame = np.minimum(frame.astype(np.uint16) + grain[i % len(grain)], 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def bare_decode(path: Path) -> float:
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - start


def selection_and_packing(path: Path, out: Path) -> tuple[float, float, object]:
    """(b) seconds without packing, (c) packing seconds (mosaics + positions + saving the folder)."""
    start = time.perf_counter()
    selection = select_patches(path, threads=1)
    total = time.perf_counter() - start
    start = time.perf_counter()
    kept = np.column_stack(
        [np.searchsorted(selection.meta["t_slots"], selection.selection_order[:, 0]), selection.selection_order[:, 1:]]
    )
    pack(kept, selection.frames, 16, 1)
    pack_seconds = time.perf_counter() - start
    start = time.perf_counter()
    selection.save(out)
    save_seconds = time.perf_counter() - start
    return total - pack_seconds, pack_seconds + save_seconds, selection


RSS_CODE = """
import re, sys, time
mode, path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if mode == "decode":
    import av
    with av.open(path) as c:
        s = c.streams.video[0]; s.thread_type = "NONE"
        n = sum(1 for _ in c.decode(s))
else:
    from ov_vlm.codec import select_patches
    n = select_patches(path, threads=1).meta["video"]["num_frames"]
elapsed = time.perf_counter() - start
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))  # this process only
print(peak_kb / 1024, n, elapsed)
"""


def peak_rss(mode: str, path: Path) -> tuple[float, int, float]:
    out = subprocess.run([sys.executable, "-c", RSS_CODE, mode, str(path)], capture_output=True, text=True, check=True)
    rss, frames, seconds = out.stdout.split()
    return float(rss), int(frames), float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lengths, long_seconds, batch_count = ((20,), 120, 4) if args.quick else ((20, 60, 180), 600, 8)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["576p"] = []
        print(f"576p H.264 clips (1024x576, 30 fps), 1 thread, median of {args.repeats}")
        print(
            f"  {'length':>7} {'frames':>7} {'(a) decode':>11} {'(b) select':>11} {'(b)/(a)':>8} {'(c) pack':>9}",
            flush=True,
        )
        for length in lengths:
            clip = make_clip(tmp / f"clip576_{length}.mp4", length, 30, 1024, 576)
            bare, full, packing = [], [], []
            for _ in range(args.repeats):  # interleaved so that machine noise hits both alike
                bare.append(bare_decode(clip))
                b, c, selection = selection_and_packing(clip, tmp / "out")
                full.append(b)
                packing.append(c)
            a, b, c = statistics.median(bare), statistics.median(full), statistics.median(packing)
            frames = selection.meta["video"]["num_frames"]
            mbps = clip.stat().st_size * 8 / length / 1e6
            print(f"  {length:>6}s {frames:>7} {a:>10.2f}s {b:>10.2f}s {b / a:>8.2f} {c:>8.2f}s   ({mbps:.1f} Mbit/s)")
            results["576p"].append(
                {"seconds": length, "frames": frames, "mbps": mbps, "bare_s": a, "selection_s": b, "pack_s": c}
            )
            clip.unlink()

        long_clip = make_clip(tmp / "clip720.mp4", long_seconds, 30, 1280, 720, seed=1)
        decode_rss, long_frames, decode_s = peak_rss("decode", long_clip)
        select_rss, _, select_s = peak_rss("select", long_clip)
        print(f"720p H.264 clip: {long_frames} frames ({long_seconds / 60:.0f} min), 1 thread, peak RSS of the process")
        print(f"  bare decode               {decode_rss:7.0f} MB  in {decode_s:6.1f} s")
        print(
            f"  selection                 {select_rss:7.0f} MB  in {select_s:6.1f} s  (single runs: times indicative)"
        )
        results["720p_long"] = {
            "frames": long_frames,
            "decode_rss_mb": decode_rss,
            "select_rss_mb": select_rss,
            "decode_s": decode_s,
            "select_s": select_s,
        }
        long_clip.unlink()

        videos = [make_clip(tmp / f"batch{i}.mp4", 10, 30, 640, 360, seed=10 + i) for i in range(batch_count)]
        rates = {}
        for workers in (1, 2):
            report = run_batch(videos, tmp / f"batch_out{workers}", CodecSettings(), workers=workers, progress=False)
            rates[workers] = report.count("done") / report.seconds
        print(
            f"batch CLI: {batch_count} clips of 10 s at 360p: {rates[1]:.2f} videos/s with 1 worker, "
            f"{rates[2]:.2f} videos/s with 2 workers ({rates[2] / rates[1]:.2f}x)"
        )
        results["batch"] = {"videos": batch_count, "videos_per_s_1": rates[1], "videos_per_s_2": rates[2]}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
