"""Presets and ``ov-vlm build-model``: random init, assembly from published-style parts, strict loading."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM
from vlm_helpers import TEXT, VISION, tokenizer

from ov_vlm.cli.main import main
from ov_vlm.encoders import OneVisionEncoderModel
from ov_vlm.model import OVVLMForConditionalGeneration
from ov_vlm.model.builder import build_config, from_preset, processor_from_preset
from ov_vlm.model.presets import available_presets, load_preset
from ov_vlm.processing import OVVLMProcessor

PAPER = ["ov-encoder-large_qwen3-4b", "ov-encoder-large-lang_qwen3-4b", "siglip2-so400m_qwen3-4b", "qwen3-vit_qwen3-4b"]


def test_presets_ship_the_tiny_and_paper_models():
    assert {"tiny", *PAPER} <= set(available_presets())


@pytest.mark.parametrize("name", PAPER)
def test_paper_presets_describe_the_probe(name):
    preset = load_preset(name)
    config = build_config(preset, tokenizer())
    text = config.text_config
    assert (text.hidden_size, text.num_hidden_layers, text.intermediate_size) == (2560, 36, 9728)
    assert (text.num_attention_heads, text.num_key_value_heads, text.head_dim) == (32, 8, 128)
    assert config.projector_type == "mlp2x_gelu" and config.vision_feature_layer == -2
    with torch.device("meta"):
        model = OVVLMForConditionalGeneration(config)
    first = model.multi_modal_projector.linear_1
    vision_width = {"onevision": 1024, "siglip2": 1152, "qwen3_vit": 1024}[config.vision_encoder]
    assert (first.in_features, first.out_features) == (vision_width, 2560)


def test_unknown_preset_keys_and_names_are_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("vision_encoder: onevision\ntext_config: {model_type: qwen3}\nprojektor: x\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['projektor'\]"):
        load_preset(bad)
    with pytest.raises(ValueError, match=r"unknown preset 'nope'; available: .*tiny"):
        load_preset("nope")


def test_random_init_model_folder_loads_everywhere(tmp_path):
    out = tmp_path / "tiny"
    assert main(["build-model", "--preset", "tiny", "--random-init", "--out", str(out)]) == 0
    model = OVVLMForConditionalGeneration.from_pretrained(out)
    processor = OVVLMProcessor.from_pretrained(out)
    assert model.config.image_token_id == processor.image_token_id
    assert model.generation_config.eos_token_id == processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert processor.spec.patch_size == 14 and processor.spec.codec == {"canvas": 64, "patch": 16}


def test_from_preset_is_what_build_model_writes(tmp_path):
    out = tmp_path / "tiny"
    assert main(["build-model", "--preset", "tiny", "--random-init", "--out", str(out), "--seed", "3"]) == 0
    model, processor = from_preset("tiny", attn_implementation="eager", seed=3)
    saved, state = load_file(out / "model.safetensors"), model.state_dict()
    assert saved and all(torch.equal(value, state[key]) for key, value in saved.items())
    assert model.config.text_config._attn_implementation == "eager"
    assert processor.spec == OVVLMProcessor.from_pretrained(out).spec == processor_from_preset("tiny").spec
    assert processor.max_length == processor_from_preset(load_preset("tiny")).max_length


def test_build_from_vision_and_llm_checkpoints(tmp_path, capsys):
    torch.manual_seed(1)
    vision = OneVisionEncoderModel(VISION["onevision"]())
    vision.save_pretrained(tmp_path / "vision")
    llm = AutoModelForCausalLM.from_config(TEXT["qwen3"](len(tokenizer())))
    llm.save_pretrained(tmp_path / "llm")
    tokenizer().save_pretrained(tmp_path / "llm")
    out = tmp_path / "built"
    code = main(
        [
            "build-model",
            "--preset",
            "tiny",
            "--vision",
            str(tmp_path / "vision"),
            "--llm",
            str(tmp_path / "llm"),
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    built = OVVLMForConditionalGeneration.from_pretrained(out)
    for key, value in vision.state_dict().items():
        assert torch.equal(built.vision_tower.state_dict()[key], value), key
    for key, value in llm.state_dict().items():
        assert torch.equal(built.language_model.state_dict()[key], value), key
    assert main(["build-model", "--preset", "tiny", "--out", str(tmp_path / "x")]) == 2
    assert "pass --vision and --llm" in capsys.readouterr().err


def test_vlm_loading_is_strict(tmp_path):
    assert main(["build-model", "--preset", "tiny", "--random-init", "--out", str(tmp_path / "m")]) == 0
    weights = tmp_path / "m" / "model.safetensors"
    state = load_file(weights)
    removed = "multi_modal_projector.linear_2.bias"
    del state[removed]
    save_file(state, weights, metadata={"format": "pt"})
    with pytest.raises(ValueError, match=f"missing keys \\(1\\): {removed}"):
        OVVLMForConditionalGeneration.from_pretrained(tmp_path / "m")
