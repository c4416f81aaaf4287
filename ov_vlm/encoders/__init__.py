"""Vision encoders behind one interface (`VisionEncoder`), chosen by name through a registry.

(Registration with transformers' Auto classes happens in ``ov_vlm._registration`` when the package is imported.)
"""

from .base import VisionEncoder, VisualFeatures, available_encoders, get_encoder, register_encoder
from .onevision import (
    OneVisionEncoderConfig,
    OneVisionEncoderModel,
    OneVisionEncoderOutput,
    OneVisionEncoderPreTrainedModel,
)
from .onevision.adapter import OneVisionEncoderAdapter

register_encoder(OneVisionEncoderAdapter())

from ov_vlm._registration import flush as _flush_registration  # noqa: E402

_flush_registration(finishing=__name__)  # Auto-class registration that waited for this package to load

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
