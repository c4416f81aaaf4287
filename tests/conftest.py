"""Shared fixtures: tiny random OV-Encoder configs (CPU, seconds, no network)."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DS_ACCELERATOR", "cpu")

import ov_vlm  # noqa: F401  (registers the Auto classes)
from ov_vlm.encoders import OneVisionEncoderConfig, OneVisionEncoderModel

TINY = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=3,
    num_attention_heads=2,
    patch_size=14,
    image_size=56,
)


def tiny_config(**overrides) -> OneVisionEncoderConfig:
    """A fresh tiny config with the real head_dim of 64 (RoPE slots t/h/w = 8/12/12)."""
    return OneVisionEncoderConfig(**{**TINY, **overrides})


def tiny_model(seed: int = 0, attn_implementation: str = "sdpa", **overrides) -> OneVisionEncoderModel:
    torch.manual_seed(seed)
    model = OneVisionEncoderModel._from_config(tiny_config(**overrides), attn_implementation=attn_implementation)
    return model.eval()


@pytest.fixture
def model() -> OneVisionEncoderModel:
    return tiny_model()


@pytest.fixture
def model_no_head() -> OneVisionEncoderModel:
    return tiny_model(use_head=False)
