"""Assemble a ready model folder: config + weights (random or from published parts) + tokenizer + processor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from ov_vlm.encoders import get_encoder
from ov_vlm.processing import OVVLMProcessor, VisualSpec
from ov_vlm.processing.tokenizer import prepare_tokenizer, qwen3_tokenizer, special_token_ids, tiny_tokenizer

from .configuration_ov_vlm import OVVLMConfig
from .modeling_ov_vlm import OVVLMForConditionalGeneration
from .presets import Preset
from .projector import projector_merge

TOKENIZER_KINDS = ("qwen3", "tiny_bpe")


def make_tokenizer(spec: dict[str, Any], folder: str | Path | None = None):
    """A tokenizer from a folder (wins), or from a preset spec: ``{kind: qwen3}`` / ``{kind: tiny_bpe, vocab_size}``."""
    if folder is not None:
        return prepare_tokenizer(AutoTokenizer.from_pretrained(str(folder)))
    kind = spec.get("kind")
    if kind == "qwen3":
        return qwen3_tokenizer()
    if kind == "tiny_bpe":
        return tiny_tokenizer(int(spec.get("vocab_size", 1024)))
    raise ValueError(f"tokenizer kind must be one of {TOKENIZER_KINDS}, got {kind!r}")


def visual_spec_for(config: OVVLMConfig, overrides: dict[str, Any]) -> VisualSpec:
    """The encoder's patch size, normalisation and grid rules, plus the preset's visual settings."""
    encoder = get_encoder(config.vision_encoder)
    preprocessor = encoder.preprocessor(config.vision_config)
    base = {
        "patch_size": encoder.patch_size(config.vision_config),
        "mean": preprocessor.mean,
        "std": preprocessor.std,
        "positional": encoder.positional,
        "encoder_grid_multiple": encoder.grid_multiple(config.vision_config),
        "token_merge": projector_merge(config.projector_type),
    }
    return VisualSpec.from_dict({**base, **overrides})


def build_config(preset: Preset, tokenizer, vision_config=None, text_config=None, projector: str | None = None):
    """The composite config; ``vision_config`` / ``text_config`` (from real checkpoints) replace the preset's."""
    encoder = get_encoder(preset.vision_encoder)
    vision_config = vision_config or encoder.config_class(**preset.vision_config)
    if text_config is None:
        values = dict(preset.text_config)
        text_config = AutoConfig.for_model(values.pop("model_type"), **values)
        if "vocab_size" not in preset.text_config:
            text_config.vocab_size = len(tokenizer)
    if text_config.vocab_size < len(tokenizer):
        raise ValueError(
            f"the LLM's vocab_size {text_config.vocab_size} is smaller than the tokenizer ({len(tokenizer)})"
        )
    ids = special_token_ids(tokenizer)
    text_config.eos_token_id = ids["<|im_end|>"]
    text_config.pad_token_id = ids["<|endoftext|>"]
    return OVVLMConfig(
        vision_config=vision_config,
        text_config=text_config,
        vision_encoder=preset.vision_encoder,
        projector_type=projector or preset.projector_type,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
    )


def build_model_dir(
    preset: Preset,
    out: str | Path,
    random_init: bool = False,
    vision: str | Path | None = None,
    llm: str | Path | None = None,
    tokenizer: str | Path | None = None,
    projector: str | None = None,
    seed: int = 0,
    visual_overrides: dict[str, Any] | None = None,
) -> Path:
    """Write a model folder that ``from_pretrained``, ``OVVLMProcessor.from_pretrained`` and ``ov-vlm chat`` load.

    ``random_init``: every weight random (offline; tests, smoke runs, benchmarks). Otherwise the vision tower comes
    from ``vision`` and the LLM from ``llm`` (checkpoint folders), and only the projector is new.
    """
    out = Path(out)
    if not random_init and (vision is None or llm is None):
        raise ValueError("pass --vision and --llm checkpoint folders, or --random-init")
    tokenizer_folder = tokenizer or (llm if llm is not None and Path(llm, "tokenizer_config.json").is_file() else None)
    tok = make_tokenizer(preset.tokenizer, tokenizer_folder)
    torch.manual_seed(seed)
    if random_init:
        config = build_config(preset, tok, projector=projector)
        model = OVVLMForConditionalGeneration(config)
    else:
        encoder = get_encoder(preset.vision_encoder)
        tower = encoder.load_pretrained(vision)
        language_model = AutoModelForCausalLM.from_pretrained(str(llm), dtype=torch.float32)
        config = build_config(preset, tok, tower.config, language_model.config, projector)
        model = OVVLMForConditionalGeneration(config)
        _copy_weights(model.vision_tower, tower, "vision tower", vision)
        _copy_weights(model.language_model, language_model, "language model", llm)
    model.generation_config = default_generation_config(config)
    model.save_pretrained(out)
    spec = visual_spec_for(config, {**preset.visual_spec, **(visual_overrides or {})})
    OVVLMProcessor(tok, spec, preset.max_length).save_pretrained(out)
    return out


def default_generation_config(config: OVVLMConfig) -> GenerationConfig:
    """Greedy, stopping at ``<|im_end|>``."""
    return GenerationConfig(
        eos_token_id=config.text_config.eos_token_id,
        pad_token_id=config.text_config.pad_token_id,
        max_new_tokens=512,
        do_sample=False,
    )


def _copy_weights(target: torch.nn.Module, source: torch.nn.Module, what: str, origin) -> None:
    missing, unexpected = target.load_state_dict(source.state_dict(), strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{origin}: {what} weights do not fit the model: missing {sorted(missing)[:10]}, "
            f"unexpected {sorted(unexpected)[:10]}"
        )
