"""The VLM with each of the three encoders: inputs of every kind, training step, save/load, cache, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from media import moving_object_clip
from PIL import Image
from torch import nn
from transformers import AutoModelForImageTextToText
from vlm_helpers import tiny_vlm

from ov_vlm.model import OVVLMForConditionalGeneration

ENCODERS = ["onevision", "siglip2", "qwen3_vit"]


def picture(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return moving_object_clip(tmp_path_factory.mktemp("vlm") / "clip.mp4", count=32).path


def conversations(clip):
    return {
        "image": [
            {
                "role": "user",
                "content": [{"type": "image", "image": picture(90, 60)}, {"type": "text", "text": "What is this?"}],
            }
        ],
        "multi-image": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": picture(60, 90, 1)},
                    {"type": "text", "text": "and"},
                    {"type": "image", "image": picture(100, 100, 2)},
                ],
            }
        ],
        "frames": [
            {
                "role": "user",
                "content": [
                    {"type": "video", "video": str(clip), "mode": "frames"},
                    {"type": "text", "text": "What moves?"},
                ],
            }
        ],
        "codec": [
            {
                "role": "user",
                "content": [
                    {"type": "video", "video": str(clip), "mode": "codec"},
                    {"type": "text", "text": "What moves?"},
                ],
            }
        ],
    }


@pytest.mark.parametrize("encoder", ENCODERS)
def test_every_input_kind_trains_a_step(encoder, clip):
    model, processor = tiny_vlm(encoder)
    model.train()
    for kind, messages in conversations(clip).items():
        messages = [*messages, {"role": "assistant", "content": "A small square."}]
        encoded = processor.encode(messages)
        batch = processor.collate([encoded])
        placeholders = int(model.placeholder_mask(batch["input_ids"]).sum())
        assert placeholders == encoded.visual_tokens > 0, kind
        with torch.no_grad():
            features = model.get_visual_features(batch["pixel_values"], batch["patch_positions"])
        assert features.shape == (placeholders, model.config.text_config.hidden_size), kind
        out = model(**batch)
        assert torch.isfinite(out.loss), kind
        model.zero_grad()
        out.loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
        assert any(n.startswith("vision_tower.") for n in grads), kind  # gradients reach the encoder
        assert any(n.startswith("multi_modal_projector.") for n in grads), kind
        assert any(n.startswith("language_model.") for n in grads), kind


@pytest.mark.parametrize("encoder", ENCODERS)
def test_save_load_gives_identical_logits(encoder, clip, tmp_path):
    model, processor = tiny_vlm(encoder)
    batch = processor([conversations(clip)["codec"], conversations(clip)["image"]])  # a mixed, padded batch
    with torch.no_grad():
        before = model(**batch).logits
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))
    loaded = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    assert type(loaded) is OVVLMForConditionalGeneration
    with torch.no_grad():
        after = loaded(**batch).logits
    assert torch.equal(before, after)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_greedy_with_cache_equals_greedy_without(encoder, clip):
    model, processor = tiny_vlm(encoder, seed=3)
    batch = processor([conversations(clip)["frames"], conversations(clip)["multi-image"]], add_generation_prompt=True)
    with torch.no_grad():
        cached = model.generate(**batch, max_new_tokens=8, do_sample=False, use_cache=True)
        uncached = model.generate(**batch, max_new_tokens=8, do_sample=False, use_cache=False)
    assert cached.shape[1] > batch["input_ids"].shape[1]
    assert torch.equal(cached, uncached)


def test_placeholder_count_mismatch_raises(clip):
    model, processor = tiny_vlm()
    batch = processor(conversations(clip)["image"])
    ids = batch["input_ids"].clone()
    first = int(model.placeholder_mask(ids)[0].nonzero()[0])
    ids[0, first] = processor.tokenizer.pad_token_id  # one placeholder fewer than features
    with pytest.raises(ValueError, match=r"do not match: \d+ placeholder tokens in input_ids"):
        model(
            input_ids=ids,
            attention_mask=batch["attention_mask"],
            pixel_values=batch["pixel_values"],
            patch_positions=batch["patch_positions"],
        )
    with pytest.raises(ValueError, match="no pixel_values"):
        model(input_ids=batch["input_ids"])


def test_qwen2_language_model_works_too(clip):
    model, processor = tiny_vlm(text="qwen2")
    assert type(model.language_model).__name__ == "Qwen2ForCausalLM"
    batch = processor([[*conversations(clip)["image"], {"role": "assistant", "content": "ok"}]], training=True)
    out = model(**batch)
    assert torch.isfinite(out.loss)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_spatial_merge_gives_four_times_fewer_tokens(encoder, clip):
    """Square image on an 8x8-patch canvas, 8 frames of 4x4, codec 8 mosaics of 4x4 cells: 64/128/128 tokens,
    merged 16/32/32."""
    _, plain = tiny_vlm(encoder)
    merge_model, merged = tiny_vlm(encoder, projector="spatial_merge_2x2")
    expected = {"image": (64, 16), "frames": (128, 32), "codec": (128, 32)}
    square = [{"role": "user", "content": [{"type": "image", "image": picture(100, 100)}]}]
    for kind, (plain_tokens, merged_tokens) in expected.items():
        messages = square if kind == "image" else conversations(clip)[kind]
        assert plain.encode(messages).visual_tokens == plain_tokens, kind
        assert merged.encode(messages).visual_tokens == merged_tokens, kind
    batch = merged([*conversations(clip)["codec"], {"role": "assistant", "content": "ok"}], training=True)
    with torch.no_grad():
        features = merge_model.get_visual_features(batch["pixel_values"], batch["patch_positions"])
    assert features.shape[0] == int(merge_model.placeholder_mask(batch["input_ids"]).sum()) == 32
    assert torch.isfinite(merge_model(**batch).loss)


def test_spatial_merge_rejects_a_block_1_codec_selection(clip):
    from ov_vlm.codec import select_patches
    from ov_vlm.processing import MediaError

    _, merged = tiny_vlm("onevision", projector="spatial_merge_2x2")
    selection = select_patches(clip, canvas=64, patch=16, budget=100)  # block 1, partial last mosaic
    with pytest.raises(MediaError, match="block=2"):
        merged.encode([{"role": "user", "content": [{"type": "video", "video": selection}]}])


def _tensors(output) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, list | tuple):
        return [t for item in output for t in _tensors(item)]
    return []


def _answered(messages):
    return [*messages, {"role": "assistant", "content": "A small square."}]


@pytest.mark.parametrize("projector", ["mlp2x_gelu", "spatial_merge_2x2"])
@pytest.mark.parametrize("encoder", ENCODERS)
def test_every_batch_kind_runs_the_same_modules_in_training(encoder, projector, clip):
    """Text-only, image, multi-image, frames and codec batches call the same tower and projector modules, in the
    same order, each returning as many tensors, and give gradients to the same parameters: what keeps DeepSpeed's
    collectives in step when ranks hold different modalities (ZeRO-3 gathers weights per module call, and again in
    backward per output tensor; ZeRO-2 reduces the gradients that exist)."""
    model, processor = tiny_vlm(encoder, projector=projector)
    model.train()
    calls: list[tuple[str, int]] = []

    def record(name):
        return lambda _module, _args, output: calls.append((name, len(_tensors(output))))

    for name, module in model.named_modules():
        if name.startswith(("vision_tower", "multi_modal_projector")):
            module.register_forward_hook(record(name))
    kinds = {**conversations(clip), "text": [{"role": "user", "content": "Hello, who are you?"}]}
    traces = {}
    for kind, messages in kinds.items():
        batch = processor.collate([processor.encode(_answered(messages))])
        assert ("pixel_values" in batch) == (kind != "text")
        calls.clear()
        model.zero_grad()
        model(**batch).loss.backward()
        traces[kind] = (list(calls), sorted(n for n, p in model.named_parameters() if p.grad is not None))
    assert [name for name, _ in traces["image"][0]].count("multi_modal_projector") == 1  # no dummy on top
    for kind, trace in traces.items():
        assert trace == traces["image"], kind


@pytest.mark.parametrize("encoder", ENCODERS)
def test_a_text_only_training_batch_gives_the_tower_zero_gradients(encoder):
    """The dummy visual changes nothing: same loss and language-model gradients as without it, and exactly zero
    (not missing) gradients for the tower and projector."""
    model, processor = tiny_vlm(encoder)
    batch = processor([[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]], training=True)
    results = {}
    for training in (False, True):  # eval mode: no dummy; training mode: the dummy runs
        model.train(training)
        model.zero_grad(set_to_none=True)
        loss = model(**batch, skip_logits=False).loss  # the same logits in both modes: only the dummy differs
        loss.backward()
        results[training] = (loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    (loss_plain, plain), (loss_dummy, dummy) = results[False], results[True]
    assert torch.equal(loss_plain, loss_dummy)
    assert set(plain) == {n for n in dummy if n.startswith("language_model.")}
    assert all(torch.equal(plain[n], dummy[n]) for n in plain)
    visual = [n for n in dummy if n.startswith(("vision_tower.", "multi_modal_projector."))]
    assert any(n.startswith("vision_tower.") for n in visual) and any(n.startswith("multi_modal") for n in visual)
    assert all(not dummy[n].any() for n in visual)


def test_the_model_reads_the_collated_token_layouts():
    """The processor's layouts travel with the batch and drive the projector's 2x2 merge."""
    model, processor = tiny_vlm(projector="spatial_merge_2x2")
    image = Image.fromarray(np.full((64, 128, 3), 90, dtype=np.uint8))
    content = [{"type": "image", "image": image}, {"type": "text", "text": "hi"}]
    batch = processor([{"role": "user", "content": content}])
    height, width = batch["pixel_values"][0].shape[-2:]
    assert batch["visual_grids"].tolist() == [[1, height // model.patch_size, width // model.patch_size]]
    with torch.no_grad():
        given = model.get_visual_features(batch["pixel_values"], batch["patch_positions"], batch["visual_grids"])
        derived = model.get_visual_features(batch["pixel_values"], batch["patch_positions"])
        assert torch.equal(given, derived)
        frames, rows, cols = batch["visual_grids"][0].tolist()
        wrong = torch.tensor([[frames, rows * 2, cols // 2]])  # same patch count, other layout: other 2x2 groups
        assert not torch.equal(model.get_visual_features(batch["pixel_values"], batch["patch_positions"], wrong), given)


def test_the_dummy_visual_runs_at_prefill_only():
    """Text-only batches run the tower (zero weight) where ranks must match, but decode steps never do."""
    from transformers import DynamicCache

    model, processor = tiny_vlm()
    calls = []
    model.multi_modal_projector.register_forward_hook(lambda *_: calls.append(1))
    model.train()
    ids = processor([{"role": "user", "content": "hello"}])["input_ids"]
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
        assert len(calls) == 1  # prefill: the dummy visual ran
        model(input_ids=ids[:, -1:], cache=out.past_key_values, use_cache=True)
        assert len(calls) == 1  # decode step with a filled cache: no tower
        model(input_ids=ids, cache=DynamicCache(config=model.config.text_config), use_cache=True)
        assert len(calls) == 2  # an empty cache is a prefill again


def _supervised_batch(processor, clip):
    """A padded batch of two conversations (a video and an image), answers supervised."""
    answers = [{"role": "assistant", "content": "A small square."}]
    messages = [[*conversations(clip)["codec"], *answers], [*conversations(clip)["image"], *answers]]
    batch = processor(messages, training=True)
    assert (batch["labels"] == -100).any() and (batch["labels"] != -100).any()
    return batch


def _loss_and_grads(model, batch, **kwargs):
    model.zero_grad(set_to_none=True)
    out = model(**batch, **kwargs)
    out.loss.backward()
    return out, {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("text", ["qwen3", "qwen2"])  # tied and untied output embeddings
def test_training_computes_logits_only_where_supervised(text, clip):
    model, processor = tiny_vlm(text=text, seed=1)
    batch = _supervised_batch(processor, clip)
    model.train()
    full, full_grads = _loss_and_grads(model, batch, skip_logits=False)
    assert full.logits.shape[:2] == batch["input_ids"].shape
    for kwargs in ({}, {"skip_logits": True}):  # the training default, and asked for
        out, grads = _loss_and_grads(model, batch, **kwargs)
        assert out.logits is None
        torch.testing.assert_close(out.loss, full.loss, rtol=1e-5, atol=1e-6)
        assert grads.keys() == full_grads.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(grad, full_grads[name], rtol=1e-4, atol=1e-6, msg=name)
    # the Trainer's normalisation (a sum over the supervised tokens, divided by their count over the accumulation)
    items = torch.tensor(3 * int((batch["labels"][:, 1:] != -100).sum()))
    full = model(**batch, skip_logits=False, num_items_in_batch=items).loss
    torch.testing.assert_close(model(**batch, num_items_in_batch=items).loss, full, rtol=1e-5, atol=1e-6)
    # shift_labels given (transformers' convention, e.g. for sequence parallelism) are the targets on both paths
    shifted = nn.functional.pad(batch["labels"][:, 1:], (0, 1), value=-100)
    supervised = shifted.flatten() != -100
    shifted.view(-1)[supervised.nonzero()[::2, 0]] = -100  # every other target dropped: ignoring them would show
    assert (shifted != -100).any()
    full = model(**batch, skip_logits=False, shift_labels=shifted).loss
    torch.testing.assert_close(model(**batch, shift_labels=shifted).loss, full, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(full, model(**batch, skip_logits=False).loss)
    full = model(**batch, skip_logits=False, num_items_in_batch=items).loss
    model.eval()  # evaluation keeps the full logits, with the same loss
    with torch.no_grad():
        out = model(**batch)
    assert out.logits.shape[:2] == batch["input_ids"].shape
    torch.testing.assert_close(out.loss, full * 3, rtol=1e-5, atol=1e-6)


def test_skip_logits_needs_labels_and_no_logits_to_keep(clip):
    model, processor = tiny_vlm()
    batch = _supervised_batch(processor, clip)
    labels = batch.pop("labels")
    with pytest.raises(ValueError, match="skip_logits needs labels"):
        model(**batch, skip_logits=True)
    with pytest.raises(ValueError, match="exclude each other"):
        model(**batch, labels=labels, skip_logits=True, logits_to_keep=1)
