"""lmms-eval hooks for the tasks in this folder (written by ov_vlm.evaluation.local_tasks)."""

from pathlib import Path

from ov_vlm.evaluation.task_utils import hooks

doc_to_visual, doc_to_text, doc_to_target, process_results = hooks(Path(__file__).parent / "data")
