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
from .presets import Preset, load_preset
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


def from_preset(
    preset: Preset | str | Path,
    projector: str | None = None,
    attn_implementation: str | None = None,
    seed: int = 0,
    visual_overrides: dict[str, Any] | None = None,
    tokenizer: str | Path | None = None,
) -> tuple[OVVLMForConditionalGeneration, OVVLMProcessor]:
    """A random-init model and its processor from a preset (a `Preset`, a name or a path): the same weights for the
    same ``seed``. ``tokenizer``: a tokenizer folder instead of the preset's tokenizer spec."""
    preset = preset if isinstance(preset, Preset) else load_preset(preset)
    tok = make_tokenizer(preset.tokenizer, tokenizer)
    config = build_config(preset, tok, projector=projector)
    if attn_implementation is not None:
        config.text_config._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    model = OVVLMForConditionalGeneration(config)
    model.generation_config = default_generation_config(config)
    return model, _processor(preset, tok, config, visual_overrides)


def processor_from_preset(preset: Preset | str | Path) -> OVVLMProcessor:
    """The processor a model built from this preset gets (its tokenizer and visual settings), without the model."""
    preset = preset if isinstance(preset, Preset) else load_preset(preset)
    tok = make_tokenizer(preset.tokenizer)
    return _processor(preset, tok, build_config(preset, tok), None)


def _processor(preset: Preset, tokenizer, config: OVVLMConfig, overrides: dict[str, Any] | None) -> OVVLMProcessor:
    spec = visual_spec_for(config, {**preset.visual_spec, **(overrides or {})})
    return OVVLMProcessor(tokenizer, spec, preset.max_length)


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
    tokenizer = tokenizer or (llm if llm is not None and Path(llm, "tokenizer_config.json").is_file() else None)
    if random_init:
        model, processor = from_preset(preset, projector, None, seed, visual_overrides, tokenizer)
    else:
        model, processor = _from_parts(preset, vision, llm, tokenizer, projector, seed, visual_overrides)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def _from_parts(preset: Preset, vision, llm, tokenizer, projector, seed: int, visual_overrides):
    """The preset's model with the vision tower and LLM weights from checkpoint folders (only the projector new)."""
    tok = make_tokenizer(preset.tokenizer, tokenizer)
    torch.manual_seed(seed)
    tower = get_encoder(preset.vision_encoder).load_pretrained(vision)
    language_model = AutoModelForCausalLM.from_pretrained(str(llm), dtype=torch.float32)
    config = build_config(preset, tok, tower.config, language_model.config, projector)
    model = OVVLMForConditionalGeneration(config)
    _copy_weights(model.vision_tower, tower, "vision tower", vision)
    _copy_weights(model.language_model, language_model, "language model", llm)
    model.generation_config = default_generation_config(config)
    return model, _processor(preset, tok, config, visual_overrides)


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
