"""The end-to-end demo: motion world -> codec selection -> stage 1 -> stage 2 -> lmms-eval in three video modes ->
report + plot -> one streamed chat turn. Each finished step is recorded in ``steps.json`` and skipped on re-runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ov_vlm.errors import OVVLMError
from ov_vlm.resources import resource_path
from ov_vlm.utils.processes import fork_context

from .console import LogProgress, last_line, run_logged
from .tower import TowerSettings
from .world import WorldSpec

RECIPES = resource_path("recipes", "demo")
MODEL_PRESET = resource_path("presets", "demo.yaml")  # the demo model and visual settings, its codec selection
MODES = ("codec", "frames", "dense")
DEFAULT_MODES = ("codec", "frames")  # dense (64 frames) is not trained on: 8x the tokens per clip
WORKERS = min(2, os.cpu_count() or 1)  # processes for the world's clips and their codec selection (a laptop's cores)


@dataclass
class DemoConfig:
    out: Path = Path("runs/demo")
    seed: int = 0
    world: WorldSpec = field(default_factory=WorldSpec)
    tower: TowerSettings = field(default_factory=TowerSettings)
    stage1: list[str] = field(default_factory=list)  # recipe overrides (key=value)
    stage2: list[str] = field(default_factory=list)
    modes: tuple[str, ...] = DEFAULT_MODES
    viz_videos: int = 3
    eval_batch_size: int = 8
    chat: bool = True


class DemoError(OVVLMError, RuntimeError):
    """A demo step failed (one line naming the step and where its log is)."""


class Steps:
    """``steps.json``: which steps finished, when, and in how long."""

    def __init__(self, out: Path):
        self.path = out / "steps.json"
        self.state: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self._lock = threading.Lock()  # steps running side by side mark themselves from their threads

    def done(self, name: str, outputs: list[Path]) -> bool:
        return bool(self.state.get(name, {}).get("done")) and all(p.exists() for p in outputs)

    def mark(self, name: str, seconds: float, **info: Any) -> None:
        with self._lock:
            self.state[name] = {"done": True, "seconds": round(seconds, 1), **info}
            self.path.write_text(json.dumps(self.state, indent=1))


def say(text: str) -> None:
    print(text, flush=True)


def step_data(config: DemoConfig) -> dict[str, Path]:
    from tqdm.auto import tqdm

    from .world import generate_world

    spec = config.world
    total = sum(spec.videos.values()) + sum(spec.images.values())
    with tqdm(total=total, desc="motion world", unit="clip") as bar:
        written = generate_world(
            config.out / "data", spec, config.seed, bar.update, train_modes=("codec", "frames"), workers=WORKERS
        )
    lines = written["train"].read_text().splitlines()
    written["train_images"] = config.out / "data" / "train_images.jsonl"  # stage 1: the still images first
    written["train_images"].write_text("".join(line + "\n" for line in lines if "image" in json.loads(line)))
    return written


def codec_settings():
    """The demo's codec selection: ``visual_spec.codec`` of the demo model preset (the one place it is set)."""
    from ov_vlm.codec import CodecSettings
    from ov_vlm.model.presets import load_preset

    return CodecSettings.from_dict(load_preset(MODEL_PRESET).visual_spec.get("codec", {}))


def _cache_selection(root: Path, video: Path, settings) -> None:
    from ov_vlm.codec import CodecCache

    CodecCache(root).select(video, settings)


