"""``ov-vlm demo``: the end-to-end CPU demo — motion world -> codec selection -> stage 1 -> stage 2 -> lmms-eval in
codec and frames mode (dense on request) -> report and plot -> one streamed chat turn. ``make demo`` runs it.

Everything goes to one folder (default ``runs/demo``); re-running skips the steps that already finished. With
``--seeds 0,1,2`` the whole demo runs once per seed (world and training) in ``<out>/seed-<n>/`` and ``seeds.md``
gives the spread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ov_vlm.errors import UsageError
from ov_vlm.utils.options import VIDEO_MODES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the end-to-end CPU demo (what `make demo` runs)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="demo folder (default runs/demo)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the world and of training (default 0)")
    parser.add_argument("--seeds", help="run once per seed, e.g. 0,1,2, and summarise the spread (seeds.md)")
    parser.add_argument(
        "--modes", default="codec,frames", help="video modes to evaluate (default codec,frames; dense: not trained on)"
    )
    parser.add_argument("--small", action="store_true", help="a reduced demo (fewer clips and steps; ~2 min)")
    parser.add_argument("--no-chat", action="store_true", help="skip the chat turn")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ov_vlm.demo.pipeline import DemoConfig, DemoError, run_demo, run_seeds

    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = [m for m in modes if m not in VIDEO_MODES]
    if unknown:
        raise UsageError(f"unknown video mode(s) {unknown}; use codec, frames, dense")
    try:
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    except ValueError:
        raise UsageError(f"--seeds takes integers separated by commas, got {args.seeds!r}") from None
    config = DemoConfig(out=args.out, seed=args.seed, modes=modes, chat=not args.no_chat)
    if args.small:
        reduce(config)
    try:
        run_seeds(config, seeds) if seeds else run_demo(config)
    except DemoError as error:
        print(f"ov-vlm demo: {error}", file=sys.stderr)
        return 1
    return 0


def reduce(config) -> None:
    """The reduced demo (tests, a quick look): a few clips, a few steps."""
    from ov_vlm.demo.tower import TowerSettings
    from ov_vlm.demo.world import WorldSpec

    config.tower = TowerSettings(steps=3, batch_size=4, warmup_steps=1)
    config.world = WorldSpec(
        frames=32, videos={"train": 24, "val": 4, "test": 8}, images={"train": 8, "val": 2, "test": 4}
    )
    config.stage1 = ["train.max_steps=3"]
    config.stage2 = ["train.max_steps=6", "train.logging_steps=1"]
    config.viz_videos = 1
