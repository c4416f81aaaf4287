"""OneVisionEncoderConfig: published defaults, round trips, the published config.json, validation."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_config
from transformers import AutoConfig

from ov_vlm.encoders import OneVisionEncoderConfig

# config.json of lmms-lab-encoder/onevision-encoder-large as published (ov-encoder.md §1-§2).
PUBLISHED_LARGE = {
    "architectures": ["OneVisionEncoderModel"],
    "auto_map": {
        "AutoConfig": "configuration_onevision_encoder.OneVisionEncoderConfig",
        "AutoModel": "modeling_onevision_encoder.OneVisionEncoderModel",
    },
    "attention_dropout": 0.0,
    "dtype": "bfloat16",
    "hidden_act": "gelu",
    "hidden_size": 1024,
    "image_size": 448,
    "initializer_range": 0.02,
    "intermediate_size": 4096,
    "layer_norm_eps": 1e-06,
    "layer_norm_type": "layer_norm",
    "model_type": "onevision_encoder",
    "num_attention_heads": 16,
    "num_channels": 3,
    "num_hidden_layers": 24,
    "patch_size": 14,
    "rope_temporal_size": 64,
    "rope_theta": 10000.0,
    "transformers_version": "4.57.1",
    "use_head": True,
}


def test_defaults_are_the_published_large_model():
    config = OneVisionEncoderConfig()
    assert config.model_type == "onevision_encoder"
    assert (config.hidden_size, config.intermediate_size) == (1024, 4096)
    assert (config.num_hidden_layers, config.num_attention_heads, config.head_dim) == (24, 16, 64)
    assert (config.patch_size, config.image_size, config.num_channels) == (14, 448, 3)
    assert (config.hidden_act, config.layer_norm_type, config.layer_norm_eps) == ("gelu", "layer_norm", 1e-6)
    assert (config.rope_theta, config.rope_temporal_size, config.use_head) == (10000.0, 64, True)
    assert config.attention_dropout == 0.0 and config.initializer_range == 0.02


def _fields(config) -> dict:
    return {k: v for k, v in config.to_dict().items() if k != "_name_or_path"}


def test_dict_and_disk_round_trip(tmp_path):
    config = tiny_config(use_head=False, rope_temporal_size=None, layer_norm_type="rms_norm")
    again = OneVisionEncoderConfig.from_dict(config.to_dict())
    assert again.to_dict() == config.to_dict()
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, OneVisionEncoderConfig)
    assert _fields(loaded) == _fields(config)
    assert loaded.rope_temporal_size is None and loaded.use_head is False


@pytest.mark.parametrize("use_head", [True, False])
def test_published_config_json_loads_without_remote_code(tmp_path, use_head):
    (tmp_path / "config.json").write_text(json.dumps({**PUBLISHED_LARGE, "use_head": use_head}))
    config = AutoConfig.from_pretrained(tmp_path)  # no trust_remote_code: the local class is used
    assert type(config) is OneVisionEncoderConfig
    assert config.use_head is use_head
    assert (config.hidden_size, config.num_hidden_layers, config.patch_size) == (1024, 24, 14)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(hidden_size=64, num_attention_heads=4), "multiple of 32"),
        (dict(hidden_size=96, num_attention_heads=5), "divisible"),
        (dict(layer_norm_type="batch_norm"), "layer_norm_type"),
        (dict(patch_size=0), "patch_size"),
        (dict(rope_temporal_size=0), "rope_temporal_size"),
    ],
)
def test_invalid_architectures_are_rejected(overrides, message):
    with pytest.raises(Exception, match=message):
        tiny_config(**overrides)
