"""`VisionEncoder` adapter for the OneVision-Encoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ov_vlm.encoders.base import VisionEncoder, VisualFeatures
from ov_vlm.processing.image import CLIP_MEAN, CLIP_STD, ImagePreprocessor

from .configuration_onevision_encoder import OneVisionEncoderConfig
from .modeling_onevision_encoder import OneVisionEncoderModel


class OneVisionEncoderAdapter(VisionEncoder):
    name = "onevision"
    config_class = OneVisionEncoderConfig
    model_class = OneVisionEncoderModel

    def preprocessor(self, config: OneVisionEncoderConfig) -> ImagePreprocessor:
        return ImagePreprocessor(size=config.image_size, patch_size=config.patch_size, mean=CLIP_MEAN, std=CLIP_STD)

    def encode(
        self,
        model: nn.Module,
        pixel_values: Sequence[torch.Tensor],
        positions: Sequence[torch.Tensor | None],
        layer: int = -2,
    ) -> VisualFeatures:
        if not isinstance(model, OneVisionEncoderModel):
            raise TypeError(f"the onevision adapter needs a OneVisionEncoderModel, got {type(model).__name__}")
        features, lengths = model.get_visual_features(pixel_values, positions, layer=layer)
        return VisualFeatures(features=features, lengths=lengths)
