"""Vision encoders behind one interface (`VisionEncoder`), chosen by name through a registry.

Importing this package registers the OneVision-Encoder with transformers' Auto classes, so
``AutoModel.from_pretrained(dir)`` loads a published checkpoint without ``trust_remote_code``.
"""

from transformers import AutoConfig, AutoModel

from .base import VisionEncoder, VisualFeatures, available_encoders, get_encoder, register_encoder
from .onevision import (
    OneVisionEncoderConfig,
    OneVisionEncoderModel,
    OneVisionEncoderOutput,
    OneVisionEncoderPreTrainedModel,
)
from .onevision.adapter import OneVisionEncoderAdapter

AutoConfig.register(OneVisionEncoderConfig.model_type, OneVisionEncoderConfig, exist_ok=True)
AutoModel.register(OneVisionEncoderConfig, OneVisionEncoderModel, exist_ok=True)
register_encoder(OneVisionEncoderAdapter())

__all__ = [
    "OneVisionEncoderAdapter",
    "OneVisionEncoderConfig",
    "OneVisionEncoderModel",
    "OneVisionEncoderOutput",
    "OneVisionEncoderPreTrainedModel",
    "VisionEncoder",
    "VisualFeatures",
    "available_encoders",
    "get_encoder",
    "register_encoder",
]
