"""Turning media into model inputs: images (here), videos and chat prompts (later)."""

from .image import CLIP_MEAN, CLIP_STD, ImageLoadError, ImagePreprocessor, load_image

__all__ = ["CLIP_MEAN", "CLIP_STD", "ImageLoadError", "ImagePreprocessor", "load_image"]
