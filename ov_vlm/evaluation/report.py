"""Markdown reports: one run beside the published numbers (with deltas and averages), or several runs compared.

Averages are simple means over the benchmarks present, each score times its ``weight`` (OCRBench's 0-1000 count
/ 10), as the spec computes them; published averages are taken over the same benchmarks, so deltas stay fair when a
run covers only part of a suite.
"""

from __future__ import annotations

from typing import Any

from .results import run_label
from .suite import Published, PublishedColumn

KIND_LABELS = {"video": "avg video", "image": "avg image", None: "avg all"}


def fmt(value: float | None, unit: str = "percent") -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if unit == "count1000" else f"{value:.1f}"


def fmt_delta(delta: float | None, unit: str = "percent") -> str:
    if delta is None:
        return "–"
    text = f"{delta:+.0f}" if unit == "count1000" else f"{delta:+.1f}"
    return text.replace("-", "−")


def average(scores: dict[str, dict[str, Any]], ids: list[str], values: dict[str, float] | None = None) -> float | None:
    """Mean of weighted scores over ``ids`` (``values`` replaces the run's own values, e.g. published ones)."""
    picked = []
    for task_id in ids:
        value = values.get(task_id) if values is not None else scores[task_id]["value"]
        if value is None:
            return None
        picked.append(value * scores[task_id].get("weight", 1.0))
    return sum(picked) / len(picked) if picked else None


def average_rows(scores: dict[str, dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(label, task ids) for the video and image averages present, and the overall one when both are."""
    rows = []
    for kind in ("video", "image"):
        ids = [i for i, s in scores.items() if s["kind"] == kind]
        if ids:
            rows.append((f"{KIND_LABELS[kind]} ({len(ids)})", ids))
    if len(rows) > 1:
        rows.append((f"{KIND_LABELS[None]} ({len(scores)})", list(scores)))
    return rows


def run_report(result: dict[str, Any], published: Published | None, reference: PublishedColumn | None) -> str:
    """A Markdown report of one result, beside the published columns, with deltas against ``reference``."""
    model, settings, scores = result["model"], result["settings"], result["scores"]
    lines = [
        f"# {result['suite']} — {run_label(result)}",
        "",
        f"- model: `{model['path']}` (sha256 `{model['hash'][:12]}`), encoder **{model['encoder']}**, "
        f"LLM {model['llm']}, projector {model['projector']}",
        f"- video: {_video_line(settings)}; batch size {settings.get('batch_size')}",
        f"- date {result['date']}; lmms-eval {result['versions'].get('lmms-eval')}, "
        f"ov-vlm {result['versions'].get('ov-vlm')}, torch {result['versions'].get('torch')}",
    ]
    if settings.get("limit"):
        lines.append(
            f"- **limit {settings['limit']} samples per task**: a smoke run; scores are not comparable to the "
            "published ones"
        )
    columns = list(published.columns) if published else []
    has_published = published is not None and any(t in published.scores for t in scores)
    header = ["kind", "benchmark", "this run"]
    if has_published:
        header += [c.label for c in columns]
        if reference is not None:
            header.append(f"Δ vs {reference.label}")
    header.append("samples")
    lines += ["", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for task_id, score in scores.items():
        row = [score["kind"], score["benchmark"], f"**{fmt(score['value'], score['unit'])}**"]
        if has_published:
            row_published = published.scores.get(task_id, {})
            row += [fmt(row_published.get(c.id), score["unit"]) for c in columns]
            if reference is not None:
                ref = row_published.get(reference.id)
                row.append(fmt_delta(None if ref is None else score["value"] - ref, score["unit"]))
        row.append(str(score.get("samples") or "–"))
        lines.append("| " + " | ".join(row) + " |")
    for label, ids in average_rows(scores):
        row = ["", f"**{label}**", f"**{fmt(average(scores, ids))}**"]
        if has_published:
            means = {
                c.id: average(scores, ids, {i: published.scores.get(i, {}).get(c.id) for i in ids}) for c in columns
            }
            row += [fmt(means[c.id]) for c in columns]
            if reference is not None:
                mine, ref = average(scores, ids), means[reference.id]
                row.append(fmt_delta(None if ref is None or mine is None else mine - ref))
        row.append("")
        lines.append("| " + " | ".join(row) + " |")
    if has_published:
        lines += [
            "",
            f"Published numbers: {published.source} (LLM {published.llm}). Averages are simple means "
            "over the benchmarks listed, OCRBench / 10.",
        ]
    lines += _problems(result)
    return "\n".join(lines) + "\n"


def _video_line(settings: dict[str, Any]) -> str:
    mode = settings.get("video_mode")
    if mode == "codec":
        return f"mode **codec** ({settings.get('frames')} frames sampled, budget {settings.get('budget')})"
    return f"mode **{mode}** ({settings.get('frames')} frames)"


def _problems(result: dict[str, Any]) -> list[str]:
    lines = []
    if result.get("missing"):
        lines += ["", "## Missing scores", ""]
        lines += [f"- {task}: {reason}" for task, reason in result["missing"].items()]
    failures = result.get("failures") or []
    if failures:
        lines += ["", f"## Failed samples ({len(failures)}, scored as wrong)", ""]
        lines += [f"- {f['task']} doc {f['doc_id']}: {f['reason']} ({f['media']})" for f in failures[:50]]
        if len(failures) > 50:
            lines.append(f"- … {len(failures) - 50} more in failures.jsonl")
    return lines


def compare_report(results: list[dict[str, Any]]) -> str:
    """Several runs side by side (e.g. the three encoders under one recipe); the best score per row in bold."""
    labels = [run_label(r) for r in results]
    task_ids: list[str] = []
    for result in results:
        task_ids += [t for t in result["scores"] if t not in task_ids]
    lines = ["# Encoder comparison", ""]
    for label, result in zip(labels, results, strict=True):
        settings = result["settings"]
        lines.append(
            f"- **{label}**: `{result.get('_path', '')}`, sha256 `{result['model']['hash'][:12]}`, suite "
            f"{result['suite']}, frames {settings.get('frames')}, budget {settings.get('budget')}, "
            f"limit {settings.get('limit') or 'none'}, {result['date']}"
        )
    header = ["benchmark", *labels]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for task_id in task_ids:
        entries = [r["scores"].get(task_id) for r in results]
        known = [e["value"] for e in entries if e]
        best = max(known) if known else None
        first = next(e for e in entries if e)
        cells = []
        for entry in entries:
            text = fmt(entry["value"], entry["unit"]) if entry else "–"
            cells.append(f"**{text}**" if entry and len(known) > 1 and entry["value"] == best else text)
        lines.append(f"| {first['benchmark']} | " + " | ".join(cells) + " |")
    for kind in ("video", "image", None):
        cells = []
        for result in results:
            scores = result["scores"]
            ids = [i for i in task_ids if i in scores and (kind is None or scores[i]["kind"] == kind)]
            complete = len(ids) == len([i for i in task_ids if kind is None or _kind(results, i) == kind])
            cells.append(fmt(average(scores, ids)) if ids and complete else "–")
        if any(c != "–" for c in cells):
            lines.append(f"| **{KIND_LABELS[kind]}** | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _kind(results: list[dict[str, Any]], task_id: str) -> str:
    return next(r["scores"][task_id]["kind"] for r in results if task_id in r["scores"])
