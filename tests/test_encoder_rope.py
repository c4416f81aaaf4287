"""The 3D RoPE against an independent, element-by-element formula written here from ov-encoder.md §5."""

from __future__ import annotations

import math

import pytest
import torch

from ov_vlm.encoders.onevision.rope import (
    OneVisionEncoderRotaryEmbedding,
    apply_rotary,
    axis_slot_counts,
    grid_positions,
)

THETA = 10000.0


def reference_angles(t: float, h: float, w: float, head_dim: int = 64) -> list[float]:
    """phi (head_dim values) for one position, in float64 with plain Python."""
    unit = head_dim // 32
    slots = {"t": 4 * unit, "h": 6 * unit, "w": 6 * unit}
    half = [t * THETA ** (-i / slots["t"]) for i in range(slots["t"])]
    half += [h * THETA ** (-i / slots["h"]) for i in range(slots["h"])]
    half += [w * THETA ** (-i / slots["w"]) for i in range(slots["w"])]
    return half + half  # concatenated, not interleaved


def reference_rotate(x: list[float], phi: list[float]) -> list[float]:
    """out[2i] = x[2i] cos phi[2i] - x[2i+1] sin phi[2i]; out[2i+1] = x[2i+1] cos phi[2i+1] + x[2i] sin phi[2i+1]."""
    out = [0.0] * len(x)
    for i in range(len(x) // 2):
        a, b = x[2 * i], x[2 * i + 1]
        out[2 * i] = a * math.cos(phi[2 * i]) - b * math.sin(phi[2 * i])
        out[2 * i + 1] = b * math.cos(phi[2 * i + 1]) + a * math.sin(phi[2 * i + 1])
    return out


def test_slot_split_is_4_6_6():
    assert axis_slot_counts(64) == (8, 12, 12)
    assert axis_slot_counts(128) == (16, 24, 24)
    with pytest.raises(ValueError):
        axis_slot_counts(48)


def test_rotation_equals_the_independent_formula():
    torch.manual_seed(0)
    rope = OneVisionEncoderRotaryEmbedding(64, THETA)
    positions = torch.tensor([[[0, 0, 0], [3, 7, 2], [63, 35, 35], [9, 120, 5]]])  # [B=1, N=4, 3]
    query = torch.randn(1, 2, 4, 64, dtype=torch.float64)  # [B, H, N, d]
    key = torch.randn(1, 2, 4, 64, dtype=torch.float64)
    cos, sin = rope(positions)
    got_q, got_k = apply_rotary(query, key, cos.double(), sin.double())
    for n, (t, h, w) in enumerate(positions[0].tolist()):
        phi = reference_angles(t, h, w)
        for head in range(2):
            expect_q = reference_rotate(query[0, head, n].tolist(), phi)
            expect_k = reference_rotate(key[0, head, n].tolist(), phi)
            torch.testing.assert_close(
                got_q[0, head, n], torch.tensor(expect_q, dtype=torch.float64), atol=1e-5, rtol=0
            )
            torch.testing.assert_close(
                got_k[0, head, n], torch.tensor(expect_k, dtype=torch.float64), atol=1e-5, rtol=0
            )


def test_angles_are_fp32_and_match_reference():
    rope = OneVisionEncoderRotaryEmbedding(64, THETA)
    positions = torch.tensor([[5, 11, 30]], dtype=torch.int32)
    cos, sin = rope(positions)
    assert cos.dtype == sin.dtype == torch.float32
    phi = torch.tensor(reference_angles(5, 11, 30), dtype=torch.float64)
    torch.testing.assert_close(cos[0].double(), phi.cos(), atol=1e-5, rtol=0)
    torch.testing.assert_close(sin[0].double(), phi.sin(), atol=1e-5, rtol=0)


def test_rotation_is_not_norm_preserving():
    """Pair members use different angles, so norms change (0.96-1.02 for random q per the spec)."""
    torch.manual_seed(0)
    rope = OneVisionEncoderRotaryEmbedding(64, THETA)
    positions = torch.randint(1, 40, (1, 256, 3))
    query = torch.randn(1, 1, 256, 64, dtype=torch.float64)
    cos, sin = rope(positions)
    rotated, _ = apply_rotary(query, query, cos.double(), sin.double())
    ratio = rotated.norm(dim=-1) / query.norm(dim=-1)
    assert (ratio - 1).abs().max() > 1e-2
    assert ratio.min() > 0.85 and ratio.max() < 1.15
    # at the origin every angle is 0: identity
    zero_cos, zero_sin = rope(torch.zeros(1, 1, 3))
    same, _ = apply_rotary(query[:, :, :1], query[:, :, :1], zero_cos.double(), zero_sin.double())
    torch.testing.assert_close(same, query[:, :, :1])


def test_axis_layout_of_the_64_angle_dims():
    rope = OneVisionEncoderRotaryEmbedding(64, THETA)
    base = torch.tensor([[2.0, 3.0, 4.0]])
    layout = {0: list(range(0, 8)) + list(range(32, 40)), 1: list(range(8, 20)) + list(range(40, 52))}
    layout[2] = list(range(20, 32)) + list(range(52, 64))
    phi_base = torch.cat([rope.half_angles(base)] * 2, dim=-1)
    for axis, dims in layout.items():
        moved = base.clone()
        moved[0, axis] += 1
        changed = (torch.cat([rope.half_angles(moved)] * 2, dim=-1) != phi_base)[0].nonzero().flatten().tolist()
        assert changed == dims


def test_grid_positions_are_time_major_then_row_major():
    positions = grid_positions(2, 4, 4)
    assert positions.shape == (32, 3)
    rope = OneVisionEncoderRotaryEmbedding(64, THETA)
    assert rope.half_angles(positions).shape == (32, 32)
    index = 1 * 16 + 2 * 4 + 3
    assert positions[index].tolist() == [1, 2, 3]


def test_cos_sin_are_cast_to_the_working_dtype():
    rope = OneVisionEncoderRotaryEmbedding(64, THETA)
    cos, sin = rope(torch.tensor([[[40, 30, 20]]]))
    query = torch.randn(1, 1, 1, 64, dtype=torch.bfloat16)
    rotated, _ = apply_rotary(query, query, cos, sin)
    assert rotated.dtype == torch.bfloat16
    expected = query * cos.to(torch.bfloat16).unsqueeze(1)
    expected = expected + torch.stack((-query[..., 1::2], query[..., 0::2]), -1).flatten(-2) * sin.to(
        torch.bfloat16
    ).unsqueeze(1)
    assert torch.equal(rotated, expected)


def test_identical_positions_give_identical_rows_and_frames_differ():
    rope = OneVisionEncoderRotaryEmbedding(64, THETA)
    t = torch.linspace(0, 63, 8).long()
    positions = torch.stack([t, torch.full_like(t, 5), torch.full_like(t, 6)], dim=-1)
    cos, _ = rope(torch.stack([positions, positions]))
    assert cos.shape == (2, 8, 64) and torch.isfinite(cos).all()
    assert torch.equal(cos[0], cos[1])
    assert not torch.equal(cos[0, 0], cos[0, 7])


def test_rotation_is_bit_identical_to_the_stacked_pair_formula_in_fp32():
    torch.manual_seed(1)
    rope = OneVisionEncoderRotaryEmbedding(32, THETA)
    cos, sin = rope(torch.randint(0, 64, (2, 50, 3)))
    query, key = torch.randn(2, 4, 50, 32), torch.randn(2, 4, 50, 32)
    got_q, got_k = apply_rotary(query, key, cos, sin)
    for got, x in ((got_q, query), (got_k, key)):
        partner = torch.stack((-x[..., 1::2], x[..., 0::2]), -1).flatten(-2)
        assert torch.equal(got, x * cos.unsqueeze(1) + partner * sin.unsqueeze(1))
