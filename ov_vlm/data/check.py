"""``data-check``: every sample is well formed, its media exist and decode, its ``<image>``/``<video>`` tags match its
media, and it fits ``model_max_length`` once tokenized (with the model's processor, visual tokens included)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ov_vlm.errors import one_line
from ov_vlm.processing import ConversationError, MediaError, OVVLMProcessor, from_llava

from .records import sample_id


@dataclass
class SampleProblem:
    index: int
    id: str
    reason: str


@dataclass
class CheckReport:
    total: int = 0
    problems: list[SampleProblem] = field(default_factory=list)
    max_tokens: int = 0

    @property
    def bad(self) -> int:
        return len({p.index for p in self.problems})

    def summary(self) -> str:
        return (
            f"data-check: {self.total} samples, {self.total - self.bad} ok, {self.bad} bad"
            f" (longest ok sample: {self.max_tokens} tokens)"
        )

    def write(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "total": self.total,
            "bad": self.bad,
            "max_tokens": self.max_tokens,
            "problems": [asdict(p) for p in self.problems],
        }
        path.write_text(json.dumps(payload, indent=1))


def _count_tags(record: dict[str, Any]) -> tuple[int, int]:
    text = "".join(str(turn.get("value", "")) for turn in record.get("conversations", []) if isinstance(turn, dict))
    return text.count("<image>"), text.count("<video>")


def structural_problems(record: dict[str, Any]) -> list[str]:
    """Problems visible without decoding anything: speakers, empty turns, tags vs media."""
    problems = []
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        return ["no 'conversations' list"]
    for number, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            problems.append(f"turn {number} is not a {{from, value}} object")
            continue
        stripped = turn["value"].replace("<image>", "").replace("<video>", "").strip()
        has_media_tag = "<image>" in turn["value"] or "<video>" in turn["value"]
        if not stripped and not (has_media_tag and turn.get("from") in ("human", "user")):
            problems.append(f"turn {number} ({turn.get('from')}) is empty")
    if not any(isinstance(t, dict) and t.get("from") in ("gpt", "assistant") for t in turns):
        problems.append("no assistant (gpt) turn to learn from")
    images = record.get("image") or []
    images = [images] if isinstance(images, str) else list(images)
    image_tags, video_tags = _count_tags(record)
    if record.get("positions_thw") is not None:
        if image_tags not in (0, 1, len(images)) and video_tags != 1:
            problems.append(f"codec sample: {image_tags} <image> tags for {len(images)} mosaics")
    else:
        if image_tags and image_tags != len(images):
            problems.append(f"{image_tags} <image> tags but {len(images)} image(s)")
        has_video = record.get("video") is not None
        if video_tags != int(has_video) and (video_tags or has_video):
            problems.append(f"{video_tags} <video> tags but {int(has_video)} video(s)")
    return problems


def check_sample(record: dict[str, Any], index: int, processor: OVVLMProcessor, media_root) -> tuple[list[str], int]:
    """(problems, tokenized length) of one sample; decodes its media through the processor."""
    problems = structural_problems(record)
    if problems:
        return problems, 0
    try:
        messages = from_llava(record, media_root)
        encoded = processor.encode(messages)
    except (ConversationError, MediaError, ValueError) as error:
        return [one_line(error)], 0
    return [], len(encoded.input_ids)


def check_records(
    records: list[dict[str, Any]],
    processor: OVVLMProcessor,
    media_root: str | Path | None = None,
    progress: bool = True,
) -> CheckReport:
    from tqdm.auto import tqdm

    report = CheckReport(total=len(records))
    for index, record in enumerate(tqdm(records, desc="data-check", unit="sample", disable=not progress)):
        if not isinstance(record, dict):
            report.problems.append(SampleProblem(index, f"#{index}", "not a JSON object"))
            continue
        problems, length = check_sample(record, index, processor, media_root)
        for problem in problems:
            report.problems.append(SampleProblem(index, sample_id(record, index), problem))
        if not problems:
            report.max_tokens = max(report.max_tokens, length)
    return report
