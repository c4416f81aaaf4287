"""Result files: one ``result.json`` per ``ov-vlm eval`` run, with every setting needed to reproduce or compare it.

Scores are stored in the published table's unit (``SuiteTask.scale`` applied), next to lmms-eval's raw value.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ov_vlm.utils.jsonl import read_jsonl
from ov_vlm.utils.model_folder import PROCESSOR_FILE, processor_file

from .suite import Suite, SuiteError

RESULT_FILE = "result.json"
FORMAT = 1
MODEL_FILES = ("*.json", "*.jinja", "*.safetensors", "*.txt", "*.model")


def model_hash(folder: str | Path) -> str:
    """SHA-256 over the model folder's config, tokenizer and weight files (names and contents)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    files = sorted({p for pattern in MODEL_FILES for p in folder.glob(pattern) if p.is_file()})
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def model_info(folder: str | Path) -> dict[str, Any]:
    """Encoder, LLM and projector of a model folder, read from its config files."""
    folder = Path(folder).resolve()
    config = json.loads((folder / "config.json").read_text())
    processor = json.loads((processor_file(folder) or folder / PROCESSOR_FILE).read_text())
    return {
        "path": str(folder),
        "name": folder.name,
        "hash": model_hash(folder),
        "encoder": config.get("vision_encoder"),
        "llm": (config.get("text_config") or {}).get("model_type"),
        "projector": config.get("projector_type"),
        "visual_spec": processor.get("visual_spec", {}),
    }


def find_raw_results(raw_dir: str | Path) -> Path | None:
    """The newest ``*_results.json`` lmms-eval wrote under ``raw_dir``."""
    found = sorted(Path(raw_dir).rglob("*_results.json"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def read_scores(raw: dict[str, Any], suite: Suite) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """lmms-eval's results -> (scores per suite task, reasons for the tasks without a score)."""
    results, counts = raw.get("results", {}), raw.get("n-samples", {})
    scores, missing = {}, {}
    for task in suite.tasks:
        entry = results.get(task.task)
        value = entry.get(task.result_key) if entry else None
        subtasks = raw.get("group_subtasks", {}).get(task.task, [])
        samples = counts.get(task.task, {}).get("effective")
        if not isinstance(value, int | float) and subtasks:  # a group without its own aggregate (e.g. mvbench)
            parts = [(results.get(s, {}).get(task.result_key), counts.get(s, {}).get("effective", 0)) for s in subtasks]
            parts = [(v, n) for v, n in parts if isinstance(v, int | float) and n]
            if parts:  # sample-weighted mean of the subtasks (MVBench: 20 x 200, i.e. the plain mean)
                value = sum(v * n for v, n in parts) / sum(n for _, n in parts)
                samples = sum(n for _, n in parts)
        if entry is None and value is None:
            missing[task.id] = f"no results for lmms-eval task {task.task}"
            continue
        if not isinstance(value, int | float):
            missing[task.id] = f"{task.task}: no numeric '{task.result_key}' (has {sorted(entry or {})})"
            continue
        scores[task.id] = {
            "benchmark": task.benchmark,
            "kind": task.kind,
            "value": round(float(value) * task.scale, 4),
            "raw": value,
            "metric": task.result_key,
            "unit": task.unit,
            "weight": task.average_weight,
            "samples": samples,
        }
    return scores, missing


def read_failures(path: str | Path) -> list[dict[str, Any]]:
    return read_jsonl(path, skip_bad=True, missing_ok=True)


def load_result(path: str | Path) -> dict[str, Any]:
    """A result file (or a run folder holding one); raises `SuiteError` naming the file when it is not one."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULT_FILE
    if not path.is_file():
        raise SuiteError(f"{path}: no such result file")
    try:
        result = json.loads(path.read_text())
    except ValueError as error:
        raise SuiteError(f"{path}: not JSON ({error})") from None
    if result.get("format") != FORMAT or "scores" not in result:
        raise SuiteError(f"{path}: not an ov-vlm result file")
    result["_path"] = str(path)
    return result


def run_label(result: dict[str, Any]) -> str:
    """A short label: model folder name, encoder and video mode."""
    model, settings = result.get("model", {}), result.get("settings", {})
    return f"{model.get('name', '?')} ({model.get('encoder', '?')}, {settings.get('video_mode', '?')})"
