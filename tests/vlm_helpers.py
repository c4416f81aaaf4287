"""Tiny random VLMs for each encoder (CPU, seconds, offline) and their processors."""

from __future__ import annotations

from functools import lru_cache

import torch
from transformers import Qwen2Config, Qwen3Config, Siglip2VisionConfig
from transformers.models.qwen3_vl.configuration_qwen3_vl import Qwen3VLVisionConfig

from ov_vlm.encoders import OneVisionEncoderConfig
from ov_vlm.model import OVVLMForConditionalGeneration
from ov_vlm.model.builder import build_config, visual_spec_for
from ov_vlm.model.presets import Preset
from ov_vlm.processing import OVVLMProcessor
from ov_vlm.processing.tokenizer import tiny_tokenizer

VISION = {
    "onevision": lambda: OneVisionEncoderConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1, use_head=False
    ),
    "siglip2": lambda: Siglip2VisionConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        patch_size=16,
        num_patches=64,
        vision_use_head=False,
    ),
    "qwen3_vit": lambda: Qwen3VLVisionConfig(
        depth=2,
        hidden_size=64,
        intermediate_size=128,
        num_heads=4,
        patch_size=16,
        temporal_patch_size=2,
        spatial_merge_size=2,
        out_hidden_size=64,
        num_position_embeddings=64,
        deepstack_visual_indexes=[0],
    ),
}
TEXT = {
    "qwen3": lambda vocab: Qwen3Config(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    ),
    "qwen2": lambda vocab: Qwen2Config(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
    ),
}
# small canvases so that tests stay fast: images <= 8x8 patches, frames 4x4 (patch 14) or 4x4 (patch 16)
SPEC = {
    14: {"image_pinpoints": [[56, 112], [112, 56], [112, 112]], "frame_size": 56, "codec": {"canvas": 64, "patch": 16}},
    16: {"image_pinpoints": [[64, 128], [128, 64], [128, 128]], "frame_size": 64, "codec": {"canvas": 64, "patch": 16}},
}


@lru_cache(maxsize=1)
def tokenizer():
    return tiny_tokenizer(1024)


def tiny_vlm(encoder: str = "onevision", projector: str = "mlp2x_gelu", text: str = "qwen3", seed: int = 0, **spec):
    """(model in eval mode, processor) with random weights."""
    tok = tokenizer()
    preset = Preset(name="test", vision_encoder=encoder, text_config={"model_type": text})
    config = build_config(
        preset, tok, vision_config=VISION[encoder](), text_config=TEXT[text](len(tok)), projector=projector
    )
    torch.manual_seed(seed)
    model = OVVLMForConditionalGeneration(config).eval()
    patch = 14 if encoder == "onevision" else 16
    processor = OVVLMProcessor(tok, visual_spec_for(config, {**SPEC[patch], **spec}))
    return model, processor
