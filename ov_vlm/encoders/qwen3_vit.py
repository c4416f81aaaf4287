"""`VisionEncoder` adapter for the Qwen3-VL vision tower (`Qwen3VLVisionModel`), the paper's Qwen3-ViT baseline.

As in the paper's probe: every image, frame or mosaic is encoded on its own (repeated over the tower's temporal
patch of 2), features come from hidden state ``layer`` (-2 by default) **without the 2 x 2 merger**, and tokens are
put back from Qwen's 2 x 2-block order into raster order. Grids must have even sides (the tower's merge size).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers.models.qwen3_vl.configuration_qwen3_vl import Qwen3VLVisionConfig
from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLVisionModel

from ov_vlm.encoders.base import VisionEncoder, VisualFeatures, frames_of
from ov_vlm.processing.image import ImagePreprocessor
from ov_vlm.processing.layout import pixel_grid

QWEN_MEAN = QWEN_STD = (0.5, 0.5, 0.5)


def to_qwen_patches(image: torch.Tensor, patch: int, merge: int, temporal: int) -> tuple[torch.Tensor, int, int]:
    """[C, H, W] -> ([Hp * Wp, C * temporal * patch * patch] in 2 x 2-block order, Hp, Wp)."""
    channels = image.shape[0]
    _, rows, cols = pixel_grid(image.shape, patch)  # the processor's token layout rule
    if rows % merge or cols % merge:
        raise ValueError(f"qwen3_vit needs patch grids with sides divisible by {merge}, got {rows}x{cols}")
    grid = image[:, : rows * patch, : cols * patch].reshape(
        channels, rows // merge, merge, patch, cols // merge, merge, patch
    )
    grid = grid.permute(1, 4, 2, 5, 0, 3, 6)  # (gh, gw, mh, mw, C, ph, pw)
    grid = grid.unsqueeze(5).expand(*grid.shape[:5], temporal, patch, patch)
    return grid.reshape(rows * cols, channels * temporal * patch * patch), rows, cols


def block_to_raster(rows: int, cols: int, merge: int, device=None) -> torch.Tensor:
    """Index into Qwen's block-ordered tokens for every raster position."""
    block_order = torch.arange(rows * cols, device=device).reshape(rows // merge, cols // merge, merge, merge)
    return block_order.permute(0, 2, 1, 3).reshape(-1)


class Qwen3ViTAdapter(VisionEncoder):
    name = "qwen3_vit"
    config_class = Qwen3VLVisionConfig
    model_class = Qwen3VLVisionModel
    positional = False
    checkpoint_prefixes = ("model.visual.", "visual.")

    def grid_multiple(self, config: Qwen3VLVisionConfig) -> int:
        return config.spatial_merge_size

    def preprocessor(self, config: Qwen3VLVisionConfig) -> ImagePreprocessor:
        return ImagePreprocessor(size=512, patch_size=config.patch_size, mean=QWEN_MEAN, std=QWEN_STD)

    def encode(
        self,
        model: nn.Module,
        pixel_values: Sequence[torch.Tensor],
        positions: Sequence[torch.Tensor | None],
        layer: int = -2,
    ) -> VisualFeatures:
        config = model.config
        images, owners = frames_of(pixel_values)
        patches, grids = [], []
        for image in images:
            flat, rows, cols = to_qwen_patches(
                image, config.patch_size, config.spatial_merge_size, config.temporal_patch_size
            )
            patches.append(flat)
            grids.append((rows, cols))
        device = patches[0].device
        grid_thw = torch.tensor([[1, rows, cols] for rows, cols in grids], device=device)
        out = model(torch.cat(patches), grid_thw=grid_thw, output_hidden_states=True)
        hidden = out.hidden_states[layer]
        per_image, start = [], 0
        for rows, cols in grids:
            block = hidden[start : start + rows * cols]
            per_image.append(block[block_to_raster(rows, cols, config.spatial_merge_size, block.device)])
            start += rows * cols
        return VisualFeatures.from_parts(per_image, owners, len(pixel_values))
