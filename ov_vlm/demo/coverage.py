"""Is the moving shape in the codec tokens? For single-mover clips of a motion world: the share of the selected
(non-mandatory) patches that show the mover, and in how many of its moving frames at least one patch does. A check
that the world stays answerable in codec mode when the selection changes (``python -m ov_vlm.demo.coverage DIR``).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from .world import DIRECTIONS


def mover_cells(truth: dict, mover: dict, frame: int, cell: int) -> set[tuple[int, int]]:
    """Canvas cells (h, w) the mover overlaps in ``frame`` (the canvas is the frame: square clips, no letterbox)."""
    moving = max(0, min(frame, mover["stop"]) - mover["start"])
    dx, dy = DIRECTIONS[mover["direction"]]
    x = round(mover["x"] + dx * mover["speed"] * moving - round(truth["pan"] * frame))
    y = round(mover["y"] + dy * mover["speed"] * moving)
    side, cells = truth["side"], truth["size"] // cell
    return {
        (h, w)
        for h in range(cells)
        for w in range(cells)
        if y < cell * (h + 1) and y + side > cell * h and x < cell * (w + 1) and x + side > cell * w
    }


def clip_coverage(selection, truth: dict, cell: int) -> dict[str, float]:
    """Mover share of the selected patches after the first frame, and frames with / frames of motion."""
    (mover,) = truth["movers"]
    ids = selection.frame_ids
    order = selection.selection_order
    later = [(int(t), int(h), int(w)) for t, h, w in order if t > 0]
    hits = [k for k in later if (k[1], k[2]) in mover_cells(truth, mover, int(ids[k[0]]), cell)]
    moving = [t for t in range(1, len(ids)) if ids[t] != ids[t - 1] and mover["start"] < ids[t] <= mover["stop"]]
    return {
        "share": len(hits) / max(1, len(later)),
        "frames_with_mover": len({t for t, _, _ in hits}),
        "moving_frames": len(moving),
    }


def world_coverage(world: Path, settings, limit: int = 60) -> dict[str, dict[str, float]]:
    """Mean coverage over up to ``limit`` single-mover training clips, split by stopping / not, and water clips."""
    from ov_vlm.codec.pipeline import select_patches

    records = [json.loads(line) for line in (world / "train.jsonl").read_text().splitlines()]
    clips = [r for r in records if "video" in r and len(r["truth"]["movers"]) == 1][:limit]
    rows = []
    for record in clips:
        truth = record["truth"]
        stats = clip_coverage(select_patches(world / record["video"], settings), truth, settings.patch)
        stops = truth["movers"][0]["stop"] < truth["frames"]
        rows.append((("stops" if stops else "keeps moving"), truth["water"], stats))
    groups = {
        "keeps moving": [s for g, _, s in rows if g == "keeps moving"],
        "stops": [s for g, _, s in rows if g == "stops"],
        "water band": [s for _, water, s in rows if water],
    }
    return {
        name: {key: statistics.fmean(s[key] for s in stats) for key in stats[0]} | {"clips": len(stats)}
        for name, stats in groups.items()
        if stats
    }


def main(argv: list[str]) -> int:
    from .pipeline import codec_settings

    for name, stats in world_coverage(Path(argv[0]), codec_settings()).items():
        print(f"{name:>13}: " + ", ".join(f"{k} {v:.2f}" for k, v in stats.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
