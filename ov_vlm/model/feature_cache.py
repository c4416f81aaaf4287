"""`FrozenTowerCache`: the features a frozen vision tower gave each visual, kept in memory by the visual's content.

A stage that trains the projector and the LLM over a frozen tower (the paper's alignment and instruction stages,
the demo's stages 1 and 2) runs the tower's forward again on every pass over the same visuals, for the same result.
With the cache, a visual's tower features are computed once and read back on later passes; only the visuals of a
batch not seen before go through the tower (as one smaller batch). The key is a SHA-256 of the visual's pixels and
(t, h, w) positions, so any change of input (another frame sampling, an augmentation) is a miss, never a stale hit.
Features stay on the tower's device (on a GPU, the budget is GPU memory).

The cached result is the tower's output bit for bit when the tower's per-visual output does not depend on what else
is in the batch; the OV-Encoder's does not on CPU (padding is masked, each row's products are its own; tested). GPU
kernels may round another batch size differently: there the features agree to rounding.
Only valid while the tower's weights stay fixed: `OVVLMForConditionalGeneration.enable_frozen_tower_cache` checks
that no tower weight trains and that no dropout is active, and the model refuses it under ZeRO-3, where every
process must run the sharded tower's forward in step with the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import torch

from ov_vlm.encoders.base import VisualFeatures

Encode = Callable[[list[torch.Tensor], list[torch.Tensor | None]], VisualFeatures]


def visual_key(pixels: torch.Tensor, positions: torch.Tensor | None) -> bytes:
    """SHA-256 over a visual's pixel tensor and positions (their dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for tensor in (pixels, positions):
        if tensor is None:
            digest.update(b"none")
            continue
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{data.dtype}{tuple(data.shape)}".encode())
        digest.update(memoryview(data.view(torch.uint8).numpy()) if data.numel() else b"")
    return digest.digest()


class FrozenTowerCache:
    """Tower features per visual content, up to ``budget_bytes`` (visuals past the budget are computed each time)."""

    def __init__(self, budget_bytes: int):
        if budget_bytes <= 0:
            raise ValueError(f"the frozen tower cache needs a positive budget, got {budget_bytes} bytes")
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self.hits = 0
        self.misses = 0
        self._features: dict[bytes, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._features)

    def encode(
        self, encode: Encode, pixel_values: Sequence[torch.Tensor], positions: Sequence[torch.Tensor | None]
    ) -> VisualFeatures:
        """``encode(pixel_values, positions)`` through the cache: the missing visuals in one call, in order."""
        keys = [visual_key(pixels, pos) for pixels, pos in zip(pixel_values, positions, strict=True)]
        found = [self._features.get(key) for key in keys]
        missing = [i for i, features in enumerate(found) if features is None]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            computed = encode([pixel_values[i] for i in missing], [positions[i] for i in missing]).split()
            for i, features in zip(missing, computed, strict=True):
                found[i] = features
                self._store(keys[i], features)
        return VisualFeatures(torch.cat(found), [len(features) for features in found])

    def _store(self, key: bytes, features: torch.Tensor) -> None:
        size = features.numel() * features.element_size()
        if self.used_bytes + size <= self.budget_bytes:
            self._features[key] = features.detach().clone()  # its own storage, not a view of the batch's
            self.used_bytes += size

    def summary(self) -> str:
        looked_up = self.hits + self.misses
        rate = 100.0 * self.hits / looked_up if looked_up else 0.0
        return (
            f"frozen tower cache: {len(self)} visuals, {self.used_bytes / 2**20:.0f} of "
            f"{self.budget_bytes / 2**20:.0f} MB, {rate:.0f} % of {looked_up} lookups hit"
        )
