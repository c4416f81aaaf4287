"""OneVision-Encoder: config, model, 3D RoPE and the VLM adapter."""

from .configuration_onevision_encoder import OneVisionEncoderConfig
from .modeling_onevision_encoder import (
    OneVisionEncoderModel,
    OneVisionEncoderOutput,
    OneVisionEncoderPreTrainedModel,
)

__all__ = [
    "OneVisionEncoderConfig",
    "OneVisionEncoderModel",
    "OneVisionEncoderOutput",
    "OneVisionEncoderPreTrainedModel",
]
