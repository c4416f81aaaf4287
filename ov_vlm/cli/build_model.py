"""``ov-vlm build-model``: write a ready model folder from a preset (random init, or published parts)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ov_vlm.errors import UsageError
from ov_vlm.utils.options import VIDEO_MODES

EPILOG = """examples:
  ov-vlm build-model --preset tiny --random-init --out tiny-model
  ov-vlm build-model --preset ov-encoder-large_qwen3-4b --vision onevision-encoder-large \\
      --llm qwen3-4b-instruct-2507 --out ov-encoder-large_qwen3-4b
presets live in checkpoints/presets/ (or pass a YAML file); see checkpoints/README.md."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "build-model",
        help="write a model folder from a preset (random init or published encoder + LLM weights)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", help="preset name or YAML file (required unless --list)")
    parser.add_argument("--out", type=Path, help="model folder to write (required unless --list)")
    parser.add_argument("--random-init", action="store_true", help="random weights (offline; tests, smoke runs)")
    parser.add_argument("--vision", type=Path, help="vision tower checkpoint folder")
    parser.add_argument("--llm", type=Path, help="causal LM checkpoint folder")
    parser.add_argument("--tokenizer", type=Path, help="tokenizer folder (default: --llm, else the preset's)")
    parser.add_argument("--projector", choices=["mlp2x_gelu", "spatial_merge_2x2"], help="override the projector")
    parser.add_argument("--video-mode", choices=VIDEO_MODES, help="override the video mode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="list the presets and exit")
    parser.set_defaults(run=run, user_errors=(ValueError, OSError))


def run(args: argparse.Namespace) -> int:
    from ov_vlm.model.builder import build_model_dir
    from ov_vlm.model.presets import available_presets, load_preset

    if args.list:
        print("\n".join(available_presets()))
        return 0
    missing = [flag for flag, value in (("--preset", args.preset), ("--out", args.out)) if value is None]
    if missing:
        raise UsageError(f"{' and '.join(missing)} required (or --list)")
    preset = load_preset(args.preset)
    overrides = {"video_mode": args.video_mode} if args.video_mode else {}
    out = build_model_dir(
        preset,
        args.out,
        random_init=args.random_init,
        vision=args.vision,
        llm=args.llm,
        tokenizer=args.tokenizer,
        projector=args.projector,
        seed=args.seed,
        visual_overrides=overrides,
    )
    print(f"wrote {out} (preset {preset.name}{', random init' if args.random_init else ''})")
    return 0
