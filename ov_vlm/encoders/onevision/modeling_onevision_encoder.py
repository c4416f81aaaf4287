"""OneVision-Encoder as a native transformers 5.x model (spec: ov-encoder.md).

State-dict keys, token order, outputs and the 3D RoPE match the published checkpoints. Beyond the reference:
samples with different token counts run in one call (a list of inputs, or a padded batch with ``attention_mask``),
giving the same per-sample outputs as running each alone; attention runs through transformers' attention interface
(``sdpa`` by default, ``eager``, ``flash_attention_2``); loading is strict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import logging

from ov_vlm.utils.loading import StrictLoadingMixin
from ov_vlm.utils.tensors import pad_packed

from .configuration_onevision_encoder import OneVisionEncoderConfig
from .rope import OneVisionEncoderRotaryEmbedding, apply_rotary

logger = logging.get_logger(__name__)

PixelInput = torch.Tensor | Sequence[torch.Tensor]
OptionalPerSample = torch.Tensor | Sequence[torch.Tensor | None] | None


@dataclass
class OneVisionEncoderOutput(BaseModelOutputWithPooling):
    """`BaseModelOutputWithPooling` plus the token mask of a variable-length batch.

    attention_mask (`torch.BoolTensor` of shape `(batch_size, num_tokens)`, *optional*):
        True for real tokens, False for padding. Set when the batch was variable-length (a list input or an
        ``attention_mask`` argument); padded rows of ``last_hidden_state`` and ``hidden_states`` are zero.
    """

    attention_mask: torch.Tensor | None = None


def _norm(config: OneVisionEncoderConfig) -> nn.Module:
    if config.layer_norm_type == "rms_norm":
        return nn.RMSNorm(config.hidden_size, eps=config.layer_norm_eps)
    return nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain attention; softmax in fp32. Returns ([B, N, H, d], weights [B, H, N, N])."""
    weights = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            weights = weights.masked_fill(~attention_mask, torch.finfo(weights.dtype).min)
        else:
            weights = weights + attention_mask
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


class OneVisionEncoderEmbeddings(nn.Module):
    """Conv2d patch embedding (kernel = stride = patch, no bias); frames are folded into the batch."""

    def __init__(self, config: OneVisionEncoderConfig):
        super().__init__()
        self.patch_size = config.patch_size
        self.embed_dim = config.hidden_size
        self.patch_embedding = nn.Conv2d(
            config.num_channels, config.hidden_size, kernel_size=config.patch_size, stride=config.patch_size, bias=False
        )

    def forward(self, pixel_values: PixelInput) -> torch.Tensor:
        """[B, C, H, W] or [B, C, T, H, W] -> [B, T*Hp*Wp, D], time-major then row-major.

        A list of `[C, H, W]` / `[C, T, H, W]` samples of any sizes -> their tokens packed, `[sum T*Hp*Wp, D]`, from
        one convolution over all their patches. The module then runs once and returns one tensor whatever the
        inputs, so ZeRO-3 gathers its weight the same number of times on every rank.
        """
        if not isinstance(pixel_values, torch.Tensor):
            patches = torch.cat([self._patches(pixels) for pixels in pixel_values])
            return self.patch_embedding(patches.to(self.patch_embedding.weight.dtype)).flatten(1)
        if pixel_values.dim() == 4:
            pixel_values = pixel_values.unsqueeze(2)
        batch, channels, frames, height, width = pixel_values.shape
        frames_2d = pixel_values.transpose(1, 2).reshape(batch * frames, channels, height, width)
        frames_2d = frames_2d.to(self.patch_embedding.weight.dtype)
        patches = self.patch_embedding(frames_2d).flatten(2).transpose(1, 2)  # [B*T, Hp*Wp, D]
        return patches.reshape(batch, -1, self.embed_dim)

    def _patches(self, pixels: torch.Tensor) -> torch.Tensor:
        """[C, H, W] or [C, T, H, W] -> [T*Hp*Wp, C, p, p] in token order (partial edge patches dropped)."""
        if pixels.dim() == 3:
            pixels = pixels.unsqueeze(1)
        channels, frames, height, width = pixels.shape
        p = self.patch_size
        rows, cols = height // p, width // p
        grid = pixels[:, :, : rows * p, : cols * p].reshape(channels, frames, rows, p, cols, p)
        return grid.permute(1, 2, 4, 0, 3, 5).reshape(frames * rows * cols, channels, p, p)


