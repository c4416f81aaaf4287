"""``ov-vlm eval prefetch``: download a suite's datasets (and video archives) ahead of time, the way lmms-eval will
read them at run time, for clusters without internet on compute nodes.

Each task is fetched by lmms-eval's own task loader (same cache folders as the run: no second download); a task that
fails (gated dataset without a token, network error) is reported and the others go on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ov_vlm.errors import one_line

from . import hub
from .suite import Suite, SuiteTask


@dataclass
class PrefetchStatus:
    task: SuiteTask
    ok: bool
    message: str


def requirements(task: SuiteTask, token: bool) -> str:
    """What a task needs beyond the download: a token, a judge key."""
    needs = []
    if task.needs_token:
        needs.append("HF token (have one)" if token else "HF token (MISSING: huggingface-cli login)")
    if task.judge:
        key = task.judge.split()[0]
        needs.append(f"judge {task.judge} ({'set' if os.environ.get(key) else 'MISSING'})")
    return ", ".join(needs) or "nothing else"


def task_manager(suite: Suite):
    """lmms-eval's task index (built once per prefetch: indexing the built-in tasks takes seconds)."""
    from lmms_eval.tasks import TaskManager

    return TaskManager(include_path=str(suite.include_path) if suite.include_path else None)


def prefetch_task(task: SuiteTask, manager) -> PrefetchStatus:
    """Instantiate the lmms-eval task (which downloads its dataset and media); one line of status."""
    if task.is_local:
        return PrefetchStatus(task, True, "local task, nothing to download")
    try:
        from lmms_eval.tasks import get_task_dict

        get_task_dict([task.task], manager)
    except Exception as error:  # any download failure is reported per task; the others go on
        text = one_line(error)[:300]
        if "401" in text or "403" in text or "gated" in text.lower() or "token" in text.lower():
            text = f"needs access: accept the terms at {hub.endpoint()}/datasets/{task.dataset} and log in ({text})"
        return PrefetchStatus(task, False, text)
    return PrefetchStatus(task, True, f"{task.dataset} cached")
