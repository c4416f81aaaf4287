"""Vision encoders behind one interface (`VisionEncoder`), chosen by name through a registry.

(Registration with transformers' Auto classes happens in ``ov_vlm._registration``.)
"""

from .base import VisionEncoder, VisualFeatures, available_encoders, get_encoder, register_encoder
from .onevision import (
    OneVisionEncoderConfig,
    OneVisionEncoderModel,
    OneVisionEncoderOutput,
    OneVisionEncoderPreTrainedModel,
)
from .onevision.adapter import OneVisionEncoderAdapter
from .qwen3_vit import Qwen3ViTAdapter
from .siglip2 import Siglip2Adapter

register_encoder(OneVisionEncoderAdapter())
register_encoder(Siglip2Adapter())
register_encoder(Qwen3ViTAdapter())

__all__ = [
    "OneVisionEncoderAdapter",
    "OneVisionEncoderConfig",
    "OneVisionEncoderModel",
    "OneVisionEncoderOutput",
    "OneVisionEncoderPreTrainedModel",
    "Qwen3ViTAdapter",
    "Siglip2Adapter",
    "VisionEncoder",
    "VisualFeatures",
    "available_encoders",
    "get_encoder",
    "register_encoder",
]
