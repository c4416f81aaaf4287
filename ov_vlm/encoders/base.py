"""The vision-encoder interface the VLM uses, and the registry that maps encoder names to implementations.

Every encoder (OV-Encoder here; SigLIP2 and Qwen3-ViT are added the same way) is described by a `VisionEncoder`
adapter: which config/model classes it uses, its patch size and preprocessing, and how to turn preprocessed pixels
plus (t, h, w) positions into per-token features from a chosen layer. Encoders are chosen by name from configs,
never by looking at checkpoint paths.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
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


class VisionEncoder(ABC):
    """Adapter between a vision model and the VLM. Stateless: the weights live in the model it is given."""

    name: ClassVar[str]
    config_class: ClassVar[type[PreTrainedConfig]]
    model_class: ClassVar[type[PreTrainedModel]]

    @abstractmethod
    def patch_size(self, config: PreTrainedConfig) -> int:
        """Side of one patch in pixels."""

    @abstractmethod
    def hidden_size(self, config: PreTrainedConfig) -> int:
        """Width of the features `encode` returns."""

    @abstractmethod
    def preprocessor(self, config: PreTrainedConfig) -> ImagePreprocessor:
        """How raw images become the pixel tensors `encode` expects."""

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
