"""Write lmms-eval task folders for LLaVA-format QA data (the local offline tasks, the demo's held-out split).

A task folder holds ``<task>.yaml`` (``dataset_path: json``), the samples' JSONL and a ``utils.py`` shim over
`ov_vlm.evaluation.task_utils`. Run it with stock lmms-eval: ``--include_path FOLDER --tasks <task>``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

SHIM = '''"""lmms-eval hooks for the tasks in this folder (written by ov_vlm.evaluation.local_tasks)."""

from pathlib import Path

from ov_vlm.evaluation.task_utils import hooks

doc_to_visual, doc_to_text, doc_to_target, process_results = hooks(Path(__file__).parent / {media!r})
'''


def task_config(name: str, data_file: str, max_new_tokens: int = 8, post_prompt: str = "") -> str:
    """The YAML text of one generate_until task scored by exact match."""
    config = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": data_file}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_visual": "!function utils.doc_to_visual",
        "doc_to_text": "!function utils.doc_to_text",
        "doc_to_target": "!function utils.doc_to_target",
        "process_results": "!function utils.process_results",
        "generation_kwargs": {"max_new_tokens": max_new_tokens, "temperature": 0, "do_sample": False, "until": []},
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
        "lmms_eval_specific_kwargs": {"default": {"pre_prompt": "", "post_prompt": post_prompt}},
        "metadata": {"version": 1},
    }
    text = yaml.safe_dump(config, sort_keys=False, width=120)
    return re.sub(r"'(!function [\w.]+)'", r"\1", text)  # lmms-eval's YAML tag for hook functions


def write_task(
    folder: str | Path,
    name: str,
    samples: str | Path,
    anchor: str | Path | None = None,
    max_new_tokens: int = 8,
    post_prompt: str = "",
) -> Path:
    """Write ``folder/<name>.yaml`` (+ ``utils.py``) for the LLaVA JSONL ``samples``; returns the YAML path.

    Media paths in the samples are relative to the JSONL's folder. ``data_files`` is absolute, or relative to
    ``anchor`` (the folder lmms-eval will be run from) when one is given.
    """
    folder, samples = Path(folder).resolve(), Path(samples).resolve()
    if not samples.is_file():
        raise FileNotFoundError(f"{samples}: no such samples file")
    folder.mkdir(parents=True, exist_ok=True)
    data_file = os.path.relpath(samples, Path(anchor).resolve()) if anchor is not None else str(samples)
    media = os.path.relpath(samples.parent, folder)
    shim = folder / "utils.py"
    text = SHIM.format(media=media)
    if shim.is_file() and shim.read_text() != text:
        raise ValueError(f"{folder}: its utils.py serves media from elsewhere; give this task its own folder")
    shim.write_text(text)
    target = folder / f"{name}.yaml"
    target.write_text(task_config(name, data_file, max_new_tokens, post_prompt))
    return target
