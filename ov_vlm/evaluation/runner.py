"""``ov-vlm eval``: run stock lmms-eval on a model folder for a suite, then write the result file and the report.

The run folder holds ``raw/`` (lmms-eval's results and logged samples), ``lmms_eval.log``, ``failures.jsonl``,
``result.json`` (scores + every setting), ``report.md`` and ``chart.png``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ov_vlm.codec import default_root, parse_budget
from ov_vlm.errors import OVVLMError
from ov_vlm.processing.visual import VisualSpec
from ov_vlm.utils.versions import git_revision, package_versions

from . import hub
from .chart import axis_label, bar_chart, weighted
from .report import run_report
from .requests import EvalRequest
from .results import FORMAT, RESULT_FILE, find_raw_results, model_info, read_failures, read_scores
from .suite import Published, Suite, SuiteError, load_published

RECORDED_PACKAGES = ("ov-vlm", "lmms-eval", "torch", "transformers", "datasets", "av", "accelerate")
DISTRIBUTED_ENV = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}


class EvalError(OVVLMError, RuntimeError):
    """An evaluation that cannot run or produced nothing (one line, says what is missing)."""


def effective_settings(request: EvalRequest, spec: dict[str, Any]) -> dict[str, Any]:
    """The video settings the model will use: the model folder's, overridden by the request."""
    budget = parse_budget(request.budget) if request.budget else None
    visual = VisualSpec.from_dict(spec).with_video(request.video_mode, request.frames, budget)
    codec = visual.codec_settings()
    return {
        "video_mode": visual.video_mode,
        "frames": {"codec": codec.frames, "dense": visual.dense_frames}.get(visual.video_mode, visual.num_frames),
        "budget": codec.budget if codec.budget is not None else codec.fixed_budget(),
        "codec_K": codec.fixed_budget(),
        "codec": codec.output_key(),
        "batch_size": request.batch_size,
        "limit": request.limit,
        "device": request.device,
        "dtype": request.dtype,
        "attn_implementation": request.attn_implementation,
        "max_new_tokens": request.max_new_tokens,
        "nproc": request.nproc,
        "threads": request.threads,
    }


def preflight(suite: Suite) -> tuple[Suite, dict[str, str], dict[str, str], list[str]]:
    """(runnable suite, missing task -> reason, environment additions, warnings) — decided without hanging."""
    remote = [t for t in suite.tasks if not t.is_local]
    missing: dict[str, str] = {}
    env: dict[str, str] = {}
    warnings: list[str] = []
    if remote:
        online, why = hub.reachable()
        if not online:
            env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
            for task in remote:
                if not hub.dataset_cached(task.dataset):
                    missing[task.id] = (
                        f"{task.dataset} is not in the local cache ({hub.hub_cache()}) and {why}; run "
                        f"`ov-vlm eval prefetch --suite {suite.name} --tasks {task.id}` where the Hub is reachable"
                    )
        elif any(t.needs_token for t in remote) and not hub.have_token():
            names = ", ".join(t.id for t in remote if t.needs_token)
            warnings.append(f"no Hugging Face token; {names} need one (huggingface-cli login)")
        for task in remote:
            if task.judge and not os.environ.get(task.judge.split()[0]):
                warnings.append(f"{task.id}: its metric calls a judge ({task.judge}); without the key it will fail")
    runnable = dataclasses.replace(suite, tasks=tuple(t for t in suite.tasks if t.id not in missing))
    return runnable, missing, env, warnings


def model_args(request: EvalRequest, failures: Path) -> str:
    args = {
        "pretrained": str(request.model.resolve()),
        "device": request.device,
        "dtype": request.dtype,
        "attn_implementation": request.attn_implementation,
        "video_mode": request.video_mode,
        "frames": request.frames,
        "budget": request.budget,
        "max_new_tokens": request.max_new_tokens,
        "cache_dir": str((request.cache_dir or default_root()).resolve()),
        "failures_file": str(failures.resolve()),
    }
    for key, value in args.items():
        if value is not None and ("," in str(value) or "=" in str(value)):
            raise EvalError(f"model_args value for {key} may not contain ',' or '=': {value}")
    return ",".join(f"{k}={v}" for k, v in args.items() if v is not None)


def lmms_eval_command(request: EvalRequest, suite: Suite, raw: Path, failures: Path) -> list[str]:
    """The stock lmms-eval command line (under ``accelerate launch`` for several processes; ``--multi_gpu`` is
    accelerate's data-parallel mode, which also runs CPU processes: without it a CPU machine gets one process)."""
    if request.nproc > 1:
        accelerate = str(Path(sys.executable).parent / "accelerate")
        launcher = [accelerate, "launch", "--multi_gpu", f"--num_processes={request.nproc}"]
        command = [*launcher, "-m", "lmms_eval"]
    else:
        command = [sys.executable, "-m", "lmms_eval"]
    command += ["--model", "ov_vlm", "--model_args", model_args(request, failures)]
    command += ["--tasks", ",".join(t.task for t in suite.tasks), "--batch_size", str(request.batch_size)]
    command += ["--output_path", str(raw.resolve()), "--log_samples"]
    if suite.include_path is not None:
        command += ["--include_path", str(suite.include_path)]
    if request.limit:
        command += ["--limit", str(request.limit)]
    return command + list(request.extra_args)


