"""The OV-Encoder 3D RoPE, reproduced exactly (spec: ov-encoder.md §5).

Half a head (``head_dim / 2`` slots) is split t:h:w = 4:6:6. Each axis has its own inverse frequencies over its own
slot count, ``inv[i] = theta ** (-i / n_axis)``. A token at (t, h, w) gets ``F = [t*inv_t | h*inv_h | w*inv_w]`` and
the full angle vector ``phi = concat(F, F)``. The rotation pairs *adjacent* dims (2i, 2i+1) while ``phi`` stays
concatenated, so the two members of a pair use different angles: this is not an orthogonal rotation, and it is what
the published checkpoint was trained with. Angles are computed in fp32 and cast to the working dtype before use.
"""

from __future__ import annotations

import torch
from torch import nn


def axis_slot_counts(head_dim: int) -> tuple[int, int, int]:
    """Number of angle slots for t, h, w in half a head (4:6:6 of ``head_dim // 32`` units each)."""
    half = head_dim // 2
    if head_dim % 2 or half % 16:
        raise ValueError(f"head_dim must be a multiple of 32 for the 4:6:6 3D RoPE, got {head_dim}")
    unit = half // 16
    return 4 * unit, 6 * unit, 6 * unit


def axis_inv_freq(slots: int, theta: float, device: torch.device | str | None = None) -> torch.Tensor:
    """Inverse frequencies of one axis, ``theta ** (-i / slots)`` for i < slots, in fp32."""
    exponents = torch.arange(slots, dtype=torch.float32, device=device) / slots
    return 1.0 / (float(theta) ** exponents)


def swap_pairs(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (x1, x0, x3, x2, ...)."""
    return x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)


def apply_rotary(
    query: torch.Tensor, key: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the RoPE to ``query``/``key`` [B, H, N, d] with ``cos``/``sin`` [B, N, d] (fp32, cast to q's dtype).

    ``x * cos + (-x1, x0, -x3, x2, ...) * sin``, computed as ``x * cos + swap_pairs(x) * signed`` with each pair's
    sign moved onto ``sin`` (``signed = (-sin0, sin1, -sin2, ...)``): the same values bit for bit, fewer copies.
    """
    cos = cos.unsqueeze(1).to(query.dtype)
    sin = sin.unsqueeze(1).to(query.dtype)
    signed = (sin.unflatten(-1, (-1, 2)) * sin.new_tensor([-1.0, 1.0])).flatten(-2)
    return query * cos + swap_pairs(query) * signed, key * cos + swap_pairs(key) * signed


def grid_positions(t: int, h: int, w: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(t, h, w) of every cell of a T x H x W grid in token order (time-major, then row-major): int64 [t*h*w, 3]."""
    tt, hh, ww = torch.meshgrid(
        torch.arange(t, device=device), torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij"
    )
    return torch.stack((tt, hh, ww), dim=-1).reshape(-1, 3)


class OneVisionEncoderRotaryEmbedding(nn.Module):
    """Turns (t, h, w) positions into the fp32 ``cos``/``sin`` tables of the 3D RoPE.

    Inverse frequencies are recomputed from the config on demand (never stored): they are correct after
    ``from_pretrained`` on the meta device and after ``model.to(torch.bfloat16)``.
    """

    def __init__(self, head_dim: int, theta: float):
        super().__init__()
        self.head_dim = head_dim
        self.theta = float(theta)
        self.t_size, self.h_size, self.w_size = axis_slot_counts(head_dim)

    @property
    def inv_freq_t(self) -> torch.Tensor:
        return axis_inv_freq(self.t_size, self.theta)

    @property
    def inv_freq_h(self) -> torch.Tensor:
        return axis_inv_freq(self.h_size, self.theta)

    @property
    def inv_freq_w(self) -> torch.Tensor:
        return axis_inv_freq(self.w_size, self.theta)

    def half_angles(self, positions: torch.Tensor) -> torch.Tensor:
        """``F`` for positions [..., 3] (any numeric dtype): fp32 [..., head_dim // 2]."""
        if positions.shape[-1] != 3:
            raise ValueError(f"positions must end in a (t, h, w) axis of size 3, got shape {tuple(positions.shape)}")
        pos = positions.to(torch.float32)
        device = positions.device
        return torch.cat(
            (
                pos[..., 0:1] * axis_inv_freq(self.t_size, self.theta, device),
                pos[..., 1:2] * axis_inv_freq(self.h_size, self.theta, device),
                pos[..., 2:3] * axis_inv_freq(self.w_size, self.theta, device),
            ),
            dim=-1,
        )

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """fp32 ``(cos, sin)`` of ``phi = concat(F, F)``, each [..., head_dim]."""
        half = self.half_angles(positions)
        phi = torch.cat((half, half), dim=-1)
        return phi.cos(), phi.sin()

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, theta={self.theta}, slots(t,h,w)=({self.t_size},{self.h_size},{self.w_size})"
