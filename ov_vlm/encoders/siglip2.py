"""`VisionEncoder` adapter for SigLIP2 NaFlex (`transformers.Siglip2VisionModel`), the paper's frame-sampling baseline.

Every image, frame or mosaic is encoded on its own (no temporal positions, as in the paper's probe): its patches
are flattened (patch, patch, channel) as the NaFlex processor does, padded to the longest in the batch, with
``spatial_shapes`` resizing the learned position table per image. Features come from hidden state ``layer``
(-2 by default), in raster order; (t, h, w) positions are not used.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers import Siglip2VisionConfig, Siglip2VisionModel

from ov_vlm.encoders.base import VisionEncoder, VisualFeatures, frames_of
from ov_vlm.processing.image import ImagePreprocessor

SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)


def to_patches(image: torch.Tensor, patch: int) -> torch.Tensor:
    """[C, H, W] -> [Hp * Wp, patch * patch * C] in raster order (NaFlex layout)."""
    channels, height, width = image.shape
    rows, cols = height // patch, width // patch
    grid = image[:, : rows * patch, : cols * patch].reshape(channels, rows, patch, cols, patch)
    return grid.permute(1, 3, 2, 4, 0).reshape(rows * cols, patch * patch * channels)


class Siglip2Adapter(VisionEncoder):
    name = "siglip2"
    config_class = Siglip2VisionConfig
    model_class = Siglip2VisionModel
    positional = False
    checkpoint_prefixes = ("vision_model.",)

    def preprocessor(self, config: Siglip2VisionConfig) -> ImagePreprocessor:
        return ImagePreprocessor(size=512, patch_size=config.patch_size, mean=SIGLIP_MEAN, std=SIGLIP_STD)

    def encode(
        self,
        model: nn.Module,
        pixel_values: Sequence[torch.Tensor],
        positions: Sequence[torch.Tensor | None],
        layer: int = -2,
    ) -> VisualFeatures:
        patch = model.config.patch_size
        images, owners = frames_of(pixel_values)
        patches = [to_patches(image, patch) for image in images]
        shapes = torch.tensor([[img.shape[1] // patch, img.shape[2] // patch] for img in images])
        longest = max(p.shape[0] for p in patches)
        device = patches[0].device
        batch = patches[0].new_zeros(len(patches), longest, patches[0].shape[1])
        mask = torch.zeros(len(patches), longest, dtype=torch.long, device=device)
        for i, item in enumerate(patches):
            batch[i, : item.shape[0]] = item
            mask[i, : item.shape[0]] = 1
        out = model(
            pixel_values=batch, pixel_attention_mask=mask, spatial_shapes=shapes.to(device), output_hidden_states=True
        )
        hidden = out.hidden_states[layer]
        per_image = [hidden[i, : item.shape[0]] for i, item in enumerate(patches)]
        return VisualFeatures.from_parts(per_image, owners, len(pixel_values))
