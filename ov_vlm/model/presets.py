"""Model presets: YAML files (no weights) that say which encoder, LLM, projector, tokenizer and visual settings
make a model. Shipped as package data (``ov_vlm/resources/presets/``, linked from ``checkpoints/presets/``);
``--preset`` takes a name from there or a path to a file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ov_vlm.errors import ConfigError
from ov_vlm.resources import resource_path
from ov_vlm.utils.typed import from_dict

SHIPPED_PRESETS = resource_path("presets")


@dataclass(frozen=True)
class Preset:
    name: str
    vision_encoder: str
    text_config: dict[str, Any]
    vision_config: dict[str, Any] = field(default_factory=dict)
    projector_type: str = "mlp2x_gelu"
    tokenizer: dict[str, Any] = field(default_factory=lambda: {"kind": "qwen3"})
    visual_spec: dict[str, Any] = field(default_factory=dict)
    max_length: int | None = None
    description: str = ""
    vision_pretrained: str | None = None
    llm_pretrained: str | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any], name: str, where: str | None = None) -> Preset:
        """The preset ``name`` from a file's values (`ov_vlm.utils.typed.from_dict`: unknown keys raise)."""
        preset = from_dict(cls, values, where or f"preset {name}", fixed={"name": name})
        if "model_type" not in preset.text_config:
            raise ConfigError(f"{where or f'preset {name}'}: text_config needs a model_type (e.g. qwen3)")
        return preset


def preset_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("OV_VLM_PRESETS", "").split(os.pathsep) if p]
    return [*extra, SHIPPED_PRESETS]


def available_presets() -> list[str]:
    return sorted({p.stem for folder in preset_dirs() if folder.is_dir() for p in folder.glob("*.yaml")})


def load_preset(name_or_path: str | Path) -> Preset:
    """A preset by name (``checkpoints/presets/<name>.yaml``, or ``$OV_VLM_PRESETS``) or by file path."""
    path = Path(name_or_path)
    if not path.is_file():
        candidates = [folder / f"{name_or_path}.yaml" for folder in preset_dirs()]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise ConfigError(f"unknown preset {name_or_path!r}; available: {', '.join(available_presets()) or 'none'}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a preset must be a YAML mapping")
    return Preset.from_dict(values, name=path.stem, where=str(path))
