"""The supervised dataset: LLaVA samples -> tokenized conversations with visuals, with a bad-sample policy.

``on_bad_sample="error"`` stops training at the first unusable sample, naming it. ``"skip"`` replaces it by the next
good sample (so batches keep their size), logs ``{"id", "index", "reason"}`` to ``skipped_samples.jsonl`` and counts
it for the run summary. Nothing is dropped silently, and a sample whose labels supervise nothing (for instance a
truncated or malformed conversation) is a bad sample, never a zero-loss step.

``memory_cache_mb`` > 0 keeps encoded samples in memory, up to that size, so runs of several passes over a small
set decode and tokenize each sample once (each DataLoader worker holds its own copy). Samples are kept in the
order they are first asked for until the budget is full; no eviction, since with shuffled passes every kept sample
is as likely to come back as any other.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from ov_vlm.processing import IGNORE_INDEX, ConversationError, Encoded, MediaError, OVVLMProcessor
from ov_vlm.utils.jsonl import read_jsonl

from .records import DataError, estimate_length, modality, sample_id

POLICIES = ("error", "skip")


class SupervisedDataset(Dataset):
    def __init__(
        self,
        records: list[dict[str, Any]],
        processor: OVVLMProcessor,
        media_root: str | Path | None = None,
        on_bad_sample: str = "error",
        skip_log: str | Path | None = None,
        memory_cache_mb: int = 0,
    ):
        if on_bad_sample not in POLICIES:
            raise ValueError(f"on_bad_sample must be one of {POLICIES}, got {on_bad_sample!r}")
        if not records:
            raise DataError("the dataset is empty")
        self.records = records
        self.processor = processor
        self.media_root = Path(media_root) if media_root is not None else None
        self.on_bad_sample = on_bad_sample
        self.skip_log = Path(skip_log) if skip_log is not None else None
        self.skipped: dict[int, str] = {}
        if memory_cache_mb < 0:
            raise ValueError(f"memory_cache_mb must be >= 0, got {memory_cache_mb}")
        self.memory_budget = memory_cache_mb * 2**20
        self.memory_used = 0
        self._kept: dict[int, Encoded] = {}

    def __len__(self) -> int:
        return len(self.records)

    def encode(self, index: int) -> Encoded:
        """Tokenize sample ``index`` (or take it from the memory cache); raises `DataError` naming it when
        unusable."""
        kept = self._kept.get(index)
        if kept is not None:
            return kept
        encoded = self._encode(index)
        size = encoded_bytes(encoded)
        if self.memory_used + size <= self.memory_budget:
            self._kept[index] = encoded
            self.memory_used += size
        return encoded

    def _encode(self, index: int) -> Encoded:
        record = self.records[index]
        try:
            encoded = self.processor.encode_llava(record, self.media_root)
        except (ConversationError, MediaError, DataError) as error:
            raise DataError(f"sample {sample_id(record, index)}: {' '.join(str(error).split())}") from None
        if all(label == IGNORE_INDEX for label in encoded.labels):
            raise DataError(f"sample {sample_id(record, index)}: no supervised tokens (no assistant answer)")
        return encoded

    def __getitem__(self, index: int) -> Encoded:
        if self.on_bad_sample == "error":
            return self.encode(index)
        for offset in range(len(self.records)):
            candidate = (index + offset) % len(self.records)
            try:
                return self.encode(candidate)
            except DataError as error:
                self._record_skip(candidate, str(error))
        raise DataError("every sample of the dataset is unusable; see the skipped-samples log")

    def _record_skip(self, index: int, reason: str) -> None:
        if index in self.skipped:
            return
        self.skipped[index] = reason
        if self.skip_log is not None:
            self.skip_log.parent.mkdir(parents=True, exist_ok=True)
            entry = {"id": sample_id(self.records[index], index), "index": index, "reason": reason, "pid": os.getpid()}
            with self.skip_log.open("a") as handle:
                handle.write(json.dumps(entry) + "\n")

    def modalities(self) -> list[str]:
        return [modality(record) for record in self.records]

    def lengths(self) -> list[int]:
        """Estimated tokens per record (the spec's token layouts for its visuals), for length-grouped batching."""
        spec = self.processor.spec
        image_tokens, video_tokens = spec.largest_image_layout().num_tokens, spec.video_layout().num_tokens
        return [estimate_length(record, image_tokens, video_tokens) for record in self.records]


def encoded_bytes(encoded: Encoded) -> int:
    """Approximate memory of one encoded sample: its tensors plus the token and label lists."""
    tensors = [t for v in encoded.visuals for t in (v.pixel_values, v.positions) if t is not None]
    return sum(t.element_size() * t.nelement() for t in tensors) + 16 * (len(encoded.input_ids) + len(encoded.labels))


def read_skip_log(path: str | Path) -> list[dict[str, Any]]:
    """Entries of a skipped-samples log, one per distinct sample."""
    seen: dict[int, dict[str, Any]] = {}
    for entry in read_jsonl(path, skip_bad=True, missing_ok=True):
        seen.setdefault(entry["index"], entry)
    return [seen[k] for k in sorted(seen)]
