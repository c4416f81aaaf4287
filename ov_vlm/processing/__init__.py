"""Turning media and conversations into model inputs: images, videos (frames or codec), chat prompts, labels."""

from .chat import CHAT_TEMPLATE, ConversationError, from_llava, normalize_messages, render_segments, resolve_media
from .errors import MediaError
from .image import CLIP_MEAN, CLIP_STD, ImageLoadError, ImagePreprocessor, load_image
from .processor import IGNORE_INDEX, Encoded, OVVLMProcessor
from .visual import Visual, VisualSpec, image_visual, video_visual

__all__ = [
    "CHAT_TEMPLATE",
    "CLIP_MEAN",
    "CLIP_STD",
    "IGNORE_INDEX",
    "ConversationError",
    "Encoded",
    "ImageLoadError",
    "ImagePreprocessor",
    "MediaError",
    "OVVLMProcessor",
    "Visual",
    "VisualSpec",
    "from_llava",
    "image_visual",
    "load_image",
    "normalize_messages",
    "render_segments",
    "resolve_media",
    "video_visual",
]
