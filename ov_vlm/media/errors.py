"""The media layer's error: always one line that names the file and the reason."""

from __future__ import annotations

from pathlib import Path

from ov_vlm.errors import OVVLMError


class VideoError(OVVLMError, ValueError):
    """A video cannot be opened, decoded or transcoded (missing, empty, not a video, undecodable, ...)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # always a single line
        super().__init__(f"{self.path}: {self.reason}")
