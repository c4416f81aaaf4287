"""`pad_packed`: the same padded batch and gradients as `pad_sequence`, from one scatter."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ov_vlm.utils.tensors import pad_packed


def test_pad_packed_matches_pad_sequence_values_and_gradients():
    lengths = [3, 1, 4, 2]
    packed = torch.randn(sum(lengths), 5, 2, generator=torch.Generator().manual_seed(0), requires_grad=True)
    reference = packed.detach().clone().requires_grad_()
    padded, mask = pad_packed(packed, lengths)
    expected = nn.utils.rnn.pad_sequence(list(reference.split(lengths)), batch_first=True)
    assert torch.equal(padded, expected)
    assert mask.tolist() == [[i < n for i in range(4)] for n in lengths]
    weights = torch.randn(expected.shape, generator=torch.Generator().manual_seed(1))
    (padded * weights).sum().backward()
    (expected * weights).sum().backward()
    assert torch.equal(packed.grad, reference.grad)


def test_pad_packed_rejects_lengths_that_do_not_add_up():
    with pytest.raises(ValueError, match="lengths sum to 5, but packed has 4 rows"):
        pad_packed(torch.zeros(4, 3), [2, 3])
