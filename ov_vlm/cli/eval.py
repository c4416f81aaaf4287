"""``ov-vlm eval``: run a benchmark suite through stock lmms-eval and report it beside the published numbers.

ov-vlm eval --model DIR --suite paper16 [--tasks mvbench,ai2d] [--limit N] [--output DIR]   (= ov-vlm eval run)
ov-vlm eval compare RESULT... [--output DIR]     several runs (e.g. the three encoders) in one table + chart
ov-vlm eval prefetch --suite paper16 [--tasks …]  download datasets ahead of time; says what needs a token/key
ov-vlm eval tasks [--suite paper16]               list a suite's tasks and how each score is read
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ov_vlm.cli.fields import add_fields, field_values
from ov_vlm.evaluation.requests import EvalRequest

SUBCOMMANDS = ("run", "compare", "prefetch", "tasks")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate with lmms-eval: run a suite, compare runs, prefetch datasets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="eval_command", metavar="{run,compare,prefetch,tasks}")

    run = commands.add_parser("run", help="run a suite on a model folder (the default)")
    run.add_argument("--suite", default="paper16", help="suite name (eval/suites/NAME.yaml) or a suite YAML")
    run.add_argument("--tasks", help="comma-separated suite ids or lmms-eval task names (default: all)")
    add_fields(run, EvalRequest)  # --model, --limit, --video-mode, ...: generated from the fields
    run.set_defaults(run=run_command, user_errors=(ValueError,))

    compare = commands.add_parser("compare", help="compare result files in one table and chart")
    compare.add_argument("results", nargs="+", type=Path, help="result.json files or run folders")
    compare.add_argument("--output", type=Path, default=Path("."), help="folder for compare.md and compare.png")
    compare.set_defaults(run=compare_command)

    prefetch = commands.add_parser("prefetch", help="download a suite's datasets ahead of time")
    prefetch.add_argument("--suite", default="paper16")
    prefetch.add_argument("--tasks", help="comma-separated suite ids (default: all)")
    prefetch.add_argument("--check", action="store_true", help="only list what is cached and what each task needs")
    prefetch.set_defaults(run=prefetch_command)

    tasks = commands.add_parser("tasks", help="list a suite's tasks and how to read each score")
    tasks.add_argument("--suite", default="paper16")
    tasks.set_defaults(run=tasks_command)
    parser.set_defaults(run=lambda args: parser.print_help() or 2)


def _suite(args):
    from ov_vlm.evaluation.suite import load_suite

    suite = load_suite(args.suite)
    return suite.select([t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None)


def run_command(args: argparse.Namespace) -> int:
    from ov_vlm.evaluation.runner import run_eval

    suite = _suite(args)
    values = field_values(args, EvalRequest)
    mode = args.video_mode or "model"
    values["output"] = args.output or Path("runs") / "eval" / f"{args.model.resolve().name}-{suite.name}-{mode}"
    request = EvalRequest(suite=suite, **values)
    result = run_eval(request)
    out = request.output.resolve()
    print(
        f"\nov-vlm eval: {len(result['scores'])} scored, {len(result['missing'])} missing, "
        f"{len(result['failures'])} failed samples ({result['elapsed_s']} s)"
    )
    for score in result["scores"].values():
        print(f"  {score['benchmark']:<28} {score['value']:8.2f}")
    print(f"report: {out / 'report.md'}\nresult: {out / 'result.json'}")
    return 1 if result["missing"] or result["failures"] else 0


def compare_command(args: argparse.Namespace) -> int:
    from ov_vlm.evaluation.chart import axis_label, bar_chart, weighted
    from ov_vlm.evaluation.report import compare_report
    from ov_vlm.evaluation.results import load_result, run_label

    results = [load_result(path) for path in args.results]
    args.output.mkdir(parents=True, exist_ok=True)
    report = compare_report(results)
    (args.output / "compare.md").write_text(report)
    task_ids: list[str] = []
    for result in results:
        task_ids += [t for t in result["scores"] if t not in task_ids]
    names = [next(r["scores"][t]["benchmark"] for r in results if t in r["scores"]) for t in task_ids]
    series = {run_label(r): [weighted(r["scores"].get(t)) for t in task_ids] for r in results}
    every = [s for r in results for s in r["scores"].values()]
    bar_chart(args.output / "compare.png", names, series, "encoder comparison", axis_label(every))
    print(report)
    print(f"wrote {args.output / 'compare.md'} and {args.output / 'compare.png'}")
    return 0


def prefetch_command(args: argparse.Namespace) -> int:
    from ov_vlm.evaluation import hub
    from ov_vlm.evaluation.prefetch import prefetch_task, requirements, task_manager

    suite = _suite(args)
    remote = [t for t in suite.tasks if not t.is_local]
    token = hub.have_token()
    print(f"{'task':<16} {'dataset':<34} {'cached':<7} needs")
    for task in suite.tasks:
        cached = "local" if task.is_local else ("yes" if hub.dataset_cached(task.dataset) else "no")
        print(f"{task.id:<16} {task.dataset or '(local)':<34} {cached:<7} {requirements(task, token)}")
    if args.check or not remote:
        return 0
    online, why = hub.reachable()
    if not online:
        missing = [t.id for t in remote if not hub.dataset_cached(t.dataset)]
        print(f"ov-vlm eval prefetch: cannot download: {why}.", file=sys.stderr)
        if missing:
            print(f"missing from the cache: {', '.join(missing)}", file=sys.stderr)
            return 2
        print("everything is cached already.", file=sys.stderr)
        return 0
    from tqdm.auto import tqdm

    failed = []
    manager = task_manager(suite)
    for task in tqdm(remote, desc="prefetch", unit="task"):
        status = prefetch_task(task, manager)
        tqdm.write(f"{'ok  ' if status.ok else 'FAIL'} {task.id}: {status.message}")
        if not status.ok:
            failed.append(task.id)
    print(
        f"prefetch: {len(remote) - len(failed)} of {len(remote)} ready"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def tasks_command(args: argparse.Namespace) -> int:
    from ov_vlm.evaluation.suite import load_suite

    suite = load_suite(args.suite)
    print(f"{suite.name}: {suite.description}")
    for task in suite.tasks:
        print(f"  {task.id:<16} {task.kind:<6} --tasks {task.task:<24} {task.result_key:<30} {task.read}")
    return 0
