"""``ov-vlm infer``: a JSONL of requests -> a JSONL of answers, batched, with a progress bar.

Each request line is one of:
  {"id": ..., "messages": [...]}                                  (chat format, see ov_vlm.processing.chat)
  {"id": ..., "prompt": "...", "image": PATH | [PATHS], "video": PATH, "video_mode": "codec"}
  {"id": ..., "conversations": [...], "image": ..., "video": ...}  (LLaVA format; the last gpt turn = reference)
Relative media paths resolve against --media-root (default: the request file's folder). Every request gets one
output line, {"id", "answer"} or {"id", "error"}; re-running skips ids already answered (resumable).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ov_vlm.cli.loading import add_loading_arguments
from ov_vlm.errors import OVVLMError, UsageError, one_line


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "infer",
        help="answer a JSONL of requests into a JSONL of answers (batched)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_loading_arguments(parser)
    parser.add_argument("--input", required=True, type=Path, help="requests, one JSON object per line")
    parser.add_argument("--output", required=True, type=Path, help="answers, one JSON object per line")
    parser.add_argument("--media-root", type=Path, help="folder relative media paths resolve against")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--overwrite", action="store_true", help="start over instead of skipping answered ids")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def request_messages(request: Any, media_root: Path) -> tuple[list[dict[str, Any]], str | None]:
    """The prompt messages of a request and, for LLaVA samples, the reference answer; `ConversationError` (one
    line) for a request of no known shape."""
    from ov_vlm.processing import ConversationError, from_llava, normalize_messages, resolve_media

    if not isinstance(request, dict):
        raise ConversationError(f"a request must be a JSON object, not {type(request).__name__}")
    if "messages" in request:
        messages = normalize_messages(request["messages"])  # fresh dicts: resolving paths leaves the request
        for part in (p for m in messages for p in m["content"] if p["type"] != "text"):
            part[part["type"]] = resolve_media(part[part["type"]], media_root)
        return messages, None
    if "conversations" in request:
        messages = from_llava(request, media_root)
        reference = None
        if messages and messages[-1]["role"] == "assistant":
            reference = "".join(p.get("text", "") for p in messages[-1]["content"])
            messages = messages[:-1]
        return messages, reference
    if "prompt" in request:
        images = request.get("image") or []
        images = [images] if isinstance(images, str) else images
        paths = isinstance(images, list) and all(isinstance(path, str) for path in images)
        if not isinstance(request["prompt"], str) or not paths or not isinstance(request.get("video") or "", str):
            raise ConversationError("'prompt' must be a string, 'image' a path or a list of paths, 'video' a path")
        parts: list[dict[str, Any]] = [{"type": "image", "image": resolve_media(path, media_root)} for path in images]
        if request.get("video"):
            video = {"type": "video", "video": resolve_media(request["video"], media_root)}
            if request.get("video_mode"):
                video["mode"] = request["video_mode"]
            parts.append(video)
        parts.append({"type": "text", "text": request["prompt"]})
        return normalize_messages([{"role": "user", "content": parts}]), None
    raise ConversationError("a request needs 'messages', 'prompt' or 'conversations'")


def _answered(path: Path) -> set[str]:
    from ov_vlm.utils.jsonl import read_jsonl

    return {str(record.get("id")) for record in read_jsonl(path, skip_bad=True, missing_ok=True) if "answer" in record}


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ov_vlm.model.inference import generate, load_for_inference

    if not args.input.is_file():
        raise UsageError(f"{args.input}: no such file")
    loaded = load_for_inference(args.model, args.device, args.dtype, args.attn)
    model, processor = loaded.model, loaded.processor
    media_root = args.media_root or args.input.parent
    done = set() if args.overwrite else _answered(args.output)
    requests = []
    for number, line in enumerate(args.input.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as error:
            requests.append((f"line-{number}", None, f"line {number}: not JSON ({error})"))
            continue
        rid = str(request.get("id", f"line-{number}")) if isinstance(request, dict) else f"line-{number}"
        if rid not in done:
            requests.append((rid, request, None))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    failures = answered = 0
    with (
        args.output.open("w" if args.overwrite else "a") as out,
        tqdm(total=len(requests), unit="req", desc="infer", disable=args.quiet) as bar,
    ):
        for start in range(0, len(requests), args.batch_size):
            batch_requests = requests[start : start + args.batch_size]
            ready = []
            for rid, request, error in batch_requests:
                if error is None:
                    try:
                        messages, reference = request_messages(request, media_root)
                        ready.append((rid, processor.encode(messages, add_generation_prompt=True), reference))
                        continue
                    except (OVVLMError, ValueError) as problem:
                        error = one_line(problem)
                out.write(json.dumps({"id": rid, "error": error}) + "\n")
                failures += 1
            if ready:
                settings = {"max_new_tokens": args.max_new_tokens, "do_sample": False}
                answers = generate(model, processor, [item for _, item, _ in ready], settings)
                for (rid, _, reference), answer in zip(ready, answers, strict=True):
                    record = {"id": rid, "answer": answer}
                    if reference is not None:
                        record["reference"] = reference
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    answered += 1
            out.flush()
            bar.update(len(batch_requests))
    skipped = f", {len(done)} already answered" if done else ""
    print(f"infer: {answered} answered, {failures} failed{skipped}; answers in {args.output}")
    return 1 if failures else 0
