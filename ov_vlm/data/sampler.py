"""Length-grouped sampling by modality, as LLaVA's ``group_by_modality_length``: every group of ``group_size``
consecutive indices (the samples of one optimizer step over all processes) holds one modality where possible, and
similar lengths (less padding), in a random but seeded order, so a resumed run sees exactly the same batches.

Each modality's samples that do not fill a whole group come last, together (that one step is mixed). Training is
correct whatever the mix (every rank runs the vision tower, see `ov_vlm.model`); grouping only saves padding and
keeps image, video and text steps apart.
"""

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
        leftovers: list[int] = []
        for kind in sorted(set(self.modalities)):
            members = [i for i, m in enumerate(self.modalities) if m == kind]
            shuffled = [members[j] for j in torch.randperm(len(members), generator=generator).tolist()]
            whole = len(shuffled) - len(shuffled) % self.group_size
            groups.extend(self._length_groups(shuffled[:whole]))
            leftovers.extend(shuffled[whole:])
        for g in torch.randperm(len(groups), generator=generator).tolist():
            yield from groups[g]
        yield from leftovers

    def _length_groups(self, indices: list[int]) -> list[list[int]]:
        """Whole groups of similar lengths: sorted (longest first) inside windows of a few groups, not globally."""
        window = self.group_size * 4
        groups = []
        for start in range(0, len(indices), window):
            ordered = sorted(indices[start : start + window], key=lambda i: -self.lengths[i])
            groups.extend(ordered[k : k + self.group_size] for k in range(0, len(ordered), self.group_size))
        return groups
