"""ov-vlm: codec-sparse video-language models (OneVision-Encoder -> projector -> Qwen LLM).

``import ov_vlm`` is light (no torch, no transformers). It registers the model classes with transformers' Auto
classes as soon as those are loaded, so ``AutoModel.from_pretrained(dir)`` works for OneVision-Encoder checkpoints
without ``trust_remote_code``. Model classes are importable from here or from their subpackages.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from ._registration import install as _install_registration

try:
    __version__ = version("ov-vlm")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

_install_registration()

_LAZY = {
    "OneVisionEncoderConfig": "ov_vlm.encoders",
    "OneVisionEncoderModel": "ov_vlm.encoders",
    "OVVLMConfig": "ov_vlm.model",
    "OVVLMForConditionalGeneration": "ov_vlm.model",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ov_vlm' has no attribute {name!r}")


__all__ = [
    "OVVLMConfig",
    "OVVLMForConditionalGeneration",
    "OneVisionEncoderConfig",
    "OneVisionEncoderModel",
    "__version__",
]
