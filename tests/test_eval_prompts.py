"""Prompt snapshots of the 16 paper tasks: what ov-vlm is asked, and how it generates, for one doc of each.

For each task of ``paper16`` the test loads the installed lmms-eval task YAML (offline: no dataset is read), builds
the zero-shot context of one hand-written doc with the task's own ``doc_to_text`` and ``lmms_eval_specific_kwargs``
(``default``), and records ``to_messages`` (with a stand-in for the visual) and ``generation_settings`` of its
``generation_kwargs`` (lmms-eval's defaults applied by its ``TaskConfig``). A change of lmms-eval's prompts or of
ov-vlm's request mapping shows up as a diff of ``tests/data/paper16_prompts.json``; after checking the diff,
``OV_VLM_UPDATE_SNAPSHOTS=1 pytest tests/test_eval_prompts.py`` rewrites it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import types
from pathlib import Path
from unittest import mock

import pytest

from ov_vlm.evaluation.requests import DEFAULT_MAX_NEW_TOKENS, generation_settings, to_messages
from ov_vlm.evaluation.suite import load_suite

SNAPSHOT = Path(__file__).parent / "data" / "paper16_prompts.json"
# suite id -> (task YAML under lmms_eval/tasks/, one doc); mvbench is a group: its first subtask stands for it
DOCS = {
    "mvbench": ("mvbench/mvbench_action_sequence.yaml", {
        "question": "What did the person do first?", "candidates": ["Opened the door.", "Sat on the bed."]}),
    "mlvu_dev": ("mlvu/mlvu_dev.yaml", {"question": "What is the man doing?\n(A) cooking\n(B) running"}),
    "nextqa_mc": ("nextqa/nextqa_mc_test.yaml", {
        "question": "why did the boy pick up the ball ", **{f"a{i}": f"answer {i} " for i in range(5)}}),
    "videomme": ("videomme/videomme.yaml", {
        "question": "What colour is the car?", "options": ["A. Red.", "B. Blue.", "C. Green.", "D. White."]}),
    "perceptiontest": ("perceptiontest/val/perceptiontest_mc.yaml", {
        "question": "How many cups are there?", "options": ["one", "two", "three"]}),
    "tomato": ("tomato/tomato.yaml", {"question": "Which way does the hand turn?", "options": ["left", "right"]}),
    "longvideobench": ("longvideobench/longvideobench_val_v.yaml", {
        "question": "When does the dog bark?", "option0": "at the start", "option1": "at the end",
        "option2": "N/A", "option3": "N/A", "option4": "N/A"}),
    "ai2d": ("ai2d/ai2d.yaml", {"question": "Which stage comes first?", "options": ["egg", "larva", "adult"]}),
    "chartqa": ("chartqa/chartqa.yaml", {"question": "What is the highest value?"}),
    "docvqa": ("docvqa/docvqa_val.yaml", {"question": "What is the date of the letter?"}),
    "infovqa": ("infovqa/infovqa_val.yaml", {"question": "How many people use bikes?"}),
    "mmbench_en": ("mmbench/mmbench_en_dev.yaml", {
        "question": "Which animal is shown?", "A": "cat", "B": "dog", "C": "bird", "D": None, "hint": None,
        "category": "c", "L2-category": "l2", "index": 0, "source": "s", "split": "dev"}),
    "ocrbench": ("ocrbench/ocrbench.yaml", {"question": " what is written in the image? "}),
    "ocrbench_v2": ("ocrbench_v2/ocrbench_v2.yaml", {"question": " Recognize the text in the image. "}),
    "mmstar": ("mmstar/mmstar.yaml", {"question": "Which is larger?\nOptions: A: the box, B: the ball"}),
    "realworldqa": ("realworldqa/realworldqa.yaml", {"question": "How many lanes are there? Answer with a number."}),
}  # fmt: skip


class _MissingImports(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Stand-in modules (attributes are mocks) for packages that are not installed: task ``utils.py`` files import
    heavy optional packages (cv2, decord, nltk, ...) at module level; their ``doc_to_text`` needs none of them."""

    def __init__(self):
        self.names: set[str] = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = lambda name: mock.MagicMock(name=f"{spec.name}.{name}")
        return module

    def exec_module(self, module):
        pass


@pytest.fixture(scope="module")
def task_config(tmp_path_factory):
    """``yaml -> (TaskConfig, lmms_eval_specific_kwargs)``, as lmms-eval resolves them for a model without an entry."""
    lmms_eval = pytest.importorskip("lmms_eval")
    finder = _MissingImports()
    sys.meta_path.append(finder)
    loaded_before = set(sys.modules)
    previous = os.environ.get("HF_HOME")
    os.environ.setdefault("HF_HOME", str(tmp_path_factory.mktemp("hf")))  # nextqa's utils reads it at import
    from lmms_eval.api.task import TaskConfig
    from lmms_eval.utils import load_yaml_config

    def load(relative: str):
        for _ in range(20):
            try:
                raw = load_yaml_config(str(Path(lmms_eval.__file__).parent / "tasks" / relative))
                break
            except ModuleNotFoundError as error:  # stand in for it (the real one is missing) and try again
                if not error.name or error.name.startswith("lmms_eval") or error.name in finder.names:
                    raise
                finder.names.add(error.name.split(".")[0])
        config = TaskConfig(**raw)
        kwargs = config.lmms_eval_specific_kwargs
        if kwargs is not None and "default" in kwargs:
            kwargs = {**kwargs, **kwargs["default"]}
        return config, kwargs

    yield load
    sys.meta_path.remove(finder)
    for name in set(sys.modules) - loaded_before:  # forget the stand-ins and the task modules that saw them
        if name.split(".")[0] in finder.names or name.startswith("lmms_eval.tasks."):
            del sys.modules[name]
    if previous is None:
        os.environ.pop("HF_HOME", None)


def snapshot(task, config, kwargs, doc) -> dict:
    text = config.doc_to_text(doc, kwargs) if kwargs is not None else config.doc_to_text(doc)
    context = (config.description or "") + text
    visual = "doc.mp4" if task.kind == "video" else "doc.png"
    settings, until = generation_settings(config.generation_kwargs, DEFAULT_MAX_NEW_TOKENS)
    return {"task": config.task, "messages": to_messages(context, [visual]), "generate": settings, "until": until}


def test_paper16_prompts_match_the_snapshot(task_config):
    suite = load_suite("paper16")
    assert sorted(DOCS) == sorted(t.id for t in suite.tasks)
    current = {}
    for task in suite.tasks:
        relative, doc = DOCS[task.id]
        config, kwargs = task_config(relative)
        assert config.task == task.task or (task.task == "mvbench" and config.task.startswith("mvbench_"))
        current[task.id] = snapshot(task, config, kwargs, doc)
        assert current[task.id]["generate"]["max_new_tokens"] == (task.max_new_tokens or DEFAULT_MAX_NEW_TOKENS)
    if os.environ.get("OV_VLM_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n")
    stored = json.loads(SNAPSHOT.read_text())
    for task_id in current:
        assert current[task_id] == stored[task_id], f"{task_id}: the prompt or generation settings changed"
    assert set(stored) == set(current)
