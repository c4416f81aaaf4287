"""Tensor helpers for variable-length batches."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pad_packed(packed: torch.Tensor, lengths: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ``packed`` [sum(lengths), ...] (sample after sample) -> zero-padded [len(lengths), max, ...] and
    the mask of real rows [len(lengths), max].

    One scatter, whose backward is one gather. ``pad_sequence`` writes sample by sample into its output, and the
    backward of each of those slice writes copies the whole padded gradient (once per sample, every step).
    """
    counts = torch.as_tensor(list(lengths), dtype=torch.long, device=packed.device)
    if int(counts.sum()) != packed.shape[0]:
        raise ValueError(f"lengths sum to {int(counts.sum())}, but packed has {packed.shape[0]} rows")
    width = int(counts.max()) if len(counts) else 0
    mask = torch.arange(width, device=packed.device)[None, :] < counts[:, None]
    padded = packed.new_zeros((len(counts), width, *packed.shape[1:]))
    return padded.index_put((mask,), packed), mask
