"""Configuration of the OneVision-Encoder (field names and defaults match the published ``config.json``)."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

LAYER_NORM_TYPES = ("layer_norm", "rms_norm")


@strict
class OneVisionEncoderConfig(PreTrainedConfig):
    r"""Configuration for [`OneVisionEncoderModel`], a ViT with a shared 3D (t, h, w) RoPE.

    The defaults describe OV-Encoder-large (`lmms-lab-encoder/onevision-encoder-large`).

    Args:
        hidden_size: width D of every block.
        intermediate_size: MLP width (blocks and pooling head).
        num_hidden_layers: number of pre-LN transformer blocks.
        num_attention_heads: heads per block; ``hidden_size / num_attention_heads`` must be a multiple of 32
            (the 3D RoPE splits half a head 4:6:6 over t, h, w in units of ``head_dim // 32``).
        num_channels: input channels.
        image_size: informational only (the forward pass accepts any size).
        patch_size: Conv2d kernel and stride.
        hidden_act: activation of the MLPs (exact erf GELU by default).
        layer_norm_eps: epsilon of every norm, including the pooling head's RMSNorm.
        layer_norm_type: ``"layer_norm"`` (weight + bias) or ``"rms_norm"`` (weight only).
        attention_dropout: dropout on attention probabilities (training only).
        initializer_range: std of the normal init of Linear/Conv weights.
        rope_theta: RoPE base.
        rope_temporal_size: temporal size of the virtual RoPE grid used for 5-D input without ``patch_positions``;
            ``None`` uses the real frame count.
        use_head: adds ``layernorm_post`` and the attention-pooling head.
    """

    model_type = "onevision_encoder"

    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    num_channels: int = 3
    image_size: int = 448
    patch_size: int = 14
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-6
    layer_norm_type: str = "layer_norm"
    attention_dropout: float | int = 0.0
    initializer_range: float = 0.02
    rope_theta: float | int = 10000.0
    rope_temporal_size: int | None = 64
    use_head: bool = True

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def validate_architecture(self):
        """Reject shapes the 3D RoPE or the layers cannot represent."""
        super().validate_architecture()
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.head_dim % 32 != 0:
            raise ValueError(
                f"head_dim = hidden_size / num_attention_heads = {self.head_dim} must be a multiple of 32: "
                "the 3D RoPE splits head_dim/2 into t:h:w = 4:6:6 units"
            )
        if self.layer_norm_type not in LAYER_NORM_TYPES:
            raise ValueError(f"layer_norm_type must be one of {LAYER_NORM_TYPES}, got {self.layer_norm_type!r}")
        if self.patch_size <= 0:
            raise ValueError(f"patch_size must be positive, got {self.patch_size}")
        if self.rope_temporal_size is not None and self.rope_temporal_size <= 0:
            raise ValueError(f"rope_temporal_size must be positive or None, got {self.rope_temporal_size}")
