"""State-dict keys as published, strict loading, save -> from_pretrained round trips."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import tiny_config, tiny_model
from safetensors.torch import load_file, save_file
from transformers import AutoModel

from ov_vlm.encoders import OneVisionEncoderConfig, OneVisionEncoderModel
from ov_vlm.encoders.onevision.rope import axis_inv_freq


def spec_key_shapes(layers: int, width: int, mlp: int, patch: int, with_head: bool) -> dict[str, tuple[int, ...]]:
    """The key/shape table of ov-encoder.md §8, written out independently of the model code."""
    keys = {
        "embeddings.patch_embedding.weight": (width, 3, patch, patch),
        "layernorm_pre.weight": (width,),
        "layernorm_pre.bias": (width,),
    }
    for i in range(layers):
        prefix = f"encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            keys[f"{prefix}self_attn.{proj}.weight"] = (width, width)
            keys[f"{prefix}self_attn.{proj}.bias"] = (width,)
        for norm in ("layer_norm1", "layer_norm2"):
            keys[f"{prefix}{norm}.weight"] = (width,)
            keys[f"{prefix}{norm}.bias"] = (width,)
        keys[f"{prefix}mlp.fc1.weight"] = (mlp, width)
        keys[f"{prefix}mlp.fc1.bias"] = (mlp,)
        keys[f"{prefix}mlp.fc2.weight"] = (width, mlp)
        keys[f"{prefix}mlp.fc2.bias"] = (width,)
    if with_head:
        keys.update(
            {
                "layernorm_post.weight": (width,),
                "layernorm_post.bias": (width,),
                "head.probe": (1, 1, width),
                "head.attention.in_proj_weight": (3 * width, width),
                "head.attention.in_proj_bias": (3 * width,),
                "head.attention.out_proj.weight": (width, width),
                "head.attention.out_proj.bias": (width,),
                "head.norm.weight": (width,),
                "head.mlp.fc1.weight": (mlp, width),
                "head.mlp.fc1.bias": (mlp,),
                "head.mlp.fc2.weight": (width, mlp),
                "head.mlp.fc2.bias": (width,),
            }
        )
    return keys


@pytest.mark.parametrize(("use_head", "count"), [(True, 399), (False, 387)])
def test_large_model_keys_and_shapes_equal_the_published_checkpoint(use_head, count):
    with torch.device("meta"):
        model = OneVisionEncoderModel(OneVisionEncoderConfig(use_head=use_head))
    expected = spec_key_shapes(24, 1024, 4096, 14, with_head=use_head)
    assert len(expected) == count
    actual = {key: tuple(tensor.shape) for key, tensor in model.state_dict().items()}
    assert actual == expected
    params = sum(p.numel() for p in model.parameters())
    assert params == (315_509_760 if use_head else 302_913_536)


def test_rope_frequencies_are_not_in_the_checkpoint(tmp_path, model):
    model.save_pretrained(tmp_path)
    stored = load_file(tmp_path / "model.safetensors")
    assert not any("rope" in key or "inv_freq" in key for key in stored)
    assert set(stored) == set(spec_key_shapes(3, 128, 256, 14, with_head=True))


def _inputs():
    torch.manual_seed(1)
    return torch.randn(2, 3, 42, 56), torch.randn(1, 3, 5, 28, 28)


@pytest.mark.parametrize("use_head", [True, False])
def test_save_then_from_pretrained_gives_identical_outputs(tmp_path, use_head):
    model = tiny_model(use_head=use_head)
    image, video = _inputs()
    with torch.no_grad():
        before = (model(image), model(video, output_hidden_states=True))
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))

    loaded = AutoModel.from_pretrained(tmp_path).eval()  # meta-device init, no trust_remote_code
    assert type(loaded) is OneVisionEncoderModel
    rope = loaded.video_rope
    for got, slots in ((rope.inv_freq_t, 8), (rope.inv_freq_h, 12), (rope.inv_freq_w, 12)):
        closed_form = torch.tensor([10000.0 ** (-i / slots) for i in range(slots)], dtype=torch.float32)
        torch.testing.assert_close(got, closed_form, rtol=1e-6, atol=0)
    with torch.no_grad():
        after = (loaded(image), loaded(video, output_hidden_states=True))
    assert torch.equal(before[0].last_hidden_state, after[0].last_hidden_state)
    assert torch.equal(before[1].last_hidden_state, after[1].last_hidden_state)
    for a, b in zip(before[1].hidden_states, after[1].hidden_states, strict=True):
        assert torch.equal(a, b)
    if use_head:
        assert torch.equal(before[0].pooler_output, after[0].pooler_output)


def test_bf16_load_keeps_fp32_rope_and_matches(tmp_path, model):
    image, _ = _inputs()
    model.save_pretrained(tmp_path)
    loaded = OneVisionEncoderModel.from_pretrained(tmp_path, dtype=torch.bfloat16).eval()
    assert loaded.dtype == torch.bfloat16
    assert loaded.video_rope.inv_freq_h.dtype == torch.float32
    with torch.no_grad():
        reference = model(image).last_hidden_state
        low = loaded(image).last_hidden_state
    assert low.dtype == torch.bfloat16 and torch.isfinite(low).all()
    assert (low.float() - reference).abs().max() < 0.1 * reference.abs().max()


def _write_checkpoint(directory, state: dict[str, torch.Tensor], config: OneVisionEncoderConfig) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(directory)
    save_file({k: v.contiguous() for k, v in state.items()}, directory / "model.safetensors", metadata={"format": "pt"})


def test_missing_keys_fail_loudly_naming_them(tmp_path, model):
    state = dict(model.state_dict())
    del state["encoder.layers.1.mlp.fc2.bias"]
    del state["layernorm_pre.weight"]
    _write_checkpoint(tmp_path, state, model.config)
    with pytest.raises(ValueError, match=r"missing keys \(2\)") as info:
        AutoModel.from_pretrained(tmp_path)
    assert "encoder.layers.1.mlp.fc2.bias" in str(info.value) and "layernorm_pre.weight" in str(info.value)


def test_unexpected_keys_fail_loudly_naming_them(tmp_path, model):
    state = {**model.state_dict(), "encoder.layers.9.extra.weight": torch.zeros(3)}
    _write_checkpoint(tmp_path, state, model.config)
    with pytest.raises(ValueError, match=r"unexpected keys \(1\): encoder\.layers\.9\.extra\.weight"):
        OneVisionEncoderModel.from_pretrained(tmp_path)


def test_head_checkpoint_into_headless_config_explains_use_head(tmp_path, model):
    _write_checkpoint(tmp_path, dict(model.state_dict()), tiny_config(use_head=False))
    with pytest.raises(ValueError, match="use_head") as info:
        AutoModel.from_pretrained(tmp_path)
    assert "head.probe" in str(info.value)


def test_non_strict_load_is_available_and_reports(tmp_path, model):
    state = dict(model.state_dict())
    del state["head.probe"]
    _write_checkpoint(tmp_path, state, model.config)
    loaded, info = OneVisionEncoderModel.from_pretrained(tmp_path, strict=False, output_loading_info=True)
    assert isinstance(loaded, OneVisionEncoderModel)
    assert set(info["missing_keys"]) == {"head.probe"}


def test_published_style_directory_loads_with_automodel(tmp_path, model_no_head):
    """A directory laid out like the Hub repo (auto_map to remote files, bf16) loads with the local class."""
    config = model_no_head.config.to_dict()
    config.update(
        {
            "auto_map": {
                "AutoConfig": "configuration_onevision_encoder.OneVisionEncoderConfig",
                "AutoModel": "modeling_onevision_encoder.OneVisionEncoderModel",
            },
            "architectures": ["OneVisionEncoderModel"],
            "dtype": "bfloat16",
            "transformers_version": "4.57.1",
        }
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    bf16_state = {k: v.to(torch.bfloat16).contiguous() for k, v in model_no_head.state_dict().items()}
    save_file(bf16_state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = AutoModel.from_pretrained(tmp_path)
    assert type(loaded) is OneVisionEncoderModel and loaded.head is None
    assert loaded.dtype == torch.bfloat16  # dtype "auto" follows config.json, as the published checkpoint does
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, bf16_state[key]), key


def test_rope_inverse_frequencies_match_the_spec_values():
    expected_t = [1, 0.3162, 0.1, 0.03162, 0.01, 0.003162, 0.001, 0.000316]
    torch.testing.assert_close(axis_inv_freq(8, 10000.0), torch.tensor(expected_t), rtol=2e-3, atol=0)
