"""Errors of the codec layer: always one line that names the video and the reason."""

from __future__ import annotations

from ov_vlm.media.errors import VideoError

# A video that cannot be turned into a codec selection fails for the same reasons as one that cannot be read at
# all (missing, empty, not a video, undecodable), so the codec layer raises the media layer's error under its
# historical name: ``except CodecError`` and ``except VideoError`` catch the same failures.
CodecError = VideoError

__all__ = ["CodecError"]
