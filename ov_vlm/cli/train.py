"""``ov-vlm train``: run a training recipe, on one process or several (DeepSpeed or torchrun launcher)."""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
from pathlib import Path

EPILOG = """examples:
  ov-vlm train recipes/tiny/stage1_align.yaml
  ov-vlm train recipes/tiny/stage2_sft.yaml init_from=runs/tiny/stage1_align train.max_steps=20
  ov-vlm train recipes/ov-encoder-large_qwen3-4b/stage2_sft.yaml --nproc 8            # deepspeed launcher
  ov-vlm train RECIPE --nproc 8 --launcher torchrun
multi-node: see README, "Training on GPUs" (deepspeed --hostfile, torchrun --nnodes, accelerate launch)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="run a training recipe (YAML) under DeepSpeed",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("recipe", type=Path, help="recipe YAML (recipes/<size>/<stage>.yaml)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides (output_dir=..., init_from=..., train.x=...)")
    parser.add_argument("--nproc", type=int, default=1, help="processes on this machine (GPUs, or CPU processes)")
    parser.add_argument(
        "--launcher",
        choices=["auto", "none", "deepspeed", "torchrun"],
        default="auto",
        help="auto: in-process for 1 process, else deepspeed",
    )
    parser.add_argument("--master-port", type=int, default=None)
    parser.set_defaults(run=run, user_errors=(ValueError, FileNotFoundError))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _executable(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"the {name} launcher is not installed (pip install -e '.[train]')")
    return found


def launch_command(args: argparse.Namespace) -> list[str]:
    """The launcher command line for ``args`` (empty: run in this process)."""
    launcher = args.launcher
    if launcher == "auto":
        launcher = "none" if args.nproc == 1 else "deepspeed"
    if launcher == "none":
        if args.nproc != 1:
            raise ValueError("--launcher none runs one process; use deepspeed or torchrun for --nproc > 1")
        return []
    port = str(args.master_port or _free_port())
    payload = [str(args.recipe), *args.overrides]
    if launcher == "deepspeed":
        return [
            _executable("deepspeed"),
            "--num_gpus",
            str(args.nproc),
            "--no_local_rank",
            "--master_port",
            port,
            "--module",
            "ov_vlm.train.run",
            *payload,
        ]
    return [
        _executable("torchrun"),
        "--nproc_per_node",
        str(args.nproc),
        "--master_port",
        port,
        "-m",
        "ov_vlm.train.run",
        *payload,
    ]


def run(args: argparse.Namespace) -> int:
    from ov_vlm.train.recipe import load_recipe

    load_recipe(args.recipe, args.overrides)  # a bad recipe is one line here, not one traceback per process
    command = launch_command(args)
    if not command:
        from ov_vlm.train.run import main as run_training

        return run_training([str(args.recipe), *args.overrides])
    print("launching:", " ".join(command), flush=True)
    return subprocess.call(command)
