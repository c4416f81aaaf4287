"""Projectors from vision features to LLM embeddings, behind a registry chosen by ``config.projector_type``.

- ``mlp2x_gelu`` (reference): Linear(vision -> text), GELU, Linear(text -> text), per token.
- ``spatial_merge_2x2``: LayerNorm, each 2 x 2 group of neighbouring tokens concatenated (4 x fewer LLM tokens),
  Linear(4D -> 4D), GELU, Linear(4D -> text). Works on dense grids (images, frames) and on codec mosaics selected
  with ``block=2``, where every 2 x 2 token group of a mosaic is one selected 2 x 2 block.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from transformers.activations import ACT2FN

from ov_vlm.processing.layout import Grid


class Projector(nn.Module):
    """Maps packed per-token vision features to LLM embeddings; ``merge`` tokens per side become one."""

    merge: ClassVar[int] = 1

    def forward(self, features: torch.Tensor, grids: list[Grid], lengths: list[int]) -> torch.Tensor:
        raise NotImplementedError


class MLP2xGelu(Projector):
    merge = 1

    def __init__(self, vision_size: int, text_size: int, act: str = "gelu"):
        super().__init__()
        self.linear_1 = nn.Linear(vision_size, text_size)
        self.act = ACT2FN[act]
        self.linear_2 = nn.Linear(text_size, text_size)

    def forward(self, features: torch.Tensor, grids: list[Grid], lengths: list[int]) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))


class SpatialMerge2x2(Projector):
    merge = 2

    def __init__(self, vision_size: int, text_size: int, act: str = "gelu"):
        super().__init__()
        self.norm = nn.LayerNorm(vision_size)
        self.linear_1 = nn.Linear(4 * vision_size, 4 * vision_size)
        self.act = ACT2FN[act]
        self.linear_2 = nn.Linear(4 * vision_size, text_size)

    def forward(self, features: torch.Tensor, grids: list[Grid], lengths: list[int]) -> torch.Tensor:
        merged = []
        for index, (part, (frames, rows, cols), length) in enumerate(
            zip(features.split(lengths), grids, lengths, strict=True)
        ):
            if rows % 2 or cols % 2 or length != frames * rows * cols:
                raise ValueError(
                    f"visual {index}: spatial_merge_2x2 needs whole 2x2 token groups, got {length} tokens on "
                    f"{frames} grid(s) of {rows}x{cols} (use even patch grids, and codec block=2 for codec input)"
                )
            groups = part.reshape(frames, rows // 2, 2, cols // 2, 2, -1).permute(0, 1, 3, 2, 4, 5)
            merged.append(groups.reshape(frames * (rows // 2) * (cols // 2), -1))
        normed = torch.cat(merged).unflatten(-1, (4, -1))
        normed = self.norm(normed).flatten(-2)
        return self.linear_2(self.act(self.linear_1(normed)))


PROJECTORS: dict[str, type[Projector]] = {"mlp2x_gelu": MLP2xGelu, "spatial_merge_2x2": SpatialMerge2x2}


def available_projectors() -> list[str]:
    return sorted(PROJECTORS)


def build_projector(name: str, vision_size: int, text_size: int, act: str = "gelu") -> Projector:
    try:
        cls = PROJECTORS[name]
    except KeyError:
        raise ValueError(f"unknown projector {name!r}; available: {', '.join(available_projectors())}") from None
    return cls(vision_size, text_size, act)


def projector_merge(name: str) -> int:
    return PROJECTORS[name].merge
