"""The demo's results: accuracy per question type and video mode (from lmms-eval's logged samples) beside the blind
baselines, codec - frames at equal tokens with its uncertainty, as Markdown, ``results.json`` and a plot; and the
spread over several seeds."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from .world import QUESTION_TYPES, majority_baselines


def visual_tokens(model_dir: Path, mode: str) -> str:
    """The LLM tokens one clip becomes in ``mode``, read off the trained model's token layout (its visual spec)."""
    from ov_vlm.processing import OVVLMProcessor

    layout = OVVLMProcessor.from_pretrained(model_dir).spec.video_layout(mode)
    unit = "mosaics" if mode == "codec" else "frames"
    per_grid = layout.rows * layout.cols // layout.merge**2
    budget = f"K = {layout.frames} x {per_grid} patches" if mode == "codec" else f"{layout.frames} {unit} x {per_grid}"
    return f"{layout.num_tokens:,} ({budget})"


GROUPS = ("video", "image", "all")


def _load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _rows(record: dict[str, Any]) -> tuple[str, ...]:
    return record["question_type"], "video" if "video" in record else "image", "all"


def sample_hits(run: Path, test: list[dict[str, Any]]) -> dict[int, float]:
    """Exact-match hit (0/1) per test question (doc id) from a run's logged lmms-eval samples."""
    (samples_file,) = (run / "raw").rglob("*_samples_*.jsonl")
    return {s["doc_id"]: float(s["exact_match"]) for s in map(json.loads, samples_file.read_text().splitlines())}


def per_type_accuracy(hits: dict[int, float], test: list[dict[str, Any]]) -> dict[str, float]:
    """Accuracy (%) per question type, plus "video", "image" and "all"."""
    grouped: dict[str, list[float]] = {}
    for doc, hit in hits.items():
        for key in _rows(test[doc]):
            grouped.setdefault(key, []).append(hit)
    return {key: 100.0 * sum(v) / len(v) for key, v in grouped.items()}


def paired_difference(a: dict[int, float], b: dict[int, float], docs: list[int]) -> tuple[float, float]:
    """Mean of a - b in points over the same questions, and its standard error (paired)."""
    diffs = [a[d] - b[d] for d in docs if d in a and d in b]
    if len(diffs) < 2:
        return 0.0, float("nan")
    return 100.0 * statistics.fmean(diffs), 100.0 * statistics.stdev(diffs) / math.sqrt(len(diffs))


def _verdict(diff: float, stderr: float, n: int, codec: float, frames: float) -> str:
    if abs(diff) <= 2 * stderr:
        call = "no clear difference"
    else:
        call = "codec **beats** uniform frames" if diff > 0 else "uniform frames **beat** codec"
    return (
        f"On the {n} held-out video questions, at equal LLM tokens (128 per clip), codec top-K scores {codec:.1f}% and "
        f"uniform frames {frames:.1f}%: {diff:+.1f} points ± {2 * stderr:.1f} (two standard errors, paired over the "
        f"same questions): {call}."
    )


def summarise(out: Path, modes: tuple[str, ...]) -> dict[str, Any]:
    """``results.json``'s content: question counts, baselines and accuracy per mode and type (percent)."""
    data = out / "data"
    train, test = _load(data / "train.jsonl"), _load(data / "test.jsonl")
    baselines = majority_baselines(train, test)
    hits = {m: sample_hits(out / "eval" / m, test) for m in modes}
    counts: dict[str, int] = {}
    for record in test:
        for key in _rows(record):
            counts[key] = counts.get(key, 0) + 1
    order = [t for t in QUESTION_TYPES if t in counts] + [g for g in GROUPS if g in counts]
    blind = dict(baselines["blind_per_type"])
    for group in GROUPS:
        subset = [r for r in test if group in _rows(r)]
        if subset:
            blind[group] = majority_baselines(train, subset)["majority_per_type"]
    summary: dict[str, Any] = {
        "questions": {k: counts[k] for k in order},
        "baselines": {"majority": baselines["majority"], "blind_per_type": {k: blind[k] for k in order}},
        "accuracy": {
            m: {k: v for k, v in sorted(per_type_accuracy(hits[m], test).items(), key=_key(order))} for m in modes
        },
    }
    if "codec" in hits and "frames" in hits:
        docs = [d for d, r in enumerate(test) if "video" in r]
        diff, stderr = paired_difference(hits["codec"], hits["frames"], docs)
        summary["codec_minus_frames"] = {"video": diff, "two_se": 2 * stderr, "n": len(docs)}
    return summary


def _key(order: list[str]):
    return lambda item: order.index(item[0]) if item[0] in order else len(order)


def _tower_lines(out: Path) -> list[str]:
    """What the tower pretraining step reached (its linear read-out of the pooled tokens), if it ran."""
    path = out / "stage0_tower" / "tower.json"
    if not path.is_file():
        return []
    from .tower import summary_line

    return [
        "",
        summary_line(json.loads(path.read_text())).replace("; details in tower.json", " (stage0_tower/tower.json)."),
    ]


