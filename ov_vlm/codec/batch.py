"""Batch codec selection over many videos: parallel, resumable, and nothing lost on bad input.

Every input video gets one output folder with a stable name (``<stem>-<hash of its absolute path>``). A folder that
is complete and was made with the same settings is skipped, so an interrupted run resumes where it stopped. A video
that fails is recorded with its reason in ``failures.txt`` while the others carry on; ``index.jsonl`` maps every
video to its folder and status.

Sharding (``shard=(I, N)``): a deterministic 1/N of the inputs (by a hash of each path, so every node agrees
without a coordinator) goes to shard I; all shards write into one output folder, each with its own
``index-I-of-N.jsonl`` and ``failures-I-of-N.txt``; `merge_indexes` joins them into ``index.jsonl`` and
``failures.txt``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ov_vlm.errors import one_line
from ov_vlm.media import is_video_file
from ov_vlm.utils.jsonl import read_jsonl
from ov_vlm.utils.processes import fork_context

from .errors import CodecError
from .pipeline import select_patches
from .result import META_FILE, is_complete
from .settings import CodecSettings

LIST_EXTENSIONS = frozenset({".txt", ".list", ".lst"})
VIZ_FILE = "selection.png"
FAILURES_FILE = "failures.txt"
INDEX_FILE = "index.jsonl"


@dataclass
class Outcome:
    video: str
    status: str  # "done", "skipped" (already complete) or "failed"
    reason: str = ""
    folder: str = ""
    seconds: float = 0.0
    patches: int | None = None


@dataclass
class BatchReport:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    failures_file: str = FAILURES_FILE

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]

    def summary(self, out_root: Path) -> str:
        total = len(self.outcomes)
        rate = self.count("done") / self.seconds if self.seconds > 0 else 0.0
        line = (
            f"codec: {total} video(s): {self.count('done')} done, {self.count('skipped')} already done, "
            f"{self.count('failed')} failed in {self.seconds:.1f} s ({rate:.2f} videos/s); outputs in {out_root}"
        )
        if self.failures:
            line += f"; failures listed in {out_root / self.failures_file}"
        return line


def collect_videos(items: Iterable[str | Path]) -> tuple[list[Path], list[Outcome]]:
    """Expand files, directories (recursively, by video extension) and list files (one path per line).

    Returns the videos in a stable order and an outcome for every input that does not exist.
    """
    videos: list[Path] = []
    missing: list[Outcome] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            videos.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_video_file(p)))
        elif path.is_file() and path.suffix.lower() in LIST_EXTENSIONS:
            for line in path.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    entry = Path(line) if Path(line).is_absolute() else path.parent / line
                    if entry.exists():
                        videos.append(entry)
                    else:
                        missing.append(Outcome(str(entry), "failed", f"{entry}: no such file (listed in {path})"))
        elif path.exists():
            videos.append(path)
        else:
            missing.append(Outcome(str(path), "failed", f"{path}: no such file or directory"))
    unique = list(dict.fromkeys(p.resolve() for p in videos))
    return unique, missing


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (0 <= I < N) -> (I, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"shard must look like I/N (e.g. 0/8), got {text!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"shard I/N needs 0 <= I < N, got {text!r}")
    return index, count


def shard_from_environment(environ: dict | None = None) -> tuple[int, int] | None:
    """(I, N) from a SLURM job array (``SLURM_ARRAY_TASK_ID`` - ``SLURM_ARRAY_TASK_MIN`` of
    ``SLURM_ARRAY_TASK_COUNT``) or from ``RANK`` / ``WORLD_SIZE``; None when neither is set."""
    env = os.environ if environ is None else environ
    if env.get("SLURM_ARRAY_TASK_ID") and env.get("SLURM_ARRAY_TASK_COUNT"):
        index = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0") or 0)
        return parse_shard(f"{index}/{int(env['SLURM_ARRAY_TASK_COUNT'])}")
    if env.get("RANK") and env.get("WORLD_SIZE"):
        return parse_shard(f"{int(env['RANK'])}/{int(env['WORLD_SIZE'])}")
    return None


def in_shard(video: str | Path, shard: tuple[int, int] | None) -> bool:
    """Whether ``video`` belongs to ``shard`` (a stable hash of its path, not of the input list)."""
    if shard is None:
        return True
    index, count = shard
    return int(hashlib.sha1(str(video).encode()).hexdigest(), 16) % count == index


def record_names(shard: tuple[int, int] | None) -> tuple[str, str]:
    """(index file, failures file) of a run: plain names, or per-shard names."""
    if shard is None:
        return INDEX_FILE, FAILURES_FILE
    index, count = shard
    return f"index-{index}-of-{count}.jsonl", f"failures-{index}-of-{count}.txt"


def merge_indexes(out_root: str | Path) -> BatchReport:
    """Join the shards' index files of ``out_root`` into ``index.jsonl`` and ``failures.txt``.

    Raises ValueError when shards of different counts are mixed or some shard's index is missing.
    """
    out_root = Path(out_root)
    files = sorted(out_root.glob("index-*-of-*.jsonl"))
    if not files:
        raise ValueError(f"{out_root}: no shard index files (index-I-of-N.jsonl)")
    found = {tuple(int(x) for x in re.fullmatch(r"index-(\d+)-of-(\d+)\.jsonl", f.name).groups()) for f in files}
    counts = {count for _, count in found}
    if len(counts) != 1:
        raise ValueError(f"{out_root}: shard index files of different shard counts {sorted(counts)}")
    count = counts.pop()
    missing = sorted(set(range(count)) - {index for index, _ in found})
    if missing:
        raise ValueError(f"{out_root}: shard index missing for shard(s) {missing} of {count}")
    outcomes: dict[str, Outcome] = {}
    for file in files:
        for entry in read_jsonl(file):
            outcome = Outcome(**entry)
            outcomes[outcome.video] = outcome
    report = BatchReport(outcomes=list(outcomes.values()))
    _write_records(out_root, report, None)
    return report


def folder_name(video: Path) -> str:
    """Stable, filesystem-safe output folder name for ``video``."""
    digest = hashlib.sha1(str(video.resolve()).encode()).hexdigest()[:10]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", video.stem)[:60] or "video"
    return f"{stem}-{digest}"


def _already_done(folder: Path, settings: CodecSettings, viz: bool) -> bool:
    if not is_complete(folder) or (viz and not (folder / VIZ_FILE).is_file()):
        return False
    meta = json.loads((folder / META_FILE).read_text())
    saved = CodecSettings.from_dict(meta.get("settings", {})) if meta.get("settings") else None
    return saved is not None and saved.output_key() == settings.output_key()


def process_video(video: Path, out_root: Path, settings: CodecSettings, viz: bool, force: bool) -> Outcome:
    """Select, save and (optionally) visualise one video; never raises."""
    started = time.perf_counter()
    folder = out_root / folder_name(video)
    try:
        if not force and _already_done(folder, settings, viz):
            return Outcome(str(video), "skipped", folder=folder.name)
        selection = select_patches(video, settings)
        selection.save(folder)
        if viz:
            from .viz import save_visualization

            save_visualization(selection, folder / VIZ_FILE)
        return Outcome(
            str(video), "done", folder=folder.name, seconds=time.perf_counter() - started, patches=selection.num_patches
        )
    except CodecError as error:
        return Outcome(str(video), "failed", str(error), seconds=time.perf_counter() - started)
    except Exception as error:  # a batch job must not die on one video: record it and carry on
        reason = f"{video}: unexpected {type(error).__name__}: {one_line(error)}"
        return Outcome(str(video), "failed", reason, seconds=time.perf_counter() - started)


def run_batch(
    inputs: Iterable[str | Path],
    out_root: str | Path,
    settings: CodecSettings,
    workers: int = 1,
    viz: bool = False,
    force: bool = False,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
) -> BatchReport:
    """Process every input video (of ``shard`` only, when given); write the index and failures files under
    ``out_root`` (per-shard names with a shard)."""
    started = time.perf_counter()
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    videos, outcomes = collect_videos(inputs)
    videos = [video for video in videos if in_shard(video, shard)]
    outcomes = [outcome for outcome in outcomes if in_shard(outcome.video, shard)]
    workers = max(1, min(workers, len(videos) or 1))
    if workers > 1 and settings.threads == 0:
        settings = settings.replace(threads=max(1, (os.cpu_count() or 1) // workers))
    bar = tqdm(total=len(videos), unit="video", desc="codec", disable=not progress)
    if workers == 1:
        for video in videos:
            outcomes.append(process_video(video, out_root, settings, viz, force))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=fork_context()) as pool:
            futures = [pool.submit(process_video, video, out_root, settings, viz, force) for video in videos]
            for future in as_completed(futures):
                outcomes.append(future.result())
                bar.update()
    bar.close()
    report = BatchReport(outcomes, time.perf_counter() - started, record_names(shard)[1])
    _write_records(out_root, report, shard)
    return report


def _write_records(out_root: Path, report: BatchReport, shard: tuple[int, int] | None) -> None:
    index_name, failures_name = record_names(shard)
    failures = out_root / failures_name
    if report.failures:
        failures.write_text("".join(f"{o.video}\t{o.reason}\n" for o in report.failures))
    elif failures.exists():
        failures.unlink()
    with (out_root / index_name).open("w") as index:
        for outcome in sorted(report.outcomes, key=lambda o: o.video):
            index.write(json.dumps(asdict(outcome)) + "\n")
