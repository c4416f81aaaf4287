"""Is the answer in the visual tokens? A hand-made reader (no learning) of exactly the pixels and (t, h, w) positions
the demo model receives: per token, the pixels of each world colour; per colour, the centroid of its tokens over time.
The colour whose centroid moves most is the mover; its slope gives the direction; a centroid that stays put late in
the clip, or tokens that end early (codec selections stop spending patches on a shape at rest), say it stops.

``python -m ov_vlm.demo.probe runs/demo`` prints the reader's accuracy on the single-mover held-out clips per mode.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .world import COLORS

NAMES = list(COLORS)
REFERENCE = np.array([COLORS[c] for c in NAMES], dtype=float)


def colour_counts(visual, patch: int) -> list[tuple[int, int, int, np.ndarray]]:
    """(t, h, w, pixels of each world colour) for every token of a video `Visual` (mosaics or frames)."""
    from ov_vlm.processing.image import CLIP_MEAN, CLIP_STD

    pixels = visual.pixel_values.float().numpy()
    pixels = pixels * np.array(CLIP_STD)[:, None, None, None] + np.array(CLIP_MEAN)[:, None, None, None]
    pixels = (pixels * 255).transpose(1, 2, 3, 0)  # [T, H, W, C]
    cells = pixels.shape[2] // patch
    tokens = []
    for k, (t, h, w) in enumerate(visual.positions.tolist()):
        image, cell = divmod(k, cells * cells)
        row, col = divmod(cell, cells)
        block = pixels[image, row * patch : (row + 1) * patch, col * patch : (col + 1) * patch]
        distance = np.abs(block[:, :, None, :] - REFERENCE[None, None]).sum(-1)
        nearest = (distance < 90) & (distance == distance.min(-1, keepdims=True))
        tokens.append((t, h, w, nearest.sum((0, 1))))
    return tokens


def read_tokens(tokens: list[tuple[int, int, int, np.ndarray]], last: int = 63, least: int = 6) -> dict[str, str]:
    """The reader's colour, direction and "stops" answers from `colour_counts` (``last``: the final time slot)."""
    best = None
    for c in range(len(NAMES)):
        points = [(t, h, w, n[c]) for t, h, w, n in tokens if n[c] >= least]
        times = sorted({p[0] for p in points})
        if len(times) < 2:
            continue
        track = np.array(
            [
                np.average([p[1:3] for p in points if p[0] == t], axis=0, weights=[p[3] for p in points if p[0] == t])
                for t in times
            ]
        )
        if best is None or track.std(0).sum() > best[0]:
            best = (track.std(0).sum(), c, times, track)
    if best is None:
        return {}
    _, c, times, track = best
    slope = np.polyfit(times, track, 1)[0]  # (rows, columns) per time slot
    if abs(slope[0]) > abs(slope[1]):
        direction = "down" if slope[0] > 0 else "up"
    else:
        direction = "right" if slope[1] > 0 else "left"
    late = [i for i, t in enumerate(times) if t >= 0.6 * last]
    still = len(late) >= 2 and np.abs(track[late[-1]] - track[late[0]]).sum() < 0.3
    return {"colour": NAMES[c], "direction": direction, "stops": "yes" if times[-1] < 0.8 * last or still else "no"}


def probe(demo: Path, modes: tuple[str, ...] = ("codec", "frames")) -> dict[str, dict[str, float]]:
    """Reader accuracy (%) per mode and question on the single-mover test clips of a demo folder."""
    from ov_vlm.codec import CodecCache
    from ov_vlm.model.builder import build_config, make_tokenizer, visual_spec_for
    from ov_vlm.model.presets import load_preset
    from ov_vlm.processing.visual import video_visual

    from .pipeline import MODEL_PRESET

    preset = load_preset(MODEL_PRESET)
    spec = visual_spec_for(build_config(preset, make_tokenizer(preset.tokenizer)), preset.visual_spec)
    cache = CodecCache(demo / "codec_cache")
    records = [json.loads(line) for line in (demo / "data" / "test.jsonl").read_text().splitlines()]
    clips = [r for r in records if "video" in r and len(r["truth"]["movers"]) == 1]
    result = {}
    for mode in modes:
        hits: dict[str, list[bool]] = {"colour": [], "direction": [], "stops": []}
        for record in clips:
            mover, frames = record["truth"]["movers"][0], record["truth"]["frames"]
            truth = {"colour": mover["color"], "direction": mover["direction"]}
            truth["stops"] = "yes" if mover["stop"] < frames else "no"
            visual = video_visual(demo / "data" / record["video"], spec, mode, cache=cache)
            read = read_tokens(colour_counts(visual, spec.patch_size), spec.temporal_slots - 1)
            for key in hits:
                hits[key].append(read.get(key) == truth[key])
        result[mode] = {key: 100.0 * float(np.mean(v)) for key, v in hits.items()} | {"clips": len(clips)}
    return result


def main(argv: list[str]) -> int:
    for mode, scores in probe(Path(argv[0] if argv else "runs/demo")).items():
        print(f"{mode:>7}: " + ", ".join(f"{k} {v:.1f}" for k, v in scores.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
