"""Regenerate the local offline lmms-eval tasks (small synthetic image and video QA; deterministic).

    .venv/bin/python eval/tasks/make_local_tasks.py

Writes ``ovvlm_local_image/`` (16 images: colour / shape questions) and ``ovvlm_local_video/`` (12 H.264 clips:
direction / colour of the moving shape), each with its lmms-eval YAML, a ``utils.py`` shim and ``data/``.
``data_files`` are relative to the repository root, the folder lmms-eval runs from (``ov-vlm eval`` does that).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ov_vlm.data.synthetic import generate_shapes
from ov_vlm.evaluation.local_tasks import write_task

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TASKS = {
    "ovvlm_local_image": {"samples": 16, "video_share": 0.0, "seed": 101},
    "ovvlm_local_video": {"samples": 12, "video_share": 1.0, "seed": 202},
}
POST_PROMPT = "\nAnswer with one word."


def main() -> None:
    for name, options in TASKS.items():
        folder = HERE / name
        shutil.rmtree(folder, ignore_errors=True)
        train = generate_shapes(folder / "data", task="qa", size=64, frames=16, **options)
        samples = train.rename(train.with_name("test.jsonl"))
        write_task(folder, name, samples, anchor=ROOT, max_new_tokens=8, post_prompt=POST_PROMPT)
        print(f"wrote {folder.relative_to(ROOT)} ({options['samples']} samples)")


if __name__ == "__main__":
    main()
