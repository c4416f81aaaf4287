"""Conversations: the common chat message format, the LLaVA JSON format, the ChatML template and label masks.

Messages are ``{"role": "system" | "user" | "assistant", "content": str | [part, ...]}`` with parts
``{"type": "text", "text": ...}``, ``{"type": "image", "image": <path | PIL | array>}`` and
``{"type": "video", "video": <path | codec folder | frames>, "mode": optional}``.

The prompt is ChatML (Qwen), with a default system message when none is given:
``<|im_start|>role\\ncontent<|im_end|>\\n`` per message, each image/video as
``<|vision_start|><|image_pad|><|vision_end|>`` (``<|video_pad|>`` for videos), later expanded to one pad per
visual token. **Supervised tokens** (training labels): the content of every assistant message and the
``<|im_end|>`` that closes it. Not supervised (-100): system and user messages, every ``<|im_start|>role\\n``
header, the newline after ``<|im_end|>``, the generation prompt, and all vision tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ov_vlm.errors import OVVLMError

DEFAULT_SYSTEM = "You are a helpful assistant."
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
VISION_START, VISION_END = "<|vision_start|>", "<|vision_end|>"
IMAGE_PAD, VIDEO_PAD = "<|image_pad|>", "<|video_pad|>"
ROLES = ("system", "user", "assistant")

# Renders exactly like `render_segments` (tested). Saved with every model as chat_template.jinja.
CHAT_TEMPLATE = (
    r"{%- if not messages or messages[0]['role'] != 'system' -%}"
    r"{{- '<|im_start|>system\n" + DEFAULT_SYSTEM + r"<|im_end|>\n' -}}"
    r"{%- endif -%}"
    r"{%- for message in messages -%}"
    r"{{- '<|im_start|>' + message['role'] + '\n' -}}"
    r"{%- if message['content'] is string -%}{{- message['content'] -}}"
    r"{%- else -%}{%- for part in message['content'] -%}"
    r"{%- if part['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    r"{%- elif part['type'] == 'video' -%}{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    r"{%- else -%}{{- part['text'] -}}{%- endif -%}"
    r"{%- endfor -%}{%- endif -%}"
    r"{{- '<|im_end|>\n' -}}"
    r"{%- endfor -%}"
    r"{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}"
)


class ConversationError(OVVLMError, ValueError):
    """A conversation is malformed (one line naming the sample and the reason)."""


@dataclass
class Segment:
    text: str
    supervised: bool


def normalize_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check and normalise messages: content becomes a list of typed parts; errors name the message."""
    if not isinstance(messages, list) or not messages:
        raise ConversationError("a conversation must be a non-empty list of messages")
    out = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ConversationError(f"message {index}: needs 'role' and 'content'")
        role = message["role"]
        if role not in ROLES:
            raise ConversationError(f"message {index}: unknown role {role!r} (use {', '.join(ROLES)})")
        content = message["content"]
        if not isinstance(content, str | list | tuple):
            raise ConversationError(f"message {index}: content must be a string or a list of parts")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        clean = []
        for part in parts:
            if isinstance(part, str):
                part = {"type": "text", "text": part}
            if not isinstance(part, dict):
                raise ConversationError(f"message {index}: a content part must be a string or an object")
            kind = part.get("type")
            if kind == "text":
                clean.append({"type": "text", "text": str(part.get("text", ""))})
            elif kind in ("image", "video"):
                source = part.get(kind, part.get("path", part.get("url")))
                if source is None:
                    raise ConversationError(f"message {index}: {kind} part without a source")
                if role != "user":
                    raise ConversationError(f"message {index}: {kind} parts belong in user messages, not {role}")
                clean.append({k: v for k, v in {**part, kind: source}.items() if k not in ("path", "url")})
            else:
                raise ConversationError(f"message {index}: unknown content part type {kind!r}")
        out.append({"role": role, "content": clean})
    return out


def render_segments(messages: list[dict[str, Any]], add_generation_prompt: bool = False) -> list[Segment]:
    """The prompt as segments marked supervised or not (see the module docstring)."""
    messages = normalize_messages(messages)
    segments: list[Segment] = []
    if messages[0]["role"] != "system":
        segments.append(Segment(f"{IM_START}system\n{DEFAULT_SYSTEM}{IM_END}\n", False))
    for message in messages:
        assistant = message["role"] == "assistant"
        segments.append(Segment(f"{IM_START}{message['role']}\n", False))
        for part in message["content"]:
            if part["type"] == "text":
                if part["text"]:
                    segments.append(Segment(part["text"], assistant))
            else:
                pad = IMAGE_PAD if part["type"] == "image" else VIDEO_PAD
                segments.append(Segment(f"{VISION_START}{pad}{VISION_END}", False))
        segments.append(Segment(IM_END, assistant))
        segments.append(Segment("\n", False))
    if add_generation_prompt:
        segments.append(Segment(f"{IM_START}assistant\n", False))
    return segments


