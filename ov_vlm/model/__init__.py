"""The ov-vlm model: config, projectors and `OVVLMForConditionalGeneration`."""

from .configuration_ov_vlm import OVVLMConfig
from .modeling_ov_vlm import OVVLMForConditionalGeneration, OVVLMPreTrainedModel
from .projector import PROJECTORS, available_projectors, build_projector, projector_merge

__all__ = [
    "PROJECTORS",
    "OVVLMConfig",
    "OVVLMForConditionalGeneration",
    "OVVLMPreTrainedModel",
    "available_projectors",
    "build_projector",
    "projector_merge",
]
