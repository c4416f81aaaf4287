"""OneVisionEncoderModel behaviour: outputs, positions, sparse gathers, backends, variable-length batches."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from conftest import tiny_model

from ov_vlm.encoders import VisualFeatures, available_encoders, get_encoder
from ov_vlm.encoders.onevision.rope import grid_positions

ATOL = 1e-5


def grid(t: int, h: int, w: int) -> torch.Tensor:
    return grid_positions(t, h, w)


# ----------------------------------------------------------------------------- outputs


def test_outputs_and_hidden_states_semantics(model):
    torch.manual_seed(0)
    pixels = torch.randn(2, 3, 42, 56)  # 3 x 4 patches
    with torch.no_grad():
        out = model(pixels, output_hidden_states=True)
        embedded = model.layernorm_pre(model.embeddings(pixels))
    assert out.last_hidden_state.shape == (2, 12, 128)
    assert out.pooler_output.shape == (2, 128)
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1
    torch.testing.assert_close(out.hidden_states[0], embedded)  # block-0 input, pre-normed
    assert not torch.allclose(out.hidden_states[-1], out.last_hidden_state)  # none of them post-normed
    torch.testing.assert_close(out.last_hidden_state, model.layernorm_post(out.hidden_states[-1]))
    assert out.attention_mask is None


def test_headless_model_returns_raw_last_block(model_no_head):
    torch.manual_seed(0)
    pixels = torch.randn(1, 3, 28, 28)
    with torch.no_grad():
        out = model_no_head(pixels, output_hidden_states=True)
        as_tuple = model_no_head(pixels, output_hidden_states=True, return_dict=False)
    assert out.pooler_output is None
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
    assert len(as_tuple) == 3 and as_tuple[1] is None and torch.equal(as_tuple[0], out.last_hidden_state)


def test_video_tokens_are_time_major(model):
    torch.manual_seed(0)
    clip = torch.randn(1, 3, 4, 28, 42)
    with torch.no_grad():
        embedded = model.embeddings(clip)
        third_frame = model.embeddings(clip[:, :, 2])
    assert embedded.shape == (1, 4 * 2 * 3, 128)
    torch.testing.assert_close(embedded[:, 12:18], third_frame)


# ----------------------------------------------------------------------------- positions


def test_dense_grid_equals_explicit_positions_for_images(model):
    torch.manual_seed(0)
    pixels = torch.randn(2, 3, 42, 56)
    positions = torch.cat([torch.zeros(12, 1, dtype=torch.long), grid(1, 3, 4)[:, 1:]], dim=1)
    with torch.no_grad():
        dense = model(pixels).last_hidden_state
        explicit = model(pixels, patch_positions=positions.expand(2, -1, -1)).last_hidden_state
        shared = model(pixels, patch_positions=positions).last_hidden_state  # [N, 3] broadcast to the batch
    torch.testing.assert_close(dense, explicit, atol=ATOL, rtol=ATOL)
    torch.testing.assert_close(dense, shared, atol=ATOL, rtol=ATOL)


def test_dense_grid_equals_explicit_positions_for_video(model):
    torch.manual_seed(0)
    clip = torch.randn(2, 3, 5, 28, 28)
    with torch.no_grad():
        dense = model(clip).last_hidden_state
        explicit = model(clip, patch_positions=grid(5, 2, 2).expand(2, -1, -1)).last_hidden_state
    torch.testing.assert_close(dense, explicit, atol=ATOL, rtol=ATOL)


def test_uniform_frames_on_the_64_slot_grid_differ_from_consecutive_slots(model):
    torch.manual_seed(0)
    clip = torch.randn(1, 3, 8, 28, 28)
    slots = torch.linspace(0, 63, 8).long()
    positions = torch.stack(
        [slots.repeat_interleave(4), grid(1, 2, 2)[:, 1].repeat(8), grid(1, 2, 2)[:, 2].repeat(8)], 1
    )
    with torch.no_grad():
        spread = model(clip, patch_positions=positions).last_hidden_state
        consecutive = model(clip).last_hidden_state
    assert torch.isfinite(spread).all()
    assert not torch.allclose(spread, consecutive, atol=1e-3)


def test_more_than_64_frames_without_positions_is_a_clear_error(model):
    clip = torch.zeros(1, 3, 65, 14, 14)
    with pytest.raises(ValueError, match="65 frames > 64 temporal slots"):
        model(clip)
    with torch.no_grad():
        ok = model(clip, patch_positions=grid(65, 1, 1)).last_hidden_state
    assert ok.shape == (1, 65, 128)


def test_rope_temporal_size_none_uses_the_real_frame_count():
    model = tiny_model(rope_temporal_size=None)
    clip = torch.randn(1, 3, 70, 14, 14)
    with torch.no_grad():
        assert model(clip).last_hidden_state.shape == (1, 70, 128)


# ----------------------------------------------------------------------------- sparse selection


def _pack(clip: torch.Tensor, indices: torch.Tensor, patch: int, canvas: int) -> torch.Tensor:
    """Paste the selected patches (ascending index order) row-major onto square canvases: [1, 3, G, S, S]."""
    height, width = clip.shape[-2:]
    rows, cols = height // patch, width // patch
    per_canvas = (canvas // patch) ** 2
    canvases = torch.zeros(1, 3, len(indices) // per_canvas, canvas, canvas)
    for slot, index in enumerate(indices.tolist()):
        t, rest = divmod(index, rows * cols)
        h, w = divmod(rest, cols)
        g, cell = divmod(slot, per_canvas)
        ch, cw = divmod(cell, canvas // patch)
        source = clip[0, :, t, h * patch : (h + 1) * patch, w * patch : (w + 1) * patch]
        canvases[0, :, g, ch * patch : (ch + 1) * patch, cw * patch : (cw + 1) * patch] = source
    return canvases


def test_visible_indices_gather_equals_packing_the_same_patches(model):
    """model(full 64-frame clip, idx) == model(packed canvases, idx), the probe/pretraining feeding (spec §11)."""
    torch.manual_seed(0)
    clip = torch.randn(1, 3, 64, 28, 28)  # 64 x 2 x 2 = 256 patches
    indices = torch.randperm(256)[:8].sort().values
    packed = _pack(clip, indices, patch=14, canvas=28)  # 2 canvases of 2 x 2
    t, rest = indices // 4, indices % 4
    positions = torch.stack([t, rest // 2, rest % 2], dim=-1)
    with torch.no_grad():
        gathered = model(clip, visible_indices=indices[None]).last_hidden_state
        from_packed = model(packed, visible_indices=indices[None]).last_hidden_state
        from_positions = model(packed, patch_positions=positions[None]).last_hidden_state
    assert gathered.shape == (1, 8, 128)
    torch.testing.assert_close(gathered, from_packed, atol=ATOL, rtol=ATOL)
    torch.testing.assert_close(gathered, from_positions, atol=ATOL, rtol=ATOL)


def test_out_of_range_visible_indices_are_a_clear_error(model):
    with pytest.raises(ValueError, match="visible_indices"):
        model(torch.zeros(1, 3, 2, 28, 28), visible_indices=torch.tensor([[0, 9]]))


@pytest.mark.parametrize(
    ("pixels", "kwargs", "message"),
    [
        (torch.zeros(1, 4, 28, 28), {}, "channels"),
        (torch.zeros(1, 3, 10, 28), {}, "smaller than one"),
        (torch.zeros(3, 28, 28), {}, "pixel_values must be"),
        (torch.zeros(1, 3, 28, 28), {"patch_positions": torch.zeros(1, 3, 3)}, "patch_positions must be"),
        (torch.zeros(2, 3, 28, 28), {"attention_mask": torch.ones(2, 3)}, "attention_mask must be"),
    ],
)
def test_bad_inputs_are_clear_errors(model, pixels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model(pixels, **kwargs)


def test_misspelled_arguments_are_rejected(model):
    with pytest.raises(TypeError, match="patch_position"):
        model(torch.zeros(1, 3, 28, 28), patch_position=torch.zeros(1, 4, 3))


# ----------------------------------------------------------------------------- backends


def _backend_inputs():
    torch.manual_seed(3)
    return torch.randn(2, 3, 42, 42), torch.randn(1, 3, 3, 28, 42)


def test_sdpa_is_the_default_and_matches_eager():
    sdpa, eager = tiny_model(), tiny_model(attn_implementation="eager")
    assert sdpa.config._attn_implementation == "sdpa"
    image, video = _backend_inputs()
    with torch.no_grad():
        for pixels in (image, video):
            a = sdpa(pixels, output_hidden_states=True)
            b = eager(pixels, output_hidden_states=True)
            torch.testing.assert_close(a.last_hidden_state, b.last_hidden_state, atol=ATOL, rtol=ATOL)
            torch.testing.assert_close(a.pooler_output, b.pooler_output, atol=ATOL, rtol=ATOL)


def test_eager_returns_attention_weights():
    model = tiny_model(attn_implementation="eager")
    with torch.no_grad():
        out = model(torch.randn(1, 3, 28, 28), output_attentions=True)
    assert len(out.attentions) == 3 and out.attentions[0].shape == (1, 2, 4, 4)
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(1, 2, 4))


def test_bf16_forward_is_finite():
    model = tiny_model().to(torch.bfloat16)
    image, video = _backend_inputs()
    with torch.no_grad():
        out = model(image.to(torch.bfloat16), output_hidden_states=True)
        mixed = model([image[0], video[0]])  # fp32 pixels are cast to the weights' dtype
    assert out.last_hidden_state.dtype == torch.bfloat16
    assert all(torch.isfinite(h).all() for h in out.hidden_states)
    assert torch.isfinite(out.pooler_output).all() and torch.isfinite(mixed.last_hidden_state).all()


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available() or importlib.util.find_spec("flash_attn") is None,
    reason="needs CUDA and flash-attn",
)
def test_flash_attention_matches_sdpa_on_gpu():
    image, video = _backend_inputs()
    flash = tiny_model(attn_implementation="flash_attention_2").to("cuda", torch.bfloat16)
    sdpa = tiny_model().to("cuda", torch.bfloat16)
    with torch.no_grad():
        samples = [image[0].cuda(), video[0].cuda()]
        a, b = flash(samples), sdpa(samples)
    assert (a.last_hidden_state.float() - b.last_hidden_state.float()).abs().max() < 1e-2


# ----------------------------------------------------------------------------- variable-length batches


def _mixed_samples():
    """Images of different sizes, a frame video, a codec-like sparse clip and a clip with a visible-index budget."""
    torch.manual_seed(5)
    image_a = torch.randn(3, 42, 56)  # 12 tokens
    image_b = torch.randn(3, 28, 28)  # 4 tokens
    video = torch.randn(3, 3, 28, 42)  # 18 tokens, dense grid
    mosaic = torch.randn(3, 2, 28, 28)  # 8 tokens placed by explicit positions
    mosaic_positions = torch.tensor(
        [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1], [9, 0, 1], [18, 1, 1], [27, 0, 0], [63, 1, 0]]
    )
    budget_clip = torch.randn(3, 6, 28, 28)  # 24 patches, keep 7 of them
    budget_indices = torch.tensor([0, 3, 5, 9, 14, 20, 23])
    samples = [image_a, image_b, video, mosaic, budget_clip]
    positions = [None, None, None, mosaic_positions, None]
    indices = [None, None, None, None, budget_indices]
    return samples, positions, indices


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("use_head", [True, False])
def test_variable_length_batch_equals_one_by_one(attn, use_head):
    model = tiny_model(attn_implementation=attn, use_head=use_head)
    samples, positions, indices = _mixed_samples()
    with torch.no_grad():
        batch = model(samples, patch_positions=positions, visible_indices=indices, output_hidden_states=True)
        alone = [
            model(
                s[None],
                patch_positions=None if p is None else p[None],
                visible_indices=None if i is None else i[None],
                output_hidden_states=True,
            )
            for s, p, i in zip(samples, positions, indices, strict=True)
        ]
    lengths = [a.last_hidden_state.shape[1] for a in alone]
    assert lengths == [12, 4, 18, 8, 7]
    assert batch.attention_mask.sum(1).tolist() == lengths
    for row, (single, n) in enumerate(zip(alone, lengths, strict=True)):
        torch.testing.assert_close(batch.last_hidden_state[row, :n], single.last_hidden_state[0], atol=ATOL, rtol=ATOL)
        assert torch.count_nonzero(batch.last_hidden_state[row, n:]) == 0
        for layer_b, layer_s in zip(batch.hidden_states, single.hidden_states, strict=True):
            torch.testing.assert_close(layer_b[row, :n], layer_s[0], atol=ATOL, rtol=ATOL)
        if use_head:
            torch.testing.assert_close(batch.pooler_output[row], single.pooler_output[0], atol=ATOL, rtol=ATOL)


def test_padded_tensor_batch_with_attention_mask_equals_one_by_one(model):
    """Two codec samples with different budgets, padded to the same mosaic count and masked."""
    torch.manual_seed(2)
    mosaics = torch.randn(2, 3, 2, 28, 28)
    positions = torch.randint(0, 64, (2, 8, 3)) % torch.tensor([64, 2, 2])
    mask = torch.tensor([[True] * 8, [True] * 5 + [False] * 3])
    with torch.no_grad():
        batch = model(mosaics, patch_positions=positions, attention_mask=mask)
        first = model(mosaics[:1], patch_positions=positions[:1])
        second = model(mosaics[1:], patch_positions=positions[1:, :5], visible_indices=torch.arange(5)[None])
    torch.testing.assert_close(batch.last_hidden_state[0], first.last_hidden_state[0], atol=ATOL, rtol=ATOL)
    torch.testing.assert_close(batch.last_hidden_state[1, :5], second.last_hidden_state[0], atol=ATOL, rtol=ATOL)
    torch.testing.assert_close(batch.pooler_output[1], second.pooler_output[0], atol=ATOL, rtol=ATOL)
    assert torch.equal(batch.attention_mask, mask)


def test_list_input_errors_name_the_sample(model):
    with pytest.raises(ValueError, match=r"sample 1: .*channels"):
        model([torch.zeros(3, 28, 28), torch.zeros(4, 28, 28)])
    with pytest.raises(ValueError, match="patch_positions has 1 entries for 2 samples"):
        model([torch.zeros(3, 28, 28)] * 2, patch_positions=[None])


# ----------------------------------------------------------------------------- encoder interface


def test_encoder_interface_returns_layer_minus_2_per_visual(model):
    assert "onevision" in available_encoders()
    encoder = get_encoder("onevision")
    assert encoder.patch_size(model.config) == 14 and encoder.hidden_size(model.config) == 128
    samples, _, _ = _mixed_samples()
    mosaic = samples[3]
    partial = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 0], [5, 0, 0], [5, 1, 1]])  # last mosaic half filled
    pixels = [samples[0], samples[2], mosaic]
    positions = [None, None, partial]
    features = encoder.encode(model, pixels, positions)
    assert isinstance(features, VisualFeatures)
    assert features.lengths == [12, 18, 5] and features.features.shape == (35, 128)
    with torch.no_grad():
        expected = [
            model(pixels[0][None], output_hidden_states=True).hidden_states[-2][0],
            model(pixels[1][None], output_hidden_states=True).hidden_states[-2][0],
            model(
                mosaic[None],
                patch_positions=partial[None],
                visible_indices=torch.arange(5)[None],
                output_hidden_states=True,
            ).hidden_states[-2][0],
        ]
    for got, want in zip(features.split(), expected, strict=True):
        torch.testing.assert_close(got, want, atol=ATOL, rtol=ATOL)
    first_layer = encoder.encode(model, pixels[:1], [None], layer=0).features
    torch.testing.assert_close(first_layer, model.layernorm_pre(model.embeddings(pixels[0][None]))[0])
    with pytest.raises(ValueError, match="out of range"):
        encoder.encode(model, pixels[:1], [None], layer=7)


def test_unknown_encoder_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"available: .*onevision"):
        get_encoder("clip-vit")


# ----------------------------------------------------------------------------- training


def test_gradient_checkpointing_gives_the_same_gradients():
    samples, positions, indices = _mixed_samples()
    grads = []
    for checkpointing in (False, True):
        model = tiny_model().train()
        if checkpointing:
            model.activation_checkpointing_enable()
            assert all(layer.gradient_checkpointing for layer in model.encoder.layers)
        out = model(samples[:3], patch_positions=positions[:3], visible_indices=indices[:3])
        (out.last_hidden_state.square().mean() + out.pooler_output.square().mean()).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 40
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-6, rtol=1e-5, msg=name)