class OneVisionEncoderAttention(nn.Module):
    """Multi-head self-attention with the 3D RoPE on q and k; non-causal; separate q/k/v/out projections."""

    def __init__(self, config: OneVisionEncoderConfig):
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = False
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def forward(
        self,
        hidden_states: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, _ = hidden_states.shape
        shape = (batch, length, self.num_heads, self.head_dim)
        query = self.q_proj(hidden_states).view(shape).transpose(1, 2)
        key = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        value = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        query, key = apply_rotary(query, key, cos, sin)

        implementation = self.config._attn_implementation
        attention: Callable = eager_attention_forward  # also whenever weights are requested: only eager has them
        if implementation not in (None, "eager") and not output_attentions:
            attention = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        output, weights = attention(
            self,
            query,
            key,
            value,
            attention_mask,
            scaling=self.scale,
            dropout=self.dropout if self.training else 0.0,
            is_causal=False,
        )
        output = self.out_proj(output.reshape(batch, length, self.embed_dim))
        return output, weights if output_attentions else None


class OneVisionEncoderMLP(nn.Module):
    def __init__(self, config: OneVisionEncoderConfig):
        super().__init__()
        self.activation_fn = ACT2FN[config.hidden_act]
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class OneVisionEncoderEncoderLayer(GradientCheckpointingLayer):
    """Pre-LN block: x + Attn(LN1(x)), then x + MLP(LN2(x))."""

    def __init__(self, config: OneVisionEncoderConfig):
        super().__init__()
        self.self_attn = OneVisionEncoderAttention(config)
        self.layer_norm1 = _norm(config)
        self.mlp = OneVisionEncoderMLP(config)
        self.layer_norm2 = _norm(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_out, weights = self.self_attn(self.layer_norm1(hidden_states), cos, sin, attention_mask, output_attentions)
        hidden_states = hidden_states + attn_out
        hidden_states = hidden_states + self.mlp(self.layer_norm2(hidden_states))
        return hidden_states, weights


class OneVisionEncoderEncoder(nn.Module):
    def __init__(self, config: OneVisionEncoderConfig):
        super().__init__()
        self.layers = nn.ModuleList([OneVisionEncoderEncoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.gradient_checkpointing = False


class OneVisionEncoderPoolingHead(nn.Module):
    """Attention pooling with a learned probe (PMA style): out = a + MLP(RMSNorm(a)), a = MHA(probe, x, x)."""

    def __init__(self, config: OneVisionEncoderConfig):
        super().__init__()
        self.probe = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.attention = nn.MultiheadAttention(config.hidden_size, config.num_attention_heads, batch_first=True)
        self.norm = nn.RMSNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = OneVisionEncoderMLP(config)

    def forward(self, hidden_states: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        probe = self.probe.expand(hidden_states.shape[0], -1, -1).to(hidden_states.dtype)
        padding = None if token_mask is None else ~token_mask
        pooled, _ = self.attention(probe, hidden_states, hidden_states, key_padding_mask=padding, need_weights=False)
        pooled = pooled + self.mlp(self.norm(pooled))
        return pooled[:, 0]


class OneVisionEncoderPreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config: OneVisionEncoderConfig
    config_class = OneVisionEncoderConfig
    base_model_prefix = "onevision_encoder"
    main_input_name = "pixel_values"
    input_modalities = ("image", "video")
    supports_gradient_checkpointing = True
    _no_split_modules = ["OneVisionEncoderEncoderLayer"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = False
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, OneVisionEncoderPoolingHead):
            init.normal_(module.probe, std=self.config.initializer_range)

    @classmethod
    def loading_hint(cls, info: dict) -> str:
        keys = set(info.get("missing_keys", ())) | set(info.get("unexpected_keys", ()))
        if any(k.startswith(("head.", "layernorm_post.")) for k in keys):
            return "hint: check `use_head` in config.json: the `-lang` checkpoint has no head"
        return ""


class OneVisionEncoderModel(OneVisionEncoderPreTrainedModel):
    """The OneVision-Encoder vision tower: patch embedding, pre-norm, L RoPE blocks, optional post-norm + pooling.

    Inputs (see `forward`): a batched tensor `[B, 3, H, W]` / `[B, 3, T, H, W]` as in the published code, or a list
    of per-sample tensors `[3, H, W]` / `[3, T, H, W]` of different sizes, which runs as one padded batch.
    """

    def __init__(self, config: OneVisionEncoderConfig):
        super().__init__(config)
        self.embeddings = OneVisionEncoderEmbeddings(config)
        self.layernorm_pre = _norm(config)
        self.encoder = OneVisionEncoderEncoder(config)
        self.video_rope = OneVisionEncoderRotaryEmbedding(config.head_dim, config.rope_theta)
        if config.use_head:
            self.layernorm_post = _norm(config)
            self.head = OneVisionEncoderPoolingHead(config)
        else:
            self.layernorm_post = None
            self.head = None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    # ------------------------------------------------------------------ inputs -> (tokens, positions, mask)

    def _check_pixels(self, pixel_values: torch.Tensor) -> None:
        """Shape checks of one uniformly shaped batch `[B, C, H, W]` / `[B, C, T, H, W]`."""
        config = self.config
        if pixel_values.dim() not in (4, 5):
            raise ValueError(
                "pixel_values must be [B, C, H, W] (images) or [B, C, T, H, W] (video), "
                f"got shape {tuple(pixel_values.shape)}"
            )
        if pixel_values.shape[1] != config.num_channels:
            raise ValueError(
                f"pixel_values has {pixel_values.shape[1]} channels at dim 1, the model expects {config.num_channels} "
                f"(shape {tuple(pixel_values.shape)}; video is [B, C, T, H, W])"
            )
        if pixel_values.shape[-2] < config.patch_size or pixel_values.shape[-1] < config.patch_size:
            raise ValueError(
                f"image of {pixel_values.shape[-2]}x{pixel_values.shape[-1]} px is smaller than one "
                f"{config.patch_size}x{config.patch_size} patch"
            )

    def _place_tokens(
        self,
        tokens: torch.Tensor,
        shape: torch.Size,
        patch_positions: torch.Tensor | None,
        visible_indices: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather the embedded, pre-normed tokens [B, N, D] of a batch of pixel ``shape`` and give them their
        positions; return (tokens [B,N,D], positions [B,N,3])."""
        config = self.config
        is_video = len(shape) == 5
        frames = shape[2] if is_video else 1
        grid_h = shape[-2] // config.patch_size
        grid_w = shape[-1] // config.patch_size
        batch, total, _ = tokens.shape
        device = tokens.device

        if visible_indices is not None:
            visible_indices = _per_batch(visible_indices, batch, "visible_indices", trailing_dims=0).to(device).long()
            if visible_indices.shape[1] != total:
                if visible_indices.numel() and (visible_indices.min() < 0 or visible_indices.max() >= total):
                    raise ValueError(
                        f"visible_indices select tokens by index, but values must lie in [0, {total}) "
                        f"(the input has {total} patches); got range [{int(visible_indices.min())}, "
                        f"{int(visible_indices.max())}]"
                    )
                tokens = tokens.gather(1, visible_indices.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        length = tokens.shape[1]

        if patch_positions is not None:
            positions = _per_batch(patch_positions, batch, "patch_positions", trailing_dims=1).to(device)
            if positions.shape[1:] != (length, 3):
                raise ValueError(
                    f"patch_positions must be [B, {length}, 3] (one (t, h, w) row per token), "
                    f"got {tuple(positions.shape)}"
                )
            return tokens, positions

        temporal = (config.rope_temporal_size or frames) if is_video else 1
        grid_size = temporal * grid_h * grid_w
        rows = visible_indices if visible_indices is not None else torch.arange(length, device=device).expand(batch, -1)
        if rows.numel() and (rows.min() < 0 or rows.max() >= grid_size):
            raise ValueError(
                f"without patch_positions, tokens take their RoPE position from a {temporal}x{grid_h}x{grid_w} grid "
                f"(rope_temporal_size={config.rope_temporal_size}), but row {int(rows.max())} was requested"
                + (f" ({frames} frames > {temporal} temporal slots)" if is_video and frames > temporal else "")
                + ": pass patch_positions [B, N, 3], or use rope_temporal_size=None to use the real frame count"
            )
        plane = grid_h * grid_w
        positions = torch.stack((rows // plane, (rows % plane) // grid_w, rows % grid_w), dim=-1)
        return tokens, positions

    def _prepare_inputs(
        self,
        pixel_values: PixelInput,
        patch_positions: OptionalPerSample,
        visible_indices: OptionalPerSample,
        attention_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return (tokens [B,N,D], positions [B,N,3], token_mask [B,N] or None)."""
        if isinstance(pixel_values, torch.Tensor):
            self._check_pixels(pixel_values)
            tokens = self.layernorm_pre(self.embeddings(pixel_values))
            tokens, positions = self._place_tokens(tokens, pixel_values.shape, patch_positions, visible_indices)
            mask = None
            if attention_mask is not None:
                mask = attention_mask.to(device=tokens.device, dtype=torch.bool)
                if mask.shape != tokens.shape[:2]:
                    raise ValueError(
                        f"attention_mask must be [B, N] = {tuple(tokens.shape[:2])}, got {tuple(mask.shape)}"
                    )
                if not mask.any(dim=1).all():
                    raise ValueError("attention_mask has a sample with no real token")
            return tokens, positions, mask

        if attention_mask is not None:
            raise ValueError("attention_mask is built automatically for a list of samples; do not pass one")
        samples = list(pixel_values)
        if not samples:
            raise ValueError("pixel_values is an empty list")
        positions_list = _per_sample(patch_positions, len(samples), "patch_positions")
        indices_list = _per_sample(visible_indices, len(samples), "visible_indices")
        for i, pixels in enumerate(samples):
            if pixels.dim() not in (3, 4):
                raise ValueError(
                    f"sample {i}: list entries must be [C, H, W] or [C, T, H, W], got {tuple(pixels.shape)}"
                )
            try:
                self._check_pixels(pixels.unsqueeze(0))
            except ValueError as error:
                raise ValueError(f"sample {i}: {error}") from None
        # every sample through the embedding and the pre-norm in one call each (the same module calls on all ranks)
        counts = [
            (p.shape[1] if p.dim() == 4 else 1)
            * (p.shape[-2] // self.config.patch_size)
            * (p.shape[-1] // self.config.patch_size)
            for p in samples
        ]
        normed = self.layernorm_pre(self.embeddings(samples)).split(counts)
        placed = []
        for i, (pixels, tokens, pos, idx) in enumerate(zip(samples, normed, positions_list, indices_list, strict=True)):
            try:
                placed.append(
                    self._place_tokens(
                        tokens.unsqueeze(0),
                        pixels.unsqueeze(0).shape,
                        None if pos is None else pos.unsqueeze(0),
                        None if idx is None else idx.unsqueeze(0),
                    )
                )
            except ValueError as error:
                raise ValueError(f"sample {i}: {error}") from None
        return _pad_samples(placed)

    # ------------------------------------------------------------------ blocks

    def _run(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        token_mask: torch.Tensor | None,
        num_layers: int,
        output_hidden_states: bool,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None, tuple[torch.Tensor, ...] | None]:
        cos, sin = self.video_rope(positions)
        attn_mask = None
        if token_mask is not None and not bool(token_mask.all()):
            attn_mask = create_bidirectional_mask(config=self.config, inputs_embeds=tokens, attention_mask=token_mask)
        keep = None if token_mask is None else token_mask.unsqueeze(-1).to(tokens.dtype)

        hidden = tokens
        all_hidden = [hidden if keep is None else hidden * keep] if output_hidden_states else None
        all_attn = [] if output_attentions else None
        for layer in self.encoder.layers[:num_layers]:
            hidden, weights = layer(hidden, cos, sin, attn_mask, output_attentions)
            if all_hidden is not None:
                all_hidden.append(hidden if keep is None else hidden * keep)
            if all_attn is not None:
                all_attn.append(weights)
        return (
            hidden,
            None if all_hidden is None else tuple(all_hidden),
            None if all_attn is None else tuple(all_attn),
        )

    def forward(
        self,
        pixel_values: PixelInput,
        patch_positions: OptionalPerSample = None,
        visible_indices: OptionalPerSample = None,
        *,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> OneVisionEncoderOutput | tuple:
        r"""
        Args:
            pixel_values: `[B, C, H, W]` images, `[B, C, T, H, W]` video, or a list of per-sample `[C, H, W]` /
                `[C, T, H, W]` tensors of different sizes (run as one padded batch).
            patch_positions: `[B, N, 3]` (or a list of `[N_i, 3]`) integer (t, h, w) RoPE position of every token.
                Without it, positions come from a dense T_grid x Hp x Wp grid (T_grid = 1 for images,
                `config.rope_temporal_size` for video), indexed by `visible_indices` or by token order.
            visible_indices: `[B, K]` (or a list of `[K_i]`). Selects RoPE rows of that grid and, when K differs
                from the number of patches, gathers those tokens (after the pre-norm).
            attention_mask: `[B, N]`, True/1 for real tokens, for a padded tensor batch.

        Returns:
            `OneVisionEncoderOutput`: `last_hidden_state` (post-normed when `use_head`), `pooler_output` (None
            without head), `hidden_states` (L+1 entries: the pre-normed block-0 input, then every block's output;
            none post-normed), `attentions` (eager only), `attention_mask` (variable-length batches).
        """
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        return_dict = config.return_dict if return_dict is None else return_dict

        tokens, positions, token_mask = self._prepare_inputs(
            pixel_values, patch_positions, visible_indices, attention_mask
        )
        hidden, all_hidden, all_attn = self._run(
            tokens, positions, token_mask, config.num_hidden_layers, output_hidden_states, output_attentions
        )
        pooled = None
        if self.layernorm_post is not None:
            hidden = self.layernorm_post(hidden)
            pooled = self.head(hidden, token_mask)
        if token_mask is not None:
            hidden = hidden * token_mask.unsqueeze(-1).to(hidden.dtype)

        if not return_dict:
            extras = tuple(x for x in (all_hidden, all_attn, token_mask) if x is not None)
            return (hidden, pooled, *extras)
        return OneVisionEncoderOutput(
            last_hidden_state=hidden,
            pooler_output=pooled,
            hidden_states=all_hidden,
            attentions=all_attn,
            attention_mask=token_mask,
        )

    def get_visual_features(
        self,
        pixel_values: Sequence[torch.Tensor],
        positions: Sequence[torch.Tensor | None],
        layer: int = -2,
    ) -> tuple[torch.Tensor, list[int]]:
        """Per-token features of several visuals from one layer, packed: ([sum N_i, D], [N_1, N_2, ...]).

        ``pixel_values[i]`` is `[C, H, W]` or `[C, T, H, W]`; ``positions[i]`` is `[N_i, 3]` (t, h, w) for the first
        N_i patches in token order (N_i may be smaller than the patch count, e.g. a partly filled last mosaic), or
        None for the dense grid. ``layer`` indexes ``hidden_states`` (-2: output of the second-to-last block, the
        paper's VLM feature); only the blocks up to it are run.
        """
        num_states = self.config.num_hidden_layers + 1
        index = layer + num_states if layer < 0 else layer
        if not 0 <= index < num_states:
            raise ValueError(f"layer {layer} is out of range for {num_states} hidden states")
        pixel_values = list(pixel_values)
        positions = list(positions)
        if len(positions) != len(pixel_values):
            raise ValueError(f"got {len(pixel_values)} pixel tensors but {len(positions)} position entries")
        indices = [None if pos is None else torch.arange(pos.shape[0], device=pos.device) for pos in positions]
        tokens, places, token_mask = self._prepare_inputs(pixel_values, positions, indices, None)
        hidden, _, _ = self._run(tokens, places, token_mask, index, False, False)
        lengths = [int(n) for n in token_mask.sum(dim=1).tolist()]
        return hidden[token_mask], lengths


# ---------------------------------------------------------------------- helpers


def _per_batch(value: torch.Tensor, batch: int, name: str, trailing_dims: int) -> torch.Tensor:
    """Accept [N, ...] (shared by the batch) or [B, N, ...]; return [B, N, ...]."""
    value = torch.as_tensor(value)
    if value.dim() == 1 + trailing_dims:
        return value.unsqueeze(0).expand(batch, *value.shape)
    if value.dim() != 2 + trailing_dims or value.shape[0] != batch:
        raise ValueError(f"{name} must have batch size {batch}, got shape {tuple(value.shape)}")
    return value


def _per_sample(value: OptionalPerSample, count: int, name: str) -> list[torch.Tensor | None]:
    if value is None:
        return [None] * count
    if isinstance(value, torch.Tensor):
        if value.shape[0] != count:
            raise ValueError(f"{name} has {value.shape[0]} entries for {count} samples")
        return list(value.unbind(0))
    value = list(value)
    if len(value) != count:
        raise ValueError(f"{name} has {len(value)} entries for {count} samples")
    return value


def _pad_samples(placed: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack per-sample (tokens [1,N_i,D], positions [1,N_i,3]) into zero-padded tensors plus a token mask
    (`pad_packed`: one scatter each, so the backward does not copy the batch's gradient once per sample)."""
    lengths = [tokens.shape[1] for tokens, _ in placed]
    dtype = placed[0][1].dtype
    tokens, mask = pad_packed(torch.cat([sample_tokens[0] for sample_tokens, _ in placed]), lengths)
    positions, _ = pad_packed(torch.cat([p[0].to(dtype) for _, p in placed]), lengths)
    return tokens, positions, mask