def _stream(command: list[str], cwd: Path, env: dict[str, str], log: Path, quiet: bool) -> int:
    """Run ``command``, copying its output (progress bars included) to the terminal and to ``log``."""
    with log.open("wb") as sink:
        sink.write(("$ " + shlex.join(command) + "\n").encode())
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        while chunk := process.stdout.read1(8192):
            sink.write(chunk)
            if not quiet:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
        return process.wait()


def _last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line.lower():
            return line[-300:]
    return lines[-1][-300:] if lines else "no output"


def run_eval(request: EvalRequest) -> dict[str, Any]:
    """Run the suite on the model; returns the result (also written to ``request.output``)."""
    from ov_vlm.model.inference import ModelLoadError, check_model_dir

    if request.threads is not None and request.threads < 1:
        raise EvalError(f"threads must be at least 1, got {request.threads}")
    try:
        check_model_dir(request.model)
    except ModelLoadError as error:
        raise EvalError(str(error)) from None
    suite, missing, env_extra, warnings = preflight(request.suite)
    for warning in warnings:
        print(f"ov-vlm eval: warning: {warning}", file=sys.stderr)
    for task_id, reason in missing.items():
        print(f"ov-vlm eval: cannot run {task_id}: {reason}", file=sys.stderr)
    if not suite.tasks:
        raise EvalError(f"nothing to run: {len(missing)} task(s) are missing their data (see above)")
    output = request.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    raw, failures, log = output / "raw", output / "failures.jsonl", output / "lmms_eval.log"
    failures.unlink(missing_ok=True)
    info = model_info(request.model)
    command = lmms_eval_command(request, suite, raw, failures)
    env = {k: v for k, v in os.environ.items() if k not in DISTRIBUTED_ENV}  # a launcher sets its own
    env.update(env_extra, TOKENIZERS_PARALLELISM="false")
    if request.threads:
        env.update(OMP_NUM_THREADS=str(request.threads), MKL_NUM_THREADS=str(request.threads))
    env.setdefault("HF_HOME", str(Path.home() / ".cache" / "huggingface"))  # some lmms-eval tasks read it on import
    cwd = suite.run_from or Path.cwd()
    started = time.perf_counter()
    code = _stream(command, cwd, env, log, request.quiet)
    elapsed = time.perf_counter() - started
    raw_file = find_raw_results(raw)
    if raw_file is None or raw_file.stat().st_mtime < time.time() - elapsed - 5:
        raise EvalError(f"lmms-eval wrote no results (exit code {code}): {_last_error(log)}; full log: {log}")
    scores, not_scored = read_scores(json.loads(raw_file.read_text()), suite)
    result = {
        "format": FORMAT,
        "suite": request.suite.name,
        "suite_file": str(request.suite.path),
        "tasks": [t.id for t in request.suite.tasks],
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {k: v for k, v in info.items() if k != "visual_spec"},
        "settings": effective_settings(request, info["visual_spec"]),
        "versions": {**package_versions(RECORDED_PACKAGES), "python": sys.version.split()[0]},
        "git_revision": git_revision(Path(__file__).resolve().parent),
        "command": command,
        "elapsed_s": round(elapsed, 1),
        "raw_results": str(raw_file.relative_to(output)),
        "scores": scores,
        "missing": {**missing, **not_scored},
        "failures": read_failures(failures),
        "warnings": warnings,
    }
    write_outputs(result, output, request.reference)
    return result


def write_outputs(result: dict[str, Any], output: Path, reference: str | None = None) -> dict[str, Path]:
    """``result.json``, ``report.md`` and ``chart.png`` of one run."""
    try:
        published: Published | None = load_published()
    except SuiteError:
        published = None
    column = None
    if published is not None:
        column = (
            published.column(reference)
            if reference
            else published.reference_for(result["model"].get("encoder"), result["settings"].get("video_mode"))
        )
        if not any(t in published.scores for t in result["scores"]):
            published, column = None, None
    result = {k: v for k, v in result.items() if not k.startswith("_")}
    result["reference_column"] = column.id if column else None
    paths = {"result": output / RESULT_FILE, "report": output / "report.md", "chart": output / "chart.png"}
    paths["result"].write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    paths["report"].write_text(run_report(result, published, column))
    scores = result["scores"]
    if scores:
        series = {"this run": [weighted(s) for s in scores.values()]}
        if column is not None:
            series[f"published {column.label}"] = [
                None
                if published.scores.get(t, {}).get(column.id) is None
                else published.scores[t][column.id] * scores[t].get("weight", 1.0)
                for t in scores
            ]
        bar_chart(
            paths["chart"],
            [s["benchmark"] for s in scores.values()],
            series,
            f"{result['suite']}: {result['model']['name']} ({result['settings']['video_mode']})",
            axis_label(list(scores.values())),
        )
    else:
        paths.pop("chart")
    return paths
