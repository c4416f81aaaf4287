"""The demo's results: accuracy per question type and video mode (from lmms-eval's logged samples) beside the
majority-answer baselines, a verdict on codec vs frames at equal tokens, as Markdown and a plot."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .world import QUESTION_TYPES, majority_baselines

TOKENS = {"codec": "128 (K = 8 x 16 patches)", "frames": "128 (8 frames x 16)", "dense": "1,024 (64 frames x 16)"}


def per_type_accuracy(run: Path, test: list[dict[str, Any]]) -> dict[str, tuple[float, int]]:
    """(accuracy %, n) per question type, plus "video", "image" and "all", from a run's logged samples."""
    (samples_file,) = (run / "raw").rglob("*_samples_*.jsonl")
    hits: dict[str, list[float]] = {}
    for line in samples_file.read_text().splitlines():
        sample = json.loads(line)
        record = test[sample["doc_id"]]
        kind = "video" if "video" in record else "image"
        for key in (record["question_type"], kind, "all"):
            hits.setdefault(key, []).append(sample["exact_match"])
    return {key: (100.0 * sum(v) / len(v), len(v)) for key, v in hits.items()}


def _verdict(codec: tuple[float, int], frames: tuple[float, int]) -> str:
    (a, n), (b, _) = codec, frames
    stderr = 100.0 * math.sqrt(max(a / 100 * (1 - a / 100) + b / 100 * (1 - b / 100), 1e-9) / max(n, 1))
    diff = a - b
    if abs(diff) < 2 * stderr:
        call = "no clear difference"
    else:
        call = "codec **beats** uniform frames" if diff > 0 else "uniform frames **beat** codec"
    return (
        f"On the {n} held-out video questions, at equal LLM tokens (128 per clip), codec top-K scores {a:.1f}% and "
        f"uniform frames {b:.1f}% ({diff:+.1f} points, about ±{2 * stderr:.1f} for two standard errors): {call}."
    )


def write_report(out: Path, modes: tuple[str, ...]) -> Path:
    from ov_vlm.evaluation.chart import bar_chart

    data = out / "data"
    train = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
    test = [json.loads(line) for line in (data / "test.jsonl").read_text().splitlines()]
    baselines = majority_baselines(train, test)
    results = {m: per_type_accuracy(out / "eval" / m, test) for m in modes}
    rows = [t for t in QUESTION_TYPES if any(r["question_type"] == t for r in test)] + ["video", "image", "all"]
    counts = {t: sum(1 for r in test if r["question_type"] == t) for t in QUESTION_TYPES}
    counts.update(video=sum("video" in r for r in test), image=sum("image" in r for r in test), all=len(test))
    header = ["questions", "n", *(f"{m}" for m in modes)]
    lines = [
        "# ov-vlm demo: codec patches vs uniform frames on the motion world",
        "",
        f"Tiny model (random init, trained here on CPU: stage 1 + stage 2), evaluated with lmms-eval on {len(test)} "
        "held-out questions.",
        "Visual tokens per clip: " + "; ".join(f"{m} {TOKENS[m]}" for m in modes) + ".",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in rows:
        cells = [f"{results[m][row][0]:.1f}" if row in results[m] else "–" for m in modes]
        label = f"**{row}**" if row in ("video", "image", "all") else row
        lines.append(f"| {label} | {counts[row]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Baselines on all {len(test)} questions: majority answer {baselines['majority']:.1f}%; a blind model that "
        f"knows the question type and gives its most common answer {baselines['majority_per_type']:.1f}%.",
        "",
    ]
    if "codec" in results and "frames" in results and "video" in results["codec"]:
        lines.append(_verdict(results["codec"]["video"], results["frames"]["video"]))
    if "dense" in results:
        lines.append(
            "Dense (all 64 frames) spends 8x the tokens and was not seen in training (the model learned on codec and "
            "8-frame input), so it is a reference, not a target."
        )
    lines += ["", "Per-mode lmms-eval outputs: `eval/<mode>/` (report.md, result.json, raw samples)."]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    names = [r for r in rows if r != "image"]
    series = {m: [results[m].get(r, (None,))[0] for r in names] for m in modes}
    series["majority (per type)"] = [_majority_for(train, test, r) for r in names]
    bar_chart(out / "results.png", names, series, "motion world: accuracy by question type", "accuracy (%)")
    summary = {"baselines": baselines, "accuracy": {m: {k: v[0] for k, v in r.items()} for m, r in results.items()}}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    return report


def _majority_for(train: list[dict], test: list[dict], row: str) -> float | None:
    if row in ("video", "image", "all"):
        subset = [r for r in test if row == "all" or (row in r)]
    else:
        subset = [r for r in test if r["question_type"] == row]
    return majority_baselines(train, subset)["majority_per_type"] if subset else None
