"""Errors of the processing layer: one line naming the media file (or sample) and the reason."""

from __future__ import annotations

from ov_vlm.errors import OVVLMError


class MediaError(OVVLMError, ValueError):
    """An image or video cannot be turned into model inputs."""
