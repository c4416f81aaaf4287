"""ov-vlm: codec-sparse video-language models (OneVision-Encoder -> projector -> Qwen LLM).

Importing the package registers its model classes with transformers' Auto classes, so that
``AutoModel.from_pretrained(dir)`` works for OneVision-Encoder checkpoints without ``trust_remote_code``.
"""

from importlib.metadata import PackageNotFoundError, version

from . import encoders  # registers the Auto classes
from .encoders import OneVisionEncoderConfig, OneVisionEncoderModel

try:
    __version__ = version("ov-vlm")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["OneVisionEncoderConfig", "OneVisionEncoderModel", "__version__", "encoders"]
