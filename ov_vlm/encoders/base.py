"""The vision-encoder interface the VLM uses, and the registry that maps encoder names to implementations.

Every encoder (OV-Encoder here; SigLIP2 and Qwen3-ViT are added the same way) is described by a `VisionEncoder`
adapter: which config/model classes it uses, its patch size and preprocessing, and how to turn preprocessed pixels
plus (t, h, w) positions into per-token features from a chosen layer. Encoders are chosen by name from configs,
never by looking at checkpoint paths.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel

from ov_vlm.processing.image import ImagePreprocessor


@dataclass
class VisualFeatures:
    """Features of several visuals, packed: ``features[sum N_i, D]`` with per-visual ``lengths``."""

    features: torch.Tensor
    lengths: list[int]

    def split(self) -> list[torch.Tensor]:
        return list(self.features.split(self.lengths, dim=0))

    @classmethod
    def from_parts(cls, parts: list[torch.Tensor], owners: list[int], count: int) -> VisualFeatures:
        """Pack per-image features back into per-visual order (``owners[i]`` = visual of image i)."""
        grouped: list[list[torch.Tensor]] = [[] for _ in range(count)]
        for part, owner in zip(parts, owners, strict=True):
            grouped[owner].append(part)
        per_visual = [torch.cat(group) for group in grouped]
        return cls(torch.cat(per_visual), [len(v) for v in per_visual])


def frames_of(pixel_values: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[int]]:
    """Split visuals (``[C, H, W]`` or ``[C, T, H, W]``) into single images, with the visual each came from."""
    images, owners = [], []
    for index, pixels in enumerate(pixel_values):
        if pixels.dim() == 3:
            images.append(pixels)
            owners.append(index)
        elif pixels.dim() == 4:
            images.extend(pixels.unbind(1))
            owners.extend([index] * pixels.shape[1])
        else:
            raise ValueError(f"visual {index}: expected [C, H, W] or [C, T, H, W], got {tuple(pixels.shape)}")
    return images, owners


class VisionEncoder(ABC):
    """Adapter between a vision model and the VLM. Stateless: the weights live in the model it is given."""

    name: ClassVar[str]
    config_class: ClassVar[type[PreTrainedConfig]]
    model_class: ClassVar[type[PreTrainedModel]]
    positional: ClassVar[bool] = True  # uses the (t, h, w) positions (3D RoPE); otherwise frames are independent

    def patch_size(self, config: PreTrainedConfig) -> int:
        """Side of one patch in pixels (the config's ``patch_size`` unless an adapter says otherwise)."""
        return config.patch_size

    def hidden_size(self, config: PreTrainedConfig) -> int:
        """Width of the features `encode` returns (the config's ``hidden_size`` unless an adapter says otherwise)."""
        return config.hidden_size

    @abstractmethod
    def preprocessor(self, config: PreTrainedConfig) -> ImagePreprocessor:
        """How raw images become the pixel tensors `encode` expects."""

    def grid_multiple(self, config: PreTrainedConfig) -> int:
        """Patch-grid sides must be multiples of this (1 unless the tower merges patches itself)."""
        return 1

    @abstractmethod
    def encode(
        self,
        model: nn.Module,
        pixel_values: Sequence[torch.Tensor],
        positions: Sequence[torch.Tensor | None],
        layer: int = -2,
    ) -> VisualFeatures:
        """Per-token features of each visual from hidden-state ``layer`` (default -2, as in the paper's VLM).

        ``pixel_values[i]``: preprocessed `[C, H, W]` image or `[C, T, H, W]` frames/mosaics.
        ``positions[i]``: `[N_i, 3]` integer (t, h, w) of the first N_i patches in token order, or None (dense).
        """

    def build(self, config: PreTrainedConfig) -> PreTrainedModel:
        """A randomly initialised model for ``config``."""
        return self.model_class(config)

    # prefixes under which a full multimodal checkpoint stores this tower (tried in order)
    checkpoint_prefixes: ClassVar[tuple[str, ...]] = ()

    def load_pretrained(self, path: str | Path, **kwargs) -> PreTrainedModel:
        """The tower from a checkpoint folder: its own checkpoint, or (via ``checkpoint_prefixes``) the vision part
        of a full multimodal checkpoint. Missing or unexpected keys raise, naming them."""
        path = Path(path)
        config_file = path / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"{path}: no config.json; not a model folder")
        model_type = json.loads(config_file.read_text()).get("model_type")
        if model_type == self.config_class.model_type:
            return self.model_class.from_pretrained(str(path), **kwargs)
        from transformers import AutoConfig

        full = AutoConfig.from_pretrained(str(path))
        vision_config = getattr(full, "vision_config", None)
        if not isinstance(vision_config, self.config_class):
            raise ValueError(
                f"{path}: a {model_type} checkpoint holds no {self.config_class.__name__} vision tower for {self.name}"
            )
        model = self.model_class(vision_config)
        state = read_prefixed_weights(path, self.checkpoint_prefixes)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{path}: vision tower weights do not match {self.model_class.__name__}: "
                f"missing {sorted(missing)[:10]}, unexpected {sorted(unexpected)[:10]}"
            )
        return model


def read_prefixed_weights(path: Path, prefixes: Sequence[str]) -> dict[str, torch.Tensor]:
    """Tensors under the first of ``prefixes`` found in a folder's safetensors files, with the prefix removed."""
    from safetensors import safe_open

    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{path}: no .safetensors weights")
    for prefix in prefixes:
        state: dict[str, torch.Tensor] = {}
        for file in files:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():  # noqa: SIM118 (safe_open has no __iter__)
                    if key.startswith(prefix):
                        state[key[len(prefix) :]] = handle.get_tensor(key)
        if state:
            return state
    raise ValueError(f"{path}: no weights under any of the prefixes {list(prefixes)}")


_REGISTRY: dict[str, VisionEncoder] = {}


def register_encoder(encoder: VisionEncoder) -> VisionEncoder:
    """Add an encoder adapter under ``encoder.name`` (re-registering the same class is a no-op)."""
    existing = _REGISTRY.get(encoder.name)
    if existing is not None and type(existing) is not type(encoder):
        raise ValueError(f"encoder name {encoder.name!r} is already registered by {type(existing).__name__}")
    _REGISTRY[encoder.name] = encoder
    return encoder


def get_encoder(name: str) -> VisionEncoder:
    """The adapter registered as ``name``; a clear error lists the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown vision encoder {name!r}; available: {', '.join(available_encoders())}") from None


def available_encoders() -> list[str]:
    return sorted(_REGISTRY)
