"""Errors of the codec layer: always one line that names the video and the reason."""

from __future__ import annotations

from pathlib import Path

from ov_vlm.errors import OVVLMError


class CodecError(OVVLMError, ValueError):
    """A video cannot be turned into a codec selection (missing, empty, not a video, undecodable, ...)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # always a single line
        super().__init__(f"{self.path}: {self.reason}")