def write_report(out: Path, modes: tuple[str, ...], seed: int | None = None) -> Path:
    """``report.md``, ``results.json`` and ``results.png`` in ``out``; returns the report path."""
    from ov_vlm.evaluation.chart import bar_chart

    summary = summarise(out, modes)
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    counts, blind, accuracy = summary["questions"], summary["baselines"]["blind_per_type"], summary["accuracy"]
    header = ["held-out questions", "n", *modes, "blind prior (per type)"]
    lines = [
        "# ov-vlm demo: codec patches vs uniform frames on the motion world",
        "",
        "Demo model (random init, trained here on CPU: tower pretraining + stage 1 + stage 2"
        f"{'' if seed is None else f', seed {seed}'}), "
        f"evaluated with lmms-eval on {counts['all']} held-out questions (one per clip or image).",
        "Visual tokens per clip: " + "; ".join(f"{m} {visual_tokens(out / 'stage2_sft', m)}" for m in modes) + ".",
        *_tower_lines(out),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row, n in counts.items():
        cells = [f"{accuracy[m][row]:.1f}" if row in accuracy[m] else "–" for m in modes]
        label = f"**{row}**" if row in GROUPS else row
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + f" | {blind[row]:.1f} |")
    lines += [
        "",
        f"Baselines: the majority answer over all questions scores {summary['baselines']['majority']:.1f}%; the blind "
        "prior is a model that knows the question type and always gives that type's most common training answer.",
        "",
    ]
    if "codec_minus_frames" in summary:
        cmp = summary["codec_minus_frames"]
        lines.append(
            _verdict(cmp["video"], cmp["two_se"] / 2, cmp["n"], accuracy["codec"]["video"], accuracy["frames"]["video"])
        )
    below = [
        f"{m} {row}" for m in modes for row in counts if row not in GROUPS and accuracy[m].get(row, 0) <= blind[row]
    ]
    lines.append(
        "At or below the blind prior: " + ", ".join(below) + "."
        if below
        else "Every mode beats the blind prior on every question type."
    )
    if "dense" in modes:
        lines.append(
            "Dense (all 64 frames) spends 8x the tokens and is not trained on (the model learned on codec and 8-frame "
            "input), so it is a reference, not a target."
        )
    lines += ["", "Per-mode lmms-eval outputs: `eval/<mode>/` (report.md, result.json, raw samples); logs: `logs/`."]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    names = [r for r in counts if r != "all"]
    series: dict[str, list[float | None]] = {m: [accuracy[m].get(r) for r in names] for m in modes}
    series["blind prior (per type)"] = [blind[r] for r in names]
    bar_chart(out / "results.png", names, series, "motion world: accuracy by question type", "accuracy (%)")
    return report


def write_seed_summary(out: Path, runs: dict[int, Path]) -> Path:
    """``seeds.md`` and ``seeds.json`` in ``out``: accuracy per seed, mean and spread (max - min), per mode and row."""
    results = {seed: json.loads((run / "results.json").read_text()) for seed, run in runs.items()}
    first = next(iter(results.values()))
    modes, rows = list(first["accuracy"]), list(first["questions"])
    table: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        for row in rows:
            values = [r["accuracy"][mode][row] for r in results.values() if row in r["accuracy"][mode]]
            table.setdefault(mode, {})[row] = {"mean": statistics.fmean(values), "spread": max(values) - min(values)}
    diffs = [r["codec_minus_frames"]["video"] for r in results.values() if "codec_minus_frames" in r]
    seeds_json = {"seeds": list(results), "per_seed": {str(s): r for s, r in results.items()}, "summary": table}
    if diffs:
        seeds_json["codec_minus_frames"] = {"mean": statistics.fmean(diffs), "per_seed": diffs}
    (out / "seeds.json").write_text(json.dumps(seeds_json, indent=1))
    header = [
        "held-out questions",
        f"n (seed {next(iter(results))})",
        *(f"{m} (mean, spread)" for m in modes),
        "blind prior",
    ]
    lines = [
        f"# ov-vlm demo over seeds {', '.join(map(str, results))} (world and training seed)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in rows:
        cells = [f"{table[m][row]['mean']:.1f} ({table[m][row]['spread']:.1f})" for m in modes]
        blind = statistics.fmean(r["baselines"]["blind_per_type"][row] for r in results.values())
        lines.append(f"| {row} | {first['questions'][row]} | " + " | ".join(cells) + f" | {blind:.1f} |")
    if diffs:
        lines += [
            "",
            "codec - frames on video questions per seed: " + ", ".join(f"{d:+.1f}" for d in diffs) + " points.",
        ]
    path = out / "seeds.md"
    path.write_text("\n".join(lines) + "\n")
    return path