def step_codec(config: DemoConfig) -> list[Path]:
    """Codec selections of every clip into the shared cache (training and evaluation read it), plus pictures."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    from ov_vlm.codec.pipeline import select_patches
    from ov_vlm.codec.viz import save_visualization

    root, settings = config.out / "codec_cache", codec_settings()
    videos = sorted((config.out / "data" / "media").glob("*.mp4"))
    with (
        ProcessPoolExecutor(WORKERS, mp_context=fork_context()) as pool,
        tqdm(total=len(videos), desc="codec selection", unit="video") as bar,
    ):
        for _ in pool.map(_cache_selection, [root] * len(videos), videos, [settings] * len(videos), chunksize=8):
            bar.update()
    pictures = []
    for video in [v for v in videos if v.name.startswith("test-")][: config.viz_videos]:
        target = config.out / "codec" / f"{video.stem}.png"  # pictures need the in-memory scores and frames
        target.parent.mkdir(parents=True, exist_ok=True)
        pictures.append(save_visualization(select_patches(video, settings), target, thumb=160, title=video.name))
    return pictures


def step_tower(config: DemoConfig) -> Path:
    """Pretrain the fresh demo model's vision tower and projector on the training clips (``stage0_tower``), in its
    own process (``python -m ov_vlm.demo.tower``); its output goes to a log."""
    from .tower import settings_arguments

    out, log = config.out / "stage0_tower", config.out / "logs" / "stage0_tower.log"
    command = [sys.executable, "-m", "ov_vlm.demo.tower", str(config.out / "data"), str(out)]
    command += ["--codec-cache", str(config.out / "codec_cache"), "--preset", str(MODEL_PRESET)]
    command += [f"--seed={config.seed}", *settings_arguments(config.tower)]
    say(f"    $ python -m ov_vlm.demo.tower ... (full log: {log})")
    code = run_logged(command, log, "tower")
    if code != 0 or not (out / "model.safetensors").is_file():
        raise DemoError(f"tower pretraining failed (exit {code}); see {log}")
    say(f"    {last_line(log, 'tower pretraining:') or 'tower pretrained'}")
    return out


def step_train(stage: str, config: DemoConfig) -> Path:
    """``ov-vlm train`` on the demo recipe, in its own process (as a user runs it); its output goes to a log."""
    out = config.out / stage
    data = config.out / "data"
    seed = [f"train.seed={config.seed}"]
    if stage == "stage1_align":
        start = config.out / "stage0_tower"
        overrides = [f"init_from={start}", f"data.train={data / 'train_images.jsonl'}", *config.stage1]
    else:
        overrides = [f"data.train={data / 'train.jsonl'}", f"init_from={config.out / 'stage1_align'}", *config.stage2]
    overrides += [*seed, f"output_dir={out}", f"data.codec_cache={config.out / 'codec_cache'}"]
    command = [sys.executable, "-m", "ov_vlm.cli.main", "train", str(RECIPES / f"{stage}.yaml"), *overrides]
    log = config.out / "logs" / f"{stage}.log"
    say(f"    $ ov-vlm train recipes/demo/{stage}.yaml ... (full log: {log})")
    code = run_logged(command, log, stage.split("_")[0])
    if code != 0 or not (out / "model.safetensors").is_file():
        raise DemoError(f"{stage} failed (exit {code}); see {log}")
    say(f"    {last_line(log, 'trained ') or 'trained'}")
    return out


def write_task(config: DemoConfig) -> Path:
    """The held-out split as an lmms-eval task plus a one-task suite file."""
    from ov_vlm.evaluation.local_tasks import write_task as write

    folder = config.out / "tasks"
    write(folder, "motion_world_test", config.out / "data" / "test.jsonl", max_new_tokens=6)
    suite = folder / "demo.yaml"
    suite.write_text(
        "name: motion_world\ninclude_path: .\ntasks:\n  - id: motion_world\n    benchmark: Motion world (test)\n"
        "    kind: video\n    task: motion_world_test\n    metric: exact_match\n    scale: 100.0\n"
    )
    return suite


def step_eval(config: DemoConfig, mode: str, suite: Path, threads: int | None = None, position: int = 0) -> str:
    """lmms-eval on the held-out task (``suite``, from `write_task`) in one video mode; returns its summary line."""
    from ov_vlm.evaluation.runner import EvalError, EvalRequest, run_eval
    from ov_vlm.evaluation.suite import load_suite

    request = EvalRequest(
        model=config.out / "stage2_sft",
        suite=load_suite(suite),
        output=config.out / "eval" / mode,
        video_mode=mode,
        batch_size=config.eval_batch_size if mode != "dense" else 2,
        cache_dir=config.out / "codec_cache",
        threads=threads,
        quiet=True,
    )
    try:
        with LogProgress(request.output / "lmms_eval.log", f"lmms-eval {mode}", unit="question", position=position):
            result = run_eval(request)
    except EvalError as error:
        raise DemoError(f"evaluation in {mode} mode failed: {error}") from None
    score = result["scores"].get("motion_world", {})
    shown = f"{score['value']:.1f}%" if isinstance(score.get("value"), int | float) else "no score"
    return f"    {mode}: {shown} exact match on all held-out questions (log: {request.output / 'lmms_eval.log'})"


def eval_result(config: DemoConfig, mode: str) -> Path:
    return config.out / "eval" / mode / "result.json"


def step_evals(config: DemoConfig, steps: Steps) -> list[Path]:
    """The held-out evaluation in every mode not evaluated yet, side by side: one lmms-eval process per mode, at
    most `WORKERS` at a time, sharing the cores' threads (one each on two cores: that overlaps their start-up,
    while two processes with two threads each would wait on each other). Each mode is recorded in ``steps.json``
    as it finishes."""
    from concurrent.futures import ThreadPoolExecutor

    todo = [mode for mode in config.modes if not steps.done(f"eval_{mode}", [eval_result(config, mode)])]
    for mode in config.modes:
        if mode not in todo:
            say(f"    eval_{mode}: done already (in {config.out}); skipped")
    if not todo:
        return []
    parallel = min(len(todo), WORKERS)
    threads = max(1, (os.cpu_count() or 1) // parallel) if parallel > 1 else None
    say(f"    {' and '.join(todo)} mode" + ("s side by side ..." if threads else " ..."))
    suite = write_task(config)  # once, before the evaluations read it

    def evaluate(position: int, mode: str) -> str:
        started = time.perf_counter()
        line = step_eval(config, mode, suite, threads, position)
        steps.mark(f"eval_{mode}", time.perf_counter() - started, threads=threads)
        return line

    with ThreadPoolExecutor(parallel) as pool:
        futures = [pool.submit(evaluate, k, mode) for k, mode in enumerate(todo)]
        lines = [future.result() for future in futures]
    for line in lines:  # after every bar has closed
        say(line)
    return [eval_result(config, mode) for mode in todo]


def step_chat(config: DemoConfig) -> dict[str, str]:
    """``ov-vlm chat`` in its own process; its answer streams to the terminal."""
    records = [json.loads(line) for line in (config.out / "data" / "test.jsonl").read_text().splitlines()]
    sample = next(r for r in records if r["question_type"] == "direction")
    question = sample["conversations"][0]["value"].split("\n", 1)[1]
    video = config.out / "data" / sample["video"]
    say(f"$ ov-vlm chat --model {config.out / 'stage2_sft'} --video {video} --codec --prompt {question!r}")
    model = str(config.out / "stage2_sft")
    command = [
        "chat",
        "--model",
        model,
        "--video",
        str(video),
        "--codec",
        "--prompt",
        question,
        "--max-new-tokens",
        "8",
    ]
    sys.stdout.flush()
    log = config.out / "logs" / "chat.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as errors:  # the answer streams to the terminal, anything else goes to the log
        code = subprocess.call([sys.executable, "-m", "ov_vlm.cli.main", *command], stderr=errors)
    say(f"(ground truth: {sample['conversations'][1]['value']})")
    if code != 0:
        raise DemoError(f"chat failed (exit {code}); see {log}")
    return {"video": str(video), "question": question, "truth": sample["conversations"][1]["value"]}


STEP_TEXT = {
    "data": "1/6 Generating the motion world: shapes moving over textured backgrounds, real H.264 clips, QA in LLaVA "
    "format.",
    "codec": "2/6 Codec selection: motion vectors + residuals pick the salient patches of each clip (pictures in "
    "codec/).",
    "stage0_tower": "3/6 Tower pretraining: the vision tower learns to tell the world's clusters apart (colour, shape, "
    "direction, stops of the moving shape) before any language.",
    "stage1_align": "3/6 Stage 1 on the still images first: projector and LLM (tower frozen), colour and shape "
    "questions (DeepSpeed ZeRO-2 on CPU).",
    "stage2_sft": "3/6 Stage 2 instruction tuning: projector and LLM (tower frozen), on all questions, codec and "
    "frames input alike.",
    "eval": "4/6 Evaluation through lmms-eval on the held-out split: codec top-K vs uniform frames, 128 tokens per "
    "clip each.",
    "report": "5/6 Results table and plot.",
    "chat": "6/6 One chat turn on a test video (codec input), streamed.",
}


def run_demo(config: DemoConfig, progress: Callable[[str], None] = say) -> Path:
    """Run (or resume) the demo in ``config.out``; returns the report path."""
    from .report import write_report

    out = config.out = config.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    steps = Steps(out)
    started_all = time.perf_counter()
    plan: list[tuple[str, Callable[[], Any], list[Path]]] = [
        (
            "data",
            lambda: step_data(config),
            [out / "data" / n for n in ("test.jsonl", "train.jsonl", "train_images.jsonl")],
        ),
        ("codec", lambda: step_codec(config), [out / "codec"]),
        ("stage0_tower", lambda: step_tower(config), [out / "stage0_tower" / "model.safetensors"]),
        ("stage1_align", lambda: step_train("stage1_align", config), [out / "stage1_align" / "model.safetensors"]),
        ("stage2_sft", lambda: step_train("stage2_sft", config), [out / "stage2_sft" / "model.safetensors"]),
    ]
    plan.append(("eval", lambda: step_evals(config, steps), [eval_result(config, m) for m in config.modes]))
    report = ("report", lambda: write_report(out, config.modes, config.seed), [out / "report.md", out / "results.json"])
    plan.append(report)
    if config.chat:
        plan.append(("chat", lambda: step_chat(config), []))
    shown = set()
    for name, action, outputs in plan:
        text = STEP_TEXT.get(name)
        if text and text not in shown:
            progress(f"\n==> {text}")
            shown.add(text)
        if name != "chat" and steps.done(name, outputs):
            progress(f"    {name}: done already (in {out}); skipped")
            continue
        started = time.perf_counter()
        action()
        steps.mark(name, time.perf_counter() - started)
    total = time.perf_counter() - started_all
    progress(f"\nDemo finished in {total / 60:.1f} min. Everything is in {out}")
    progress(f"  report: {out / 'report.md'}\n  plot:   {out / 'results.png'}")
    sys.stdout.flush()
    return out / "report.md"


def run_seeds(config: DemoConfig, seeds: list[int], progress: Callable[[str], None] = say) -> Path:
    """The demo once per seed in ``<out>/seed-<n>/`` (chat only for the first), then ``seeds.md``."""
    from .report import write_seed_summary

    out = config.out.resolve()
    runs = {}
    for k, seed in enumerate(seeds):
        progress(f"\n######## seed {seed} ({k + 1} of {len(seeds)})")
        run = dataclasses.replace(config, out=out / f"seed-{seed}", seed=seed, chat=config.chat and k == 0)
        run_demo(run, progress)
        runs[seed] = run.out
    path = write_seed_summary(out, runs)
    progress(f"\nSpread over seeds {', '.join(map(str, seeds))}: {path}")
    return path
