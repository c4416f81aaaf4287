"""LoRA on the language model (PEFT), and merging trained adapters back into a plain model folder."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from ov_vlm.utils.model_folder import processor_file

from .recipe import LoraSection


def apply_lora(model: nn.Module, section: LoraSection):
    """Wrap ``model`` with LoRA adapters on the language model's linear layers (the vision tower is untouched);
    the projector trains fully when ``train_projector``."""
    from peft import LoraConfig, get_peft_model

    names = "|".join(section.target_modules)
    config = LoraConfig(
        r=section.r,
        lora_alpha=section.alpha,
        lora_dropout=section.dropout,
        target_modules=rf"language_model\..*\.({names})",
        modules_to_save=["multi_modal_projector"] if section.train_projector else None,
        task_type=None,
    )
    return get_peft_model(model, config)


def merge_lora(adapter_dir: str | Path, out: str | Path, base: str | Path | None = None) -> Path:
    """Load the base model + the adapters of ``adapter_dir``, merge them, and write a full model folder."""
    from peft import PeftModel

    from ov_vlm.model import OVVLMForConditionalGeneration
    from ov_vlm.processing import OVVLMProcessor

    adapter_dir, out = Path(adapter_dir), Path(out)
    config_file = adapter_dir / "adapter_config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{adapter_dir}: no adapter_config.json; not a LoRA output folder")
    base = Path(base) if base else Path(json.loads(config_file.read_text())["base_model_name_or_path"])
    model = OVVLMForConditionalGeneration.from_pretrained(base)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(out)
    source = adapter_dir if processor_file(adapter_dir) is not None else base
    OVVLMProcessor.from_pretrained(source).save_pretrained(out)
    return out
