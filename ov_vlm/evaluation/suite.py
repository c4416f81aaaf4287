"""Benchmark suites (``eval/suites/*.yaml``) and the published numbers (``eval/published.json``), typed.

A suite lists lmms-eval tasks with the metric to read from lmms-eval's results and how to turn it into the unit of
the published table (``scale``); unknown keys raise (`ov_vlm.utils.typed.from_dict`). ``--suite NAME`` finds
``eval/suites/NAME.yaml`` of the checkout; a path to any suite file also works.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import yaml

from ov_vlm.errors import ConfigError, one_line
from ov_vlm.resources import resource_path
from ov_vlm.utils.options import TaskKind, Unit
from ov_vlm.utils.typed import from_dict

EVAL_ROOT = resource_path("eval")
KINDS = get_args(TaskKind)
UNITS = get_args(Unit)


class SuiteError(ConfigError):
    """A suite or published-numbers file is missing or malformed (one line)."""


def _strict(cls, values: Any, where: str, fixed: dict[str, Any] | None = None):
    return from_dict(cls, values, where, error=SuiteError, fixed=fixed)


@dataclass(frozen=True)
class SuiteTask:
    """One benchmark: which lmms-eval task runs it and how to read its score."""

    id: str
    benchmark: str
    kind: TaskKind
    task: str
    metric: str
    filter: str = "none"
    scale: float = 1.0
    unit: Unit = "percent"
    average_weight: float = 1.0
    dataset: str | None = None
    dataset_config: str | None = None
    split: str | None = None
    max_new_tokens: int | None = None
    needs_token: bool = False
    judge: str | None = None
    video_archive: bool = False
    read: str = ""
    note: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SuiteError(f"task {self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.unit not in UNITS:
            raise SuiteError(f"task {self.id}: unit must be one of {UNITS}, got {self.unit!r}")

    @property
    def result_key(self) -> str:
        return f"{self.metric},{self.filter}"

    @property
    def is_local(self) -> bool:
        return self.dataset is None


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple[SuiteTask, ...]
    description: str = ""
    source: str = ""
    lmms_eval_version: str | None = None
    include_path: Path | None = None  # local task folder (--include_path), resolved against the suite file
    run_from: Path | None = None  # folder lmms-eval runs from (local tasks' data_files are relative to it)
    path: Path | None = None

    def select(self, ids: list[str] | None) -> Suite:
        """The suite restricted to ``ids`` (suite ids or lmms-eval task names), in suite order."""
        if not ids:
            return self
        known = {t.id: t for t in self.tasks} | {t.task: t for t in self.tasks}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise SuiteError(
                f"suite {self.name} has no task(s) {unknown}; it has: {', '.join(t.id for t in self.tasks)}"
            )
        wanted = {known[i].id for i in ids}
        return dataclasses.replace(self, tasks=tuple(t for t in self.tasks if t.id in wanted))


def suite_path(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise SuiteError(f"{candidate}: no such suite file")
        return candidate
    named = EVAL_ROOT / "suites" / f"{name_or_path}.yaml"
    if not named.is_file():
        available = sorted(p.stem for p in (EVAL_ROOT / "suites").glob("*.yaml"))
        raise SuiteError(f"no suite {name_or_path!r}; available: {', '.join(available) or 'none'} (or a YAML path)")
    return named


def load_suite(name_or_path: str | Path) -> Suite:
    path = suite_path(name_or_path).resolve()
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SuiteError(f"{path}: not valid YAML ({one_line(error)})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("tasks"), list):
        raise SuiteError(f"{path}: a suite needs a 'tasks' list")
    tasks = tuple(_strict(SuiteTask, t, f"{path.name} task {t.get('id', n)}") for n, t in enumerate(raw.pop("tasks")))
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise SuiteError(f"{path}: duplicate task ids")
    for key in ("include_path", "run_from"):
        if raw.get(key) is not None:
            raw[key] = (path.parent / raw[key]).resolve()
    return _strict(Suite, {**raw, "tasks": tasks}, path.name, fixed={"path": path})


@dataclass(frozen=True)
class PublishedColumn:
    id: str
    label: str
    encoder: str
    video_mode: str
    checkpoint: str = ""
    caption_supervised: bool = False


@dataclass(frozen=True)
class Published:
    """The published table: ``scores[task_id][column_id]`` in the published unit."""

    columns: tuple[PublishedColumn, ...]
    scores: dict[str, dict[str, float]]
    source: str
    llm: str = ""

    def column(self, column_id: str) -> PublishedColumn:
        for column in self.columns:
            if column.id == column_id:
                return column
        raise SuiteError(f"no published column {column_id!r}; columns: {', '.join(c.id for c in self.columns)}")

    def reference_for(self, encoder: str | None, video_mode: str | None) -> PublishedColumn | None:
        """The column a run of ``encoder`` in ``video_mode`` compares to (plain, not "-Lang", checkpoints first)."""
        mode = "frames" if video_mode in ("frames", "dense") else video_mode
        for column in sorted(self.columns, key=lambda c: c.caption_supervised and c.encoder == "onevision"):
            if column.encoder == encoder and (column.video_mode == mode or encoder != "onevision"):
                return column
        return None


def load_published(path: str | Path | None = None) -> Published:
    path = Path(path) if path else EVAL_ROOT / "published.json"
    if not path.is_file():
        raise SuiteError(f"{path}: no published-numbers file")
    raw = json.loads(path.read_text())
    columns = tuple(_strict(PublishedColumn, c, f"{path.name} column") for c in raw["columns"])
    scores = {task: {k: float(v) for k, v in row.items() if k != "benchmark"} for task, row in raw["scores"].items()}
    return Published(columns, scores, raw.get("source", ""), raw.get("llm", ""))
