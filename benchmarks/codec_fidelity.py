"""Recall of a reference pipeline's codec picks: ``python benchmarks/codec_fidelity.py REF_DIR... [--ablation]``.

Each REF_DIR holds one clip processed by the reference (layout of ``tests/data/reference-codec``): the video
(``*.mp4``), ``stage1_visidx_thw.npy`` (its picks, mandatory t = 0 first), and optionally ``stage1_signals.npz``
(``residual_luma``) and ``stage1_patch_scores.npy`` for signal-level correlations. Recall = |ours ∩ ref| / |ref| over
the non-mandatory rows (t >= 1). ``--ablation`` also switches each ingredient of the residual estimate off.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ov_vlm.codec import CodecSettings, select_patches
from ov_vlm.codec.residual import ResidualOptions

VARIANTS = {
    "default (all ingredients)": ({}, None),
    "motion vectors only": ({"residual_weight": 0.0}, None),
    "- sub-pel interpolation": ({}, ResidualOptions(subpel=False)),
    "- reference choice (previous anchor only)": ({}, ResidualOptions(references=1)),
    "- drift (every block 128 + error)": ({}, ResidualOptions(drift=False)),
    "- red/blue swap (plain Y)": ({}, ResidualOptions(swap=False)),
    "- implicit bi-prediction weights (plain average)": ({}, ResidualOptions(weighted=False)),
    "robust profile (before)": ({"profile": "robust"}, None),
}


def picks(rows: np.ndarray) -> set[tuple[int, int, int]]:
    return {tuple(row) for row in rows[rows[:, 0] >= 1].tolist()}


def recall(ours: np.ndarray, reference: np.ndarray) -> float:
    ref = picks(reference)
    return len(picks(ours) & ref) / max(1, len(ref))


def patch_correlation(scores: np.ndarray, folder: Path) -> float | None:
    path = folder / "stage1_patch_scores.npy"
    if not path.is_file():
        return None
    theirs = np.load(path)
    return float(np.corrcoef(scores[1:].ravel(), theirs[1:].ravel())[0, 1])


def measure(folder: Path, overrides: dict, options: ResidualOptions | None) -> dict:
    video = next(p for p in sorted(folder.iterdir()) if p.suffix.lower() in {".mp4", ".mkv", ".mov", ".webm"})
    settings = CodecSettings(threads=1).replace(**overrides)
    started = time.perf_counter()
    selection = select_patches(video, settings, residual_options=options)
    seconds = time.perf_counter() - started
    reference = np.load(folder / "stage1_visidx_thw.npy")
    return {
        "recall": recall(selection.selection_order, reference),
        "patch_corr": patch_correlation(selection.scores, folder),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--ablation", action="store_true", help="also measure each ingredient switched off")
    args = parser.parse_args()
    variants = VARIANTS if args.ablation else dict(list(VARIANTS.items())[:1])
    print("| clip | variant | recall | patch-score corr | seconds |")
    print("|---|---|---|---|---|")
    for folder in args.folders:
        for name, (overrides, options) in variants.items():
            row = measure(folder, overrides, options)
            corr = "-" if row["patch_corr"] is None else f"{row['patch_corr']:.3f}"
            print(f"| {folder.name} | {name} | {row['recall']:.4f} | {corr} | {row['seconds']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
