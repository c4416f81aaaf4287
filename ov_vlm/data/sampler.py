"""Length-grouped sampling by modality: batches hold one modality and similar lengths (less padding, fewer
mixed image/video batches), in a random but seeded order, so a resumed run sees exactly the same batches."""

from __future__ import annotations

import torch
from torch.utils.data import Sampler


class ModalityLengthGroupedSampler(Sampler[int]):
    def __init__(self, lengths: list[int], modalities: list[str], group_size: int, seed: int = 0):
        if len(lengths) != len(modalities):
            raise ValueError("lengths and modalities must have the same size")
        self.lengths = lengths
        self.modalities = modalities
        self.group_size = max(1, group_size)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        groups: list[list[int]] = []
        for kind in sorted(set(self.modalities)):
            members = [i for i, m in enumerate(self.modalities) if m == kind]
            shuffled = [members[j] for j in torch.randperm(len(members), generator=generator).tolist()]
            mega = self.group_size * 4  # sort by length inside windows of a few batches, not globally
            for start in range(0, len(shuffled), mega):
                window = sorted(shuffled[start : start + mega], key=lambda i: -self.lengths[i])
                groups.extend(window[k : k + self.group_size] for k in range(0, len(window), self.group_size))
        order = torch.randperm(len(groups), generator=generator).tolist()
        for g in order:
            yield from groups[g]
