"""Configuration of the ov-vlm model: a vision encoder, a projector and a causal LM, each from its own config."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from ov_vlm.encoders import available_encoders, get_encoder

from .projector import available_projectors

QWEN_IMAGE_PAD, QWEN_VIDEO_PAD = 151655, 151656


@strict
class OVVLMConfig(PreTrainedConfig):
    r"""LLaVA-style VLM: ``vision_encoder`` (a registered encoder name, e.g. ``"onevision"``, ``"siglip2"``,
    ``"qwen3_vit"``) -> ``projector_type`` -> the causal LM of ``text_config`` (Qwen3, Qwen2/2.5, ...).

    Args:
        vision_config: config of the vision tower (its ``model_type`` must match ``vision_encoder``).
        text_config: config of the causal LM (any transformers causal LM type).
        vision_encoder: registry name of the vision encoder adapter.
        vision_feature_layer: hidden-state index the features come from (-2: the paper's VLM).
        projector_type: registry name of the projector (``mlp2x_gelu``, ``spatial_merge_2x2``).
        projector_hidden_act: activation inside the projector.
        image_token_id, video_token_id: placeholder token ids whose positions receive visual features.
    """

    model_type = "ov_vlm"
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="onevision_encoder"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen3"),
    }

    vision_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    vision_encoder: str = "onevision"
    vision_feature_layer: int = -2
    projector_type: str = "mlp2x_gelu"
    projector_hidden_act: str = "gelu"
    image_token_id: int = QWEN_IMAGE_PAD
    video_token_id: int = QWEN_VIDEO_PAD
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.text_config.tie_word_embeddings:
            self.tie_word_embeddings = True

    def validate_architecture(self):
        """The encoder and projector names must be registered, and the vision config must fit the encoder."""
        super().validate_architecture()
        if self.vision_encoder not in available_encoders():
            raise ValueError(f"unknown vision_encoder {self.vision_encoder!r}; available: {available_encoders()}")
        expected = get_encoder(self.vision_encoder).config_class
        if not isinstance(self.vision_config, expected):
            raise ValueError(
                f"vision_encoder {self.vision_encoder!r} needs a {expected.__name__} vision_config, "
                f"got {type(self.vision_config).__name__}"
            )
        if self.projector_type not in available_projectors():
            raise ValueError(f"unknown projector_type {self.projector_type!r}; available: {available_projectors()}")
