"""``ov-vlm codec``: codec patch selection for videos, folders or list files, in parallel and resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ov_vlm.codec.settings import (
    COMPENSATIONS,
    FIRST_FRAME,
    IMAGE_FORMATS,
    PROFILES,
    TOPK_MODES,
    CodecSettings,
    parse_budget,
)
from ov_vlm.errors import UsageError

EPILOG = """examples:
  ov-vlm codec clip.mp4 --out codec_out --viz
  ov-vlm codec videos/ more.txt --out codec_out --workers 4 --budget 0.125
  ov-vlm codec clip.mp4 --out codec_out --budget auto --block 2 --image-format png
  ov-vlm codec videos/ --out shared/codec --shard 3/16            # one of 16 cluster jobs (also from
                                                                  # SLURM_ARRAY_TASK_ID/COUNT or RANK/WORLD_SIZE)
  ov-vlm codec --merge-index shared/codec                         # join the shards' indexes afterwards
Each video gets its own folder (mosaic_*.jpg, positions_thw.npy, frame_ids.npy, visidx_thw.npy, meta.json);
finished folders are skipped on re-runs; failures are listed in OUT/failures.txt (per shard:
OUT/index-I-of-N.jsonl and OUT/failures-I-of-N.txt)."""


def _budget(text: str):
    try:
        return parse_budget(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(subparsers) -> None:
    defaults = CodecSettings()
    parser = subparsers.add_parser(
        "codec",
        help="select codec-salient patches of videos (mosaics + positions)",
        description="Motion vectors + residual proxy -> saliency -> top-K patches -> mosaics and (t,h,w) positions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="*", metavar="VIDEO_OR_DIR_OR_LIST", help="video files, folders, .txt lists")
    parser.add_argument("--out", type=Path, help="output folder (one sub-folder per video)")
    parser.add_argument(
        "--shard",
        help="process shard I of N (I/N, 0-based) of the inputs; default from SLURM_ARRAY_TASK_ID/"
        "SLURM_ARRAY_TASK_COUNT or RANK/WORLD_SIZE when set",
    )
    parser.add_argument("--merge-index", type=Path, metavar="OUT", help="join the shard indexes of OUT and exit")
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=defaults.profile,
        help="reference: the reference stage-1 scoring (default); robust: the earlier scoring for synthetic clips",
    )
    parser.add_argument(
        "--residual-window",
        type=int,
        default=None,
        help="reference profile: emulate the residual only this many frames before each sampled frame (faster)",
    )
    parser.add_argument("--frames", type=int, default=defaults.frames, help="frames sampled uniformly (default 64)")
    parser.add_argument("--canvas", type=int, default=defaults.canvas, help="square letterbox canvas (default 576)")
    parser.add_argument("--patch", type=int, default=defaults.patch, help="patch size on the canvas (default 16)")
    parser.add_argument(
        "--budget",
        type=_budget,
        default=None,
        help="K (e.g. 10368), a ratio (0.125 or 12.5%%) or auto (default: mosaics x cells)",
    )
    parser.add_argument("--mosaics", type=int, default=defaults.mosaics, help="default budget in mosaics (default 8)")
    parser.add_argument("--first-frame", choices=FIRST_FRAME, default=defaults.first_frame, help="keep frame 0 whole")
    parser.add_argument("--block", type=int, choices=(1, 2), default=defaults.block, help="select 2x2 blocks with 2")
    parser.add_argument("--topk", choices=TOPK_MODES, default=defaults.topk, help="global top-K or per time bucket")
    parser.add_argument("--buckets", type=int, default=None, help="time buckets for --topk bucket")
    parser.add_argument("--compensation", choices=COMPENSATIONS, default=defaults.compensation, help="camera motion")
    parser.add_argument("--no-static-fallback", action="store_true", help="do not use uniform frames for static clips")
    parser.add_argument("--image-format", choices=IMAGE_FORMATS, default=defaults.image_format, help="mosaic format")
    parser.add_argument("--jpeg-quality", type=int, default=defaults.jpeg_quality)
    parser.add_argument("--workers", type=int, default=1, help="videos processed in parallel")
    parser.add_argument("--threads", type=int, default=0, help="decoder threads per video (0: automatic)")
    parser.add_argument("--viz", action="store_true", help="also write selection.png per video")
    parser.add_argument("--force", action="store_true", help="recompute folders that are already complete")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run, user_errors=(ValueError,))


def merge(out: Path) -> int:
    from ov_vlm.codec.batch import merge_indexes

    report = merge_indexes(out)
    print(
        f"codec: merged {len(report.outcomes)} video(s) into {out / 'index.jsonl'}: {report.count('done')} done, "
        f"{report.count('skipped')} already done, {report.count('failed')} failed"
    )
    return 1 if report.failures else 0


def run(args: argparse.Namespace) -> int:
    from ov_vlm.codec.batch import parse_shard, run_batch, shard_from_environment

    if args.merge_index is not None:
        return merge(args.merge_index)
    if not args.inputs or args.out is None:
        raise UsageError("give input videos and --out (or --merge-index OUT)")
    shard = parse_shard(args.shard) if args.shard else shard_from_environment()
    settings = CodecSettings(
        profile=args.profile,
        residual_window=args.residual_window,
        frames=args.frames,
        canvas=args.canvas,
        patch=args.patch,
        budget=args.budget,
        mosaics=args.mosaics,
        first_frame=args.first_frame,
        block=args.block,
        topk=args.topk,
        buckets=args.buckets,
        compensation=args.compensation,
        static_fallback=False if args.no_static_fallback else None,
        image_format=args.image_format,
        jpeg_quality=args.jpeg_quality,
        threads=args.threads,
    )
    report = run_batch(
        args.inputs,
        args.out,
        settings,
        workers=args.workers,
        viz=args.viz,
        force=args.force,
        progress=not args.quiet,
        shard=shard,
    )
    for failure in report.failures:
        print(f"FAILED {failure.reason}", file=sys.stderr)
    print(report.summary(args.out))
    return 1 if report.failures else 0