def resolve_media(path: Any, media_root: str | Path | None) -> Any:
    """A relative media path joined to ``media_root`` (absolute paths, other values and no root: unchanged)."""
    if isinstance(path, str) and media_root is not None and not Path(path).is_absolute():
        return str(Path(media_root) / path)
    return path


def from_llava(sample: dict[str, Any], media_root: str | Path | None = None) -> list[dict[str, Any]]:
    """A reference LLaVA sample (``conversations`` of ``from``/``value`` with ``<image>``/``<video>``) as messages.

    ``image`` (a path or a list) fills the ``<image>`` tags in order; ``video`` fills ``<video>``. The codec format
    (``image`` = the mosaics of one video + ``positions_thw``) becomes one video part, whatever number of
    ``<image>`` tags (one per mosaic) the text holds. Media without a tag go before the first human text, as LLaVA
    does. Relative paths are resolved against ``media_root``. An optional ``video_mode`` key (ov-vlm extension) sets
    the video's mode for this sample (e.g. training on codec and frames input alike).
    """
    root = Path(media_root) if media_root is not None else None
    sample_id = sample.get("id", "?")
    turns = sample.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise ConversationError(f"sample {sample_id}: no 'conversations' list")
    images = sample.get("image", [])
    images = [images] if isinstance(images, str) else list(images or [])
    images = [resolve_media(p, root) for p in images]
    video = resolve_media(sample.get("video"), root)
    codec = sample.get("positions_thw")
    pending: list[dict[str, Any]] = []
    if codec is not None:
        pending = [{"type": "video", "video": {"mosaics": images, "positions": resolve_media(codec, root)}}]
        images = []
    elif video is not None:
        pending = [{"type": "video", "video": video}]
        if sample.get("video_mode") is not None:  # ov-vlm extension: this sample's video mode (codec/frames/dense)
            pending[0]["mode"] = sample["video_mode"]
    image_queue = [{"type": "image", "image": path} for path in images]
    role_of = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
    messages, placed_codec = [], False
    for index, turn in enumerate(turns):
        role = role_of.get(turn.get("from"))
        if role is None:
            raise ConversationError(f"sample {sample_id}: turn {index} has unknown speaker {turn.get('from')!r}")
        value = turn.get("value")
        if not isinstance(value, str):
            raise ConversationError(f"sample {sample_id}: turn {index} has no text value")
        parts: list[dict[str, Any]] = []
        for chunk_index, chunk in enumerate(_split_tags(value)):
            if chunk == "<image>":
                if codec is not None:
                    if not placed_codec:
                        parts.append(pending.pop(0))
                        placed_codec = True
                    continue
                if not image_queue:
                    raise ConversationError(f"sample {sample_id}: more <image> tags than images")
                parts.append(image_queue.pop(0))
            elif chunk == "<video>":
                if not pending:
                    raise ConversationError(f"sample {sample_id}: <video> tag without a video")
                parts.append(pending.pop(0))
                placed_codec = True
            else:
                text = chunk.strip("\n") if chunk_index else chunk.lstrip("\n")
                if text:
                    parts.append({"type": "text", "text": text})
        messages.append({"role": role, "content": parts})
    leftovers = pending + image_queue
    if leftovers:
        first_user = next((m for m in messages if m["role"] == "user"), None)
        if first_user is None:
            raise ConversationError(f"sample {sample_id}: media but no human turn to attach them to")
        first_user["content"] = leftovers + first_user["content"]
    for message in messages:
        if message["role"] == "assistant" and not any(p.get("text") for p in message["content"]):
            raise ConversationError(f"sample {sample_id}: empty assistant turn")
    return normalize_messages(messages)


def _split_tags(text: str) -> list[str]:
    """Split on <image> and <video> tags, keeping them."""
    chunks, rest = [], text
    while rest:
        positions = [(rest.find(tag), tag) for tag in ("<image>", "<video>") if rest.find(tag) >= 0]
        if not positions:
            chunks.append(rest)
            break
        start, tag = min(positions)
        if start:
            chunks.append(rest[:start])
        chunks.append(tag)
        rest = rest[start + len(tag) :]
    return chunks
