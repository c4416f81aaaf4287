"""``ov-vlm data-check``: validate a LLaVA JSON/JSONL training file before spending GPU hours on it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ov_vlm.utils.options import VIDEO_MODES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "data-check",
        help="check every sample of a training file (media, tags, conversation, length)",
        description="One line per bad sample (id and reason), a summary, a report file; exit 1 if any is bad.",
    )
    parser.add_argument("data", type=Path, help="LLaVA .json / .jsonl file")
    parser.add_argument(
        "--media-root", type=Path, help="folder relative media paths resolve against (default: the data file's)"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="model folder whose processor tokenizes (recommended)")
    source.add_argument("--preset", help="or a preset (its tokenizer and visual settings)")
    parser.add_argument("--max-length", type=int, help="override model_max_length")
    parser.add_argument("--video-mode", choices=VIDEO_MODES, help="override the video mode")
    parser.add_argument("--codec-cache", type=Path, help="keep codec selections here (training can reuse them)")
    parser.add_argument("--report", type=Path, help="report file (default: <data>.check.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run, user_errors=(ValueError, OSError))


def run(args: argparse.Namespace) -> int:
    from ov_vlm.codec import CodecCache
    from ov_vlm.data import check_records, load_records
    from ov_vlm.processing import OVVLMProcessor

    records = load_records(args.data)
    if args.model:
        processor = OVVLMProcessor.from_pretrained(args.model)
    else:
        from ov_vlm.model.builder import processor_from_preset

        processor = processor_from_preset(args.preset)
    processor = processor.with_overrides(
        video_mode=args.video_mode,
        max_length=args.max_length or None,
        codec_cache=CodecCache(args.codec_cache) if args.codec_cache else None,
    )
    report = check_records(records, processor, args.media_root or args.data.parent, progress=not args.quiet)
    for problem in report.problems:
        print(f"BAD {problem.id} (#{problem.index}): {problem.reason}")
    report_path = _write_report(report, args.report, args.data)
    print(f"{report.summary()}; report: {report_path}")
    return 1 if report.bad else 0


def _write_report(report, explicit: Path | None, data: Path) -> Path:
    """Write to ``--report``, else ``<data>.check.json`` beside the data, else (a read-only dataset folder) to
    ``<data name>.check.json`` in the working directory."""
    if explicit is not None:
        report.write(explicit)
        return explicit
    beside = data.with_suffix(data.suffix + ".check.json")
    try:
        report.write(beside)
        return beside
    except OSError as error:
        here = Path.cwd() / beside.name
        print(f"ov-vlm data-check: cannot write {beside} ({error.strerror or error}); writing {here}", file=sys.stderr)
        report.write(here)
        return here
