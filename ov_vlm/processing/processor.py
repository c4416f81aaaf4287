"""`OVVLMProcessor`: conversations with images and videos -> token ids, labels, pixels and positions.

The tokenizer (with ov-vlm's chat template) and the `VisualSpec` are saved next to the model
(``tokenizer.json``, ``chat_template.jinja``, ``ov_vlm_processor.json``) and loaded from it, so the prompt format
the model was trained with always travels with it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ov_vlm.utils.model_folder import PROCESSOR_FILE, processor_file
from ov_vlm.utils.typed import check_keys

from .chat import IMAGE_PAD, VIDEO_PAD, ConversationError, from_llava, normalize_messages, render_segments
from .errors import MediaError
from .tokenizer import prepare_tokenizer
from .visual import Visual, VisualSpec, image_visual, video_visual

IGNORE_INDEX = -100


@dataclass
class Encoded:
    """One conversation, tokenized: ids with each visual's placeholder expanded to its token count."""

    input_ids: list[int]
    labels: list[int]
    visuals: list[Visual] = field(default_factory=list)

    @property
    def visual_tokens(self) -> int:
        return sum(v.num_tokens for v in self.visuals)


class OVVLMProcessor:
    """Tokenizer + visual spec for one model. ``processor(conversations)`` gives a model-ready batch."""

    def __init__(self, tokenizer, spec: VisualSpec, max_length: int | None = None, codec_cache=None):
        self.tokenizer = prepare_tokenizer(tokenizer)
        self.spec = spec
        self.max_length = max_length
        self.codec_cache = codec_cache  # a `CodecCache` for codec selections of video files (not saved)
        self.image_token_id = self.tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        self.video_token_id = self.tokenizer.convert_tokens_to_ids(VIDEO_PAD)

    def with_overrides(
        self,
        *,
        visual_spec: dict[str, Any] | None = None,
        video_mode: str | None = None,
        frames: int | None = None,
        budget: int | float | str | None = None,
        max_length: int | None = None,
        codec_cache=None,
    ) -> OVVLMProcessor:
        """A copy with run-time overrides (None keeps this processor's): visual settings, the user-facing video
        settings (mode, frames, codec budget), the length limit and the codec cache. Raises ValueError on an unknown
        or invalid visual setting."""
        changes = dict(visual_spec or {})
        if video_mode is not None:
            changes["video_mode"] = video_mode
        if frames is not None:
            changes["num_frames"] = int(frames)
        if budget is not None:
            changes["codec"] = {**changes.get("codec", self.spec.codec), "budget": budget}
        changed = copy.copy(self)
        changed.spec = self.spec.replace(**changes) if changes else self.spec
        if max_length is not None:
            changed.max_length = max_length
        if codec_cache is not None:
            changed.codec_cache = codec_cache
        return changed

    # ------------------------------------------------------------------------------------------ persistence

    def save_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(directory)
        config = {"visual_spec": self.spec.to_dict(), "max_length": self.max_length}
        (directory / PROCESSOR_FILE).write_text(json.dumps(config, indent=2))

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> OVVLMProcessor:
        from transformers import AutoTokenizer

        directory = Path(directory)
        config_path = processor_file(directory)  # folders written before the rename have the earlier name
        if config_path is None:
            raise FileNotFoundError(f"{directory}: no {PROCESSOR_FILE}; not an ov-vlm model folder")
        config = json.loads(config_path.read_text())
        check_keys(config, ["visual_spec", "max_length"], str(config_path))
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        spec = VisualSpec.from_dict(config["visual_spec"], f"{config_path}: visual_spec")
        return cls(tokenizer, spec, config.get("max_length"))

    # ------------------------------------------------------------------------------------------ prompts

    def render(self, messages: list[dict[str, Any]], add_generation_prompt: bool = False) -> str:
        """The prompt text through the saved chat template (one pad per visual, before expansion)."""
        return self.tokenizer.apply_chat_template(
            normalize_messages(messages), tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def visual(self, part: dict[str, Any]) -> Visual:
        """Turn one image or video part into a `Visual`."""
        if part["type"] == "image":
            return image_visual(part["image"], self.spec)
        return video_visual(part["video"], self.spec, part.get("mode"), cache=self.codec_cache)

    def visuals_of(self, messages: list[dict[str, Any]]) -> list[Visual]:
        """The `Visual` of every image/video part of a conversation, in order, without tokenizing its text."""
        return [self.visual(part) for part in _visual_parts(normalize_messages(messages))]

    def encode(
        self,
        messages: list[dict[str, Any]],
        add_generation_prompt: bool = False,
        visuals: list[Visual] | None = None,
    ) -> Encoded:
        """Tokenize one conversation (labels: assistant content + its ``<|im_end|>``; see `ov_vlm.processing.chat`).

        ``visuals`` may be given precomputed, one per image/video part; otherwise they are built here.
        """
        messages = normalize_messages(messages)
        parts = _visual_parts(messages)
        if visuals is None:
            visuals = [self.visual(part) for part in parts]
        if len(visuals) != len(parts):
            raise ConversationError(f"{len(parts)} image/video parts but {len(visuals)} visuals")
        ids: list[int] = []
        labels: list[int] = []
        pads = iter(visuals)
        pad_ids = {self.image_token_id, self.video_token_id}
        segments = render_segments(messages, add_generation_prompt)
        pieces = self.tokenizer([segment.text for segment in segments], add_special_tokens=False).input_ids
        for segment, piece in zip(segments, pieces, strict=True):  # one tokenizer call: most of its cost is per call
            for token in piece:
                count = next(pads).num_tokens if token in pad_ids else 1
                ids.extend([token] * count)
                labels.extend([token if segment.supervised else IGNORE_INDEX] * count)
        if self.max_length is not None and len(ids) > self.max_length:
            raise ConversationError(
                f"conversation is {len(ids)} tokens ({sum(v.num_tokens for v in visuals)} visual), "
                f"longer than max_length {self.max_length}"
            )
        return Encoded(ids, labels, list(visuals))

    def encode_llava(self, sample: dict[str, Any], media_root: str | Path | None = None) -> Encoded:
        """Tokenize a reference LLaVA sample (``conversations`` with ``<image>`` / ``<video>`` tags)."""
        return self.encode(from_llava(sample, media_root))

    # ------------------------------------------------------------------------------------------ batches

    def collate(self, items: list[Encoded], padding_side: str = "right", with_labels: bool = True) -> dict:
        """Pad a list of `Encoded` into a batch: ids, attention mask, labels, visual lists."""
        longest = max(len(item.input_ids) for item in items)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(items), longest), pad, dtype=torch.long)
        attention = torch.zeros((len(items), longest), dtype=torch.long)
        labels = torch.full((len(items), longest), IGNORE_INDEX, dtype=torch.long)
        for row, item in enumerate(items):
            n = len(item.input_ids)
            span = slice(0, n) if padding_side == "right" else slice(longest - n, longest)
            input_ids[row, span] = torch.tensor(item.input_ids)
            attention[row, span] = 1
            labels[row, span] = torch.tensor(item.labels)
        batch = {"input_ids": input_ids, "attention_mask": attention}
        if with_labels:
            batch["labels"] = labels
        visuals = [v for item in items for v in item.visuals]
        if visuals:
            batch["pixel_values"] = [v.pixel_values for v in visuals]
            batch["patch_positions"] = [v.positions for v in visuals]
            batch["visual_grids"] = torch.tensor([v.layout.grid for v in visuals], dtype=torch.long)
        return batch

    def __call__(
        self,
        conversations: list[dict[str, Any]] | list[list[dict[str, Any]]],
        add_generation_prompt: bool = False,
        training: bool = False,
        padding_side: str | None = None,
    ) -> dict:
        """One conversation (a list of messages) or several -> a padded batch.

        Inference batches are left-padded (for generation), training batches right-padded with ``labels``.
        """
        if conversations and isinstance(conversations[0], dict):
            conversations = [conversations]
        items = [self.encode(messages, add_generation_prompt) for messages in conversations]
        side = padding_side or ("right" if training else "left")
        return self.collate(items, padding_side=side, with_labels=training)

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)


def _visual_parts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The image and video parts of normalised messages, in order."""
    return [part for message in messages for part in message["content"] if part["type"] != "text"]


__all__ = ["IGNORE_INDEX", "Encoded", "MediaError", "OVVLMProcessor"]
