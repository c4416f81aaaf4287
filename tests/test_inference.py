"""`ov_vlm.model.inference.generate`: one batch of mixed media (left padded) answers as each request alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from media import moving_object_clip
from PIL import Image
from vlm_helpers import tiny_vlm

from ov_vlm.model.inference import eos_token_ids, generate, to_device

NEW_TOKENS = 6


def requests(clip) -> list[list[dict]]:
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8))
    ask = lambda part, text: [{"role": "user", "content": [part, {"type": "text", "text": text}]}]  # noqa: E731
    return [
        ask({"type": "image", "image": picture}, "What is shown?"),
        ask({"type": "video", "video": str(clip), "mode": "codec"}, "What moves?"),
        [{"role": "user", "content": "Say something long enough to need no padding at all, please."}],
        ask({"type": "video", "video": str(clip), "mode": "frames"}, "Which way does the shape move, and how fast?"),
    ]


def new_tokens(model, processor, items) -> list[list[int]]:
    """Greedy continuations of a left-padded batch, each cut after its end-of-turn (the rest is padding)."""
    batch = to_device(processor.collate(items, padding_side="left", with_labels=False), model.device, model.dtype)
    eos = eos_token_ids(processor.tokenizer)
    with torch.no_grad():
        out = model.generate(
            **batch, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=processor.tokenizer.pad_token_id,
            eos_token_id=eos,
        )  # fmt: skip
    rows = []
    for row in out[:, batch["input_ids"].shape[1] :].tolist():
        ends = [i for i, token in enumerate(row) if token in eos]
        rows.append(row[: ends[0] + 1] if ends else row)
    return rows


@pytest.mark.parametrize("encoder", ["onevision", "siglip2"])
def test_batched_generation_equals_one_by_one(encoder, tmp_path):
    model, processor = tiny_vlm(encoder, seed=5)
    clip = moving_object_clip(tmp_path / "clip.mp4", count=16, size=(96, 96)).path
    items = [processor.encode(messages, add_generation_prompt=True) for messages in requests(clip)]
    lengths = {len(item.input_ids) for item in items}
    assert len(lengths) == len(items)  # every row is padded differently
    alone = [new_tokens(model, processor, [item])[0] for item in items]
    assert new_tokens(model, processor, items) == alone
    assert all(len(tokens) >= 1 for tokens in alone)
    texts = generate(model, processor, items, {"max_new_tokens": NEW_TOKENS, "do_sample": False})
    assert texts == [processor.decode(tokens).strip() for tokens in alone]
