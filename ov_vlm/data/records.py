"""Reading training data: LLaVA JSON arrays, JSONL files, or a `datasets.Dataset`; estimating sample lengths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ov_vlm.errors import OVVLMError
from ov_vlm.utils.jsonl import JSONLError, iter_jsonl


class DataError(OVVLMError, ValueError):
    """A data file or sample is unusable (one line naming the file / sample and the reason)."""


def load_records(source: str | Path | Any) -> list[dict[str, Any]]:
    """Samples from a ``.json`` array, a ``.jsonl`` file (one object per line), or a `datasets.Dataset`."""
    if not isinstance(source, str | Path):
        try:
            return [dict(row) for row in source]  # a datasets.Dataset or any iterable of mappings
        except (TypeError, ValueError) as error:
            raise DataError(f"cannot read samples from {type(source).__name__}: {error}") from None
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    if path.suffix == ".jsonl":
        records = []
        try:
            for number, record in iter_jsonl(path):
                if not isinstance(record, dict):
                    raise DataError(f"{path}:{number}: a sample must be a JSON object")
                records.append(record)
        except JSONLError as error:
            raise DataError(str(error)) from None
        return records
    try:
        records = json.loads(path.read_text())
    except ValueError as error:
        raise DataError(f"{path}: not JSON ({error})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(f"{path}: expected a JSON array of sample objects (or use .jsonl)")
    return records


def sample_id(record: dict[str, Any], index: int) -> str:
    return str(record.get("id", f"#{index}"))


def modality(record: dict[str, Any]) -> str:
    """``video`` (a video or codec mosaics), ``image`` or ``text``."""
    if record.get("video") is not None or record.get("positions_thw") is not None:
        return "video"
    return "image" if record.get("image") else "text"


def estimate_length(record: dict[str, Any], image_tokens: int, video_tokens: int) -> int:
    """A cheap token-length estimate (text characters / 4 + a fixed cost per image or video) for batching."""
    text = sum(len(str(turn.get("value", ""))) for turn in record.get("conversations", []))
    images = record.get("image") or []
    count = 1 if isinstance(images, str) else len(images)
    kind = modality(record)
    visual = video_tokens if kind == "video" else image_tokens * count
    return text // 4 + visual
