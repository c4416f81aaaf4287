"""``ov-vlm codec``: codec patch selection for videos, folders or list files, in parallel and resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ov_vlm.cli.fields import add_fields, field_values
from ov_vlm.codec.settings import CodecSettings
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


def add_parser(subparsers) -> None:
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
    add_fields(parser, CodecSettings)  # --profile, --frames, --budget, ...: one flag per setting, generated
    parser.add_argument("--workers", type=int, default=1, help="videos processed in parallel")
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
    settings = CodecSettings(**field_values(args, CodecSettings))
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
